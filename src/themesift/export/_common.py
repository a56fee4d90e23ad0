"""What every export needs: one read of the study, and a file written all or nothing.

``study_view`` reads a study once into plain tables (optionally pseudonymised), so the QDPX
file, the code sheet and the report all show the same coding. ``atomic_output`` (from
:mod:`themesift._io`) is the one way an export writes its file: refuse to overwrite unless
asked, write a temporary file beside the target, and move it into place only when complete.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._io import atomic_output, check_output, key_path
from ..errors import InputError
from ..model import NONE_THEME, Framework, StudyView, in_place
from ..text import counted

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    import pandas as pd

    from ..study import Study

__all__ = ["StudyView", "study_view", "atomic_output", "opened_study", "key_path",
           "check_output", "code_decisions"]


@contextmanager
def opened_study(study: Study | str | os.PathLike[str]) -> Iterator[Study]:
    """The study; one opened here from a path (which must hold a study) is closed afterwards."""
    from ..study import Study, store_file

    if isinstance(study, Study):
        yield study
        return
    path = Path(study)
    if not store_file(path).is_file():
        raise InputError("There is no study here", path=path,
                         fix="Give the folder (or study.sqlite file) that 'themesift run "
                             "--study' created")
    opened = Study.open(path)
    try:
        yield opened
    finally:
        opened.close()


def study_view(study: Study | StudyView | str | os.PathLike[str], *, run_id: str | None = None,
               pseudonymise: bool = False) -> StudyView:
    """Read what the exports need from a study (its latest complete run by default).

    A StudyView passes through unchanged (``run_id`` and ``pseudonymise`` are then its own).

    Raises
    ------
    InputError
        If the study has no complete run (an empty study has nothing to export).
    """
    import pandas as pd

    if isinstance(study, StudyView):
        return study
    with opened_study(study) as opened:
        run = opened.load_run(run_id)
        latest = opened.latest_run_id()
        framework = opened.framework(run.id)
        transcripts = opened.transcripts[["doc_id", "path", "format", "text"]]
        units = opened.units
        coded = opened.coding()
        coding = coded.merge(units.drop(columns=["doc_id"]), on="unit_id", how="left")
        # The run's transcripts, as they are now: a coded unit whose words changed, or whose
        # transcript the run did not read, has no place in them.
        transcripts = transcripts[transcripts["doc_id"].isin(set(run.units["doc_id"]))]
        coding = _in_place(coding, transcripts, opened.path)
        framework = _with_earlier_themes(opened, framework, set(coding["theme_id"]))
        decisions = opened.decisions
        decided_suggestions = opened.decided_suggestions()
        # a code decided in another run is shown with that run's label and keywords
        code_runs = sorted({sid.split(":")[1] for sid in decisions["suggestion_id"]
                            if sid.startswith("code:")} - {run.id})
        decided_codes = pd.concat([run.codes.assign(run_id=run.id)] + [
            opened.load_run(r).codes.assign(run_id=r) for r in code_runs], ignore_index=True)
        units_suggested = run.suggestions[run.suggestions["level"] == "unit"]
        settled = opened.settled_units(dict(zip(units_suggested["item_id"],
                                                units_suggested["theme_id"])))
        carried = _carried_codes(opened, run, coded, decisions)  # as the review sheet does
    pending = units_suggested[~units_suggested["item_id"].isin(settled)]
    pending = pending.rename(columns={"item_id": "unit_id"}).drop(columns=["level"])
    if run.id != latest:  # an earlier run's units may have been edited since
        where = units[["unit_id", *(c for c in ("doc_id", "start", "end", "text")
                                    if c not in pending.columns)]]
        pending = _in_place(pending.merge(where, on="unit_id", how="left"), transcripts,
                            opened.path, coded=False)[pending.columns]
    view = StudyView(str(opened.path), run.id, framework, transcripts, units, run.codes,
                     run.assignments, run.suggestions, coding, decisions,
                     pending.reset_index(drop=True), run.manifest,
                     decided_suggestions=decided_suggestions, decided_codes=decided_codes,
                     carried_codes=carried)
    if pseudonymise:
        from ..pseudonymise import pseudonymise as make_pseudonyms

        view = make_pseudonyms(view)
    return view


def _carried_codes(study: Study, run: Any, coding: Any, decisions: Any) -> dict[str, str]:
    """The run's codes that no decision names but decisions on earlier runs answered (see
    :attr:`StudyView.carried_codes`): a re-run finds the groups decided before under new ids."""
    from ..review.sheet import codes_to_code

    runs = list(study.runs["run_id"])
    earlier = set(runs[:runs.index(run.id)]) if run.id in runs else set()
    named = set(decisions["suggestion_id"])
    codes = run.suggestions[run.suggestions["level"] == "code"]
    theme = {code: t for code, t, sid in zip(codes["item_id"], codes["theme_id"],
                                             codes["suggestion_id"]) if sid not in named}
    if not theme or not earlier:
        return {}
    members = run.assignments.groupby("code_id")["unit_id"].agg(list)
    units = run.suggestions[run.suggestions["level"] == "unit"]
    to_code = codes_to_code(run.assignments, theme, dict(zip(units["item_id"], units["theme_id"])))
    run_of = dict(zip(decisions["id"], decisions["run_id"]))
    themes_of: dict[str, set[str]] = {}  # as coded by decisions on earlier runs
    for unit, t, decision in zip(coding["unit_id"], coding["theme_id"], coding["decision_id"]):
        if run_of.get(decision) in earlier:
            themes_of.setdefault(unit, set()).add(t)
    rejected = study.rejected_before({c: (t, members.get(c, [])) for c, t in theme.items()},
                                     runs=earlier)
    carried = {c: "reject" for c in rejected}
    for code, t in theme.items():
        if code not in carried and to_code[code] and all(
                t in themes_of.get(u, ()) for u in to_code[code]):
            carried[code] = "accept"
    return carried


def _with_earlier_themes(study: Study, framework: Framework, coded: set[str]) -> Framework:
    """``framework`` with, after its own themes, the themes of earlier versions of it (other
    runs' copies, newest first) that the coding uses and it no longer has: an analyst's
    coding keeps its theme's name after a revision of the framework."""
    from dataclasses import replace

    missing = coded - set(framework.theme_ids) - {NONE_THEME}
    extra = []
    for run_id in reversed(study.runs["run_id"].tolist()):
        if not missing:
            break
        try:
            earlier = study.framework(run_id)
        except Exception:  # noqa: BLE001 - a run's framework no longer to be found: ids stay
            continue
        for theme in earlier.themes:
            if theme.id in missing:
                extra.append(theme)
                missing.discard(theme.id)
    return replace(framework, themes=(*framework.themes, *extra)) if extra else framework


def _in_place(coding: pd.DataFrame, transcripts: pd.DataFrame, path: Any, coded: bool = True
              ) -> pd.DataFrame:
    """The rows (codings, or with ``coded=False`` pending suggestions) of units that stand
    where they stood in the transcripts as they are now; a warning counts the others (their
    decisions stay in the store)."""
    placed = in_place(coding, transcripts)
    gone = coding.loc[[not p for p in placed], "unit_id"].unique()
    if len(gone) and coded:
        logger.warning(
            "%s: %s coded in the study %s no longer in the transcripts of this run (their "
            "words were edited, or their transcript was removed): left out of this export. "
            "Their decisions stay in the store; code the new text in the run's review sheet. "
            "First: %s", path, counted(len(gone), "unit"), "is" if len(gone) == 1 else "are",
            ", ".join(map(str, gone[:3])))
    elif len(gone):
        logger.warning(
            "%s: %s with a pending suggestion in this run %s no longer in the transcripts "
            "(their words were edited since): left out of this export. A later run suggests "
            "for their new text. First: %s", path, counted(len(gone), "unit"),
            "is" if len(gone) == 1 else "are", ", ".join(map(str, gone[:3])))
    return coding.iloc[[i for i, here in enumerate(placed) if here]]


def code_decisions(view: StudyView) -> dict[str, tuple[str, str]]:
    """This run's candidate codes: code id -> (the analyst's latest action on it, or "" while
    undecided; the theme it sits under). An accepted code sits under its suggested theme, a
    reassigned one under the analyst's theme, an undecided one under its suggested theme (the
    machine's, like every pending suggestion), and a rejected one under none (""). A code that
    earlier decisions answered (:attr:`StudyView.carried_codes`) counts as accepted or
    rejected."""
    decisions = view.decisions[view.decisions["run_id"] == view.run_id]
    latest = decisions.drop_duplicates("suggestion_id", keep="last")
    latest = dict(zip(latest["suggestion_id"], zip(latest["action"], latest["theme_id"])))
    codes = view.suggestions[view.suggestions["level"] == "code"]
    placed = {}
    for sid, code_id, suggested in zip(codes["suggestion_id"], codes["item_id"],
                                       codes["theme_id"]):
        action, theme = latest.get(sid, (view.carried_codes.get(code_id, ""), suggested))
        placed[code_id] = (action, "" if action == "reject" else theme)
    return placed
