"""The HTML report: one self-contained page about a run or a study, for reading offline.

The page holds the run summary, each theme with its codes, sizes and exemplar quotes, a 2-D
map of the meaning units coloured by theme, theme prevalence per transcript and per speaker,
the codes that fit no theme (candidate new themes), the saturation curve and, for a study, how
the analyst's decisions and coding agree with the machine and a log of who decided what, and
when; a "Next steps" box at the top says what to do with the run. Everything is inline (CSS, SVG
charts, a few lines of optional script for sorting tables); the page makes no network request
and its Content-Security-Policy forbids any.

``render_report(result)`` renders the batch run of ``themesift run`` (no decisions yet);
``export_report(study, path)`` renders a study's run with the analyst's coding. Both build
the same :class:`_ReportData` and share one renderer. Where a study has a coding, a unit's
theme is the analyst's (the latest decision), else the machine's pending suggestion; a unit
whose suggestion was rejected has no theme.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import logging
import math
import numbers
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InputError, ThemesiftError
from ..model import NONE_THEME, SEPARATOR, Framework, agreeing_first
from ..pipeline import PipelineResult, unit_map
from ..propose import offered_codes
from ..text import counted
from ._common import StudyView, atomic_output, check_output, code_decisions, study_view

if TYPE_CHECKING:
    import pandas as pd

    from ..compare import AgreementReport
    from ..study import Study

__all__ = ["render_report", "render_study_report", "export_report", "saturation", "unit_map"]

logger = logging.getLogger(__name__)

#: A code "appears" in a transcript when at least this many of its units are in it.
MIN_UNITS = 2
#: Colour-blind-safe colours for the framework's themes, in framework order (then repeated).
_PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
            "#332288", "#882255", "#117733")
_NONE_COLOUR = "#8c8c8c"
_UNCODED_COLOUR = "#d9d9d9"
_NO_THEME = ""  # a unit whose suggestion the analyst rejected

_STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:72rem;
     color:#222;line-height:1.45;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2.4rem;border-bottom:1px solid #ddd}
h3{font-size:1.05rem;margin-bottom:.3rem}
table{border-collapse:collapse;width:100%;font-size:.9rem;margin:.6rem 0}
th,td{border-bottom:1px solid #e4e4e4;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f5f5f5}td.num,th.num{text-align:right;white-space:nowrap}
table.sortable th button{font:inherit;font-weight:bold;color:inherit;background:none;border:0;
 padding:0;cursor:pointer;text-align:inherit}
table.sortable th button:focus-visible{outline:2px solid #0072B2;outline-offset:2px}
.wide{overflow-x:auto;max-width:100%}
.theme{display:inline-block;padding:0 .4rem;border-radius:.3rem}
.quote{color:#444;font-style:italic;margin:.15rem 0}.muted{color:#666;font-size:.85rem}
.note{background:#fff8e5;border-left:4px solid #E69F00;padding:.4rem .7rem}
.legend span{margin-right:1rem;display:inline-block}.swatch{display:inline-block;width:.8rem;
 height:.8rem;border-radius:.2rem;margin-right:.3rem;vertical-align:-.05rem}
svg{max-width:100%;height:auto;font-size:11px}svg text{fill:#333}
.chart{overflow-x:auto;max-width:100%}
@media (max-width:40rem){.chart svg{min-width:36rem}body{margin:1rem auto}}
nav a{margin-right:.8rem}
.next{border:1px solid #0072B2;border-radius:.3rem;padding:.2rem 1rem;margin:1rem 0}
.next h2{margin-top:.4rem;border:0}
"""

# Optional: a column header's button (click, or Enter or Space on it) sorts the table; the
# page reads the same without it.
_SCRIPT = """
document.querySelectorAll('table.sortable th').forEach(function (th) {
  th.title = 'Sort by this column';
  th.addEventListener('click', function () {
    var table = th.closest('table'), body = table.tBodies[0], col = th.cellIndex;
    var down = th.dataset.order !== 'down';
    th.dataset.order = down ? 'down' : 'up';
    th.parentNode.querySelectorAll('th').forEach(function (other) {
      other.removeAttribute('aria-sort');
    });
    th.setAttribute('aria-sort', down ? 'descending' : 'ascending');
    var key = function (row) {
      var time = row.cells[col] && row.cells[col].querySelector('time');
      if (time) return time.dateTime;
      var text = row.cells[col] ? row.cells[col].textContent.trim() : '';
      var number = parseFloat(text.replace('%', ''));
      return isNaN(number) ? text.toLowerCase() : number;
    };
    Array.from(body.rows).sort(function (a, b) {
      var x = key(a), y = key(b);
      return (x < y ? -1 : x > y ? 1 : 0) * (down ? -1 : 1);
    }).forEach(function (row) { body.appendChild(row); });
  });
});
"""

_CSP = ("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
        "img-src data:")


@dataclass(frozen=True)
class _ReportData:
    """What the page shows, from a batch run or a study (one shape for both).

    ``units``: ``unit_id, doc_id, speaker, text, machine_theme, score, rationale, theme_id``
    (``theme_id`` is the unit's current theme: the analyst's, else the machine's; ``""`` when
    the analyst rejected the suggestion). ``codes``: the code table plus ``theme_id``,
    ``score`` (the code-level suggestion) and ``decision`` (the analyst's, or ``""``).
    ``transcripts``: doc ids in interview order (the order of the run's inputs).
    """

    title: str
    framework: Framework
    manifest: dict[str, Any]
    transcripts: list[str]
    units: pd.DataFrame
    codes: pd.DataFrame
    assignments: pd.DataFrame
    decisions: pd.DataFrame | None = None  # this run's decisions, latest per suggestion
    suggestions: pd.DataFrame | None = None  # suggestion_id, level, theme_id (for decisions)
    coded: int = 0  # units with an analyst's theme
    decided: pd.DataFrame | None = None  # each decision's units, with the run's suggestion
    run_id: str = ""
    coding: pd.DataFrame | None = None  # the analyst's coding of this run's units
    agreement: tuple[tuple[str, AgreementReport], ...] = ()
    unit_map: pd.DataFrame | None = None
    map_note: str = ""
    log: pd.DataFrame | None = None  # the latest decision on each suggestion, newest first
    undecided_units: int = 0  # this run's units with a pending suggestion
    rejected_units: int = 0  # this run's units settled by rejecting their suggestion, uncoded
    reassigned: frozenset = frozenset()  # the ids of the study's decisions that reassigned


# -- building the data ------------------------------------------------------------------------

def _from_result(result: PipelineResult) -> _ReportData:
    """The report's data of a batch run: machine suggestions only."""
    machine = result.unit_suggestions[["unit_id", "theme_id", "score", "rationale"]]
    units = result.units.merge(machine.rename(columns={"theme_id": "machine_theme"}),
                               on="unit_id", how="left")
    units["theme_id"] = units["machine_theme"].fillna(_NO_THEME)
    # a code whose members disagree: under no theme, nor a new one
    code_themes = offered_codes(result.suggestions)[["code_id", "theme_id", "score"]]
    codes = result.codes.table.merge(code_themes, on="code_id", how="left").assign(decision="")
    order = [t.id for t in result.corpus]
    return _ReportData("batch run", result.framework, dict(result.manifest), order, units, codes,
                       result.codes.assignments[["unit_id", "code_id"]],
                       unit_map=result.unit_map,
                       map_note="This run carries no unit coordinates, so the map is left out.")


def _from_view(view: StudyView) -> _ReportData:
    """The report's data of a study's run: the analyst's coding over the machine's suggestions."""
    sugg = view.suggestions
    unit_sugg = sugg[sugg["level"] == "unit"].rename(
        columns={"item_id": "unit_id", "theme_id": "machine_theme"})
    units = view.units.merge(unit_sugg[["unit_id", "machine_theme", "score", "rationale"]],
                             on="unit_id", how="inner")
    coded = view.coding.drop_duplicates("unit_id").set_index("unit_id")["theme_id"]
    pending = view.pending.set_index("unit_id")["theme_id"]
    units["theme_id"] = [coded.get(u, pending.get(u, _NO_THEME)) for u in units["unit_id"]]

    decisions = view.decisions[view.decisions["run_id"] == view.run_id]
    decisions = decisions.drop_duplicates("suggestion_id", keep="last")
    code_sugg = sugg[sugg["level"] == "code"]
    # a rejected code sits under no theme (it is among the candidate new themes)
    placed = code_decisions(view)
    themes = code_sugg.assign(theme_id=[placed[c][1] for c in code_sugg["item_id"]],
                              decision=[placed[c][0] for c in code_sugg["item_id"]],
                              suggested=code_sugg["theme_id"])
    codes = view.codes.merge(themes[["item_id", "theme_id", "score", "decision", "suggested"]]
                             .rename(columns={"item_id": "code_id"}), on="code_id", how="left")
    codes["carried"] = [_carried_by(view, code, theme)
                        for code, theme in zip(codes["code_id"], codes["theme_id"])]
    order = [str(i["doc_id"]) for i in view.manifest.get("inputs", [])]
    order = order or list(view.transcripts["doc_id"])
    # a pseudonymised page does not name the study's folder ("StMarys_Ward7_study")
    made = _run_time(view.run_id)
    title = (f"run {view.run_id}" + (f" (made {made})" if made else "")
             + ("" if view.pseudonyms is not None else f" of study {view.study_path}"))
    return _ReportData(title, view.framework, dict(view.manifest), order, units, codes,
                       view.assignments, decisions=decisions,
                       suggestions=sugg[["suggestion_id", "level", "theme_id"]],
                       coded=int(units["unit_id"].isin(coded.index).sum()),
                       decided=_decided_here(view, units), run_id=view.run_id,
                       coding=view.coding[view.coding["unit_id"].isin(units["unit_id"])],
                       log=_decision_log(view, units),
                       reassigned=frozenset(view.decisions.loc[
                           view.decisions["action"] == "reassign", "id"]),
                       undecided_units=int((units["unit_id"].isin(view.pending["unit_id"])
                                            & ~units["unit_id"].isin(coded.index)).sum()),
                       rejected_units=int((~units["unit_id"].isin(view.pending["unit_id"])
                                           & ~units["unit_id"].isin(coded.index)).sum()))


def _carried_by(view: StudyView, code_id: str, theme_id: Any) -> str:
    """How earlier runs' decisions answered a code of this run that no decision names
    (:attr:`StudyView.carried_codes`): "reject" (a like code was rejected), "accept" (its
    members were coded its theme by accepting suggestions), "reassign" (by decisions that
    reassigned some of them to it); "" for a code not so answered."""
    carried = view.carried_codes.get(code_id, "")
    if carried != "accept":
        return carried
    members = set(view.assignments.loc[view.assignments["code_id"] == code_id, "unit_id"])
    coding = view.coding[view.coding["unit_id"].isin(members)
                         & (view.coding["theme_id"] == theme_id)]
    actions = view.decisions.loc[view.decisions["id"].isin(coding["decision_id"]), "action"]
    return "reassign" if (actions == "reassign").any() else "accept"


def _decision_log(view: StudyView, units: pd.DataFrame) -> pd.DataFrame:
    """The latest decision on each suggestion that bears on this run, newest first: on its
    units (made on any run: a unit's decision holds in every run) and on candidate codes (of
    any run: a re-run's codes are answered by them). The decisions' columns plus ``level``
    and ``item`` (the unit's text, or the code's id and label)."""
    latest = view.decisions.sort_values("id").drop_duplicates("suggestion_id", keep="last")
    text_of = dict(zip(units["unit_id"], units["text"]))
    codes = (view.decided_codes if view.decided_codes is not None
             else view.codes.assign(run_id=view.run_id))
    label_of = dict(zip(zip(codes["run_id"], codes["code_id"]), codes["label"]))
    levels, items = [], []
    for sid in latest["suggestion_id"]:
        level, _, rest = str(sid).partition(":")
        run, _, code = rest.rpartition(":")
        levels.append(level)
        items.append(text_of.get(rest) if level == "unit"
                     else f"{code} {label_of.get((run, code), '')}".strip())
    log = latest.assign(level=levels, item=items)
    return log[log["item"].notna()].iloc[::-1].reset_index(drop=True)


def _decided_here(view: StudyView, units: pd.DataFrame) -> pd.DataFrame:
    """The decisions on this run's units (in any run), with what the run they were made on
    suggested: :meth:`Study.decided_suggestions` (rebuilt from the decisions for a view
    without it, where each run's suggestion is not known)."""
    import pandas as pd

    decided = view.decided_suggestions
    if decided is None:
        d = view.decisions[view.decisions["suggestion_id"].str.startswith("unit:")]
        decided = pd.DataFrame({"decision_id": d["id"], "suggestion_id": d["suggestion_id"],
                                "run_id": d["run_id"],
                                "unit_id": d["suggestion_id"].str[len("unit:"):],
                                "level": "unit", "action": d["action"],
                                "theme_id": d["theme_id"], "suggested": None, "score": None})
    return decided[decided["unit_id"].isin(units["unit_id"])].reset_index(drop=True)


def _data_of(source: Any) -> _ReportData:
    """A PipelineResult, a StudyView, a Study or a study's folder, as report data."""
    if isinstance(source, PipelineResult):
        return _from_result(source)
    if isinstance(source, StudyView):
        return _from_view(source)
    return _from_view(study_view(source))


def _study_unit_map(data: _ReportData, embedder) -> tuple[pd.DataFrame | None, str]:
    """Coordinates of a study's units, embedded again with the run's model (cache hits)."""
    from ..embed import Embedder

    info = data.manifest.get("embedding_model") or {}
    wanted = info.get("model_id")
    if embedder is None:
        if not wanted:
            return None, "The run's manifest names no embedding model, so the map is left out."
        embedder = Embedder(info.get("profile") or info.get("path") or wanted, quiet=True,
                            backend=info.get("backend"))
    try:
        if wanted and embedder.model_id != wanted:
            return None, (f"The run's model {wanted} is not available here (found "
                          f"{embedder.model_id}), so the map is left out.")
        vectors = embedder.encode(list(data.units["text"]))
    except (ThemesiftError, OSError) as exc:
        logger.info("No unit map: %s", exc)
        return None, (f"The run's model {wanted} is not available here ({exc}), so the map "
                      "is left out.")
    return unit_map(data.units, vectors), ""


# -- saturation --------------------------------------------------------------------------------

def saturation(study_or_result: Any, *, orderings: int = 200, seed: int = 0,
               min_units: int = MIN_UNITS) -> pd.DataFrame:
    """How many new codes (and themes) each further transcript adds, in interview order.

    A code *appears* in a transcript when at least ``min_units`` of its meaning units come
    from that transcript (two by default): a single unit is weak evidence (often a unit that
    fitted no cluster and was put in its nearest code), while a code is counted once per
    transcript however much one talkative participant says, since codes are counted, not
    units. A code is *new* at the first transcript it appears in. A theme is *reached* once a
    unit of the transcripts so far has it (the analyst's coding where there is one, else the
    machine's suggestion; "none" is not a theme).

    The band shows how much the curve owes to the order the interviews happened to be in: the
    cumulative number of codes over random orderings of the transcripts (every ordering when
    there are at most ``orderings`` of them), as its mean and 5th and 95th percentiles.

    Parameters
    ----------
    study_or_result:
        A :class:`~themesift.pipeline.PipelineResult`, a :class:`~themesift.study.Study` or
        its folder (its latest run).
    orderings:
        Random orderings of the transcripts for the band.
    seed:
        Seed of the orderings; the same seed gives the same band.
    min_units:
        Units a code needs in a transcript to appear there.

    Returns
    -------
    pandas.DataFrame
        One row per transcript in interview order: ``position, transcript, units,
        new_codes, new_code_ids`` (" | "-joined), ``cumulative_codes, themes_reached,
        codes_mean, codes_low, codes_high``. ``attrs`` holds ``codes_total`` (all codes of the
        run), ``orderings`` (used) and ``min_units``.

    Raises
    ------
    InputError
        For ``orderings`` or ``min_units`` below 1, or a study without a complete run.

    Examples
    --------
    >>> curve = saturation("my-study")                              # doctest: +SKIP
    >>> curve[["transcript", "new_codes", "codes_low", "codes_high"]]  # doctest: +SKIP
    """
    for name, value in (("orderings", orderings), ("min_units", min_units)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
            raise InputError(f"The {name!r} parameter of saturation() must be an int in "
                             f"[1, inf). Got {value!r} instead.")
    return _saturation(_data_of(study_or_result), orderings=orderings, seed=seed,
                       min_units=min_units)


def _saturation(data: _ReportData, *, orderings: int, seed: int, min_units: int) -> pd.DataFrame:
    import pandas as pd

    docs = data.transcripts
    doc_of = dict(zip(data.units["unit_id"], data.units["doc_id"]))
    members = data.assignments.assign(doc_id=data.assignments["unit_id"].map(doc_of)).dropna()
    counts = members.groupby(["code_id", "doc_id"]).size()
    codes = list(data.codes["code_id"])
    present = np.zeros((len(docs), len(codes)), dtype=bool)  # transcript x code
    position = {d: i for i, d in enumerate(docs)}
    column = {c: j for j, c in enumerate(codes)}
    for (code, doc), n in counts.items():
        if n >= min_units and doc in position and code in column:
            present[position[doc], column[code]] = True
    seen = np.logical_or.accumulate(present, axis=0) if len(docs) else present
    new = seen & ~np.vstack([np.zeros((1, len(codes)), dtype=bool), seen[:-1]])

    themed = data.units[~data.units["theme_id"].isin([NONE_THEME, _NO_THEME])]
    themes_reached, reached = [], set()
    for doc in docs:
        reached |= set(themed.loc[themed["doc_id"] == doc, "theme_id"])
        themes_reached.append(len(reached))

    band, used = _ordering_band(present, orderings, seed)
    units_per_doc = data.units.groupby("doc_id").size()
    frame = pd.DataFrame({
        "position": range(1, len(docs) + 1), "transcript": docs,
        "units": [int(units_per_doc.get(d, 0)) for d in docs],
        "new_codes": new.sum(axis=1).astype(int),
        "new_code_ids": [" | ".join(c for c, is_new in zip(codes, row) if is_new) for row in new],
        "cumulative_codes": seen.sum(axis=1).astype(int),
        "themes_reached": themes_reached,
        "codes_mean": band.mean(axis=0).round(3),
        "codes_low": np.percentile(band, 5, axis=0).round(3) if len(docs) else [],
        "codes_high": np.percentile(band, 95, axis=0).round(3) if len(docs) else [],
    })
    frame.attrs.update(codes_total=len(codes), orderings=used, min_units=min_units)
    return frame


def _ordering_band(present: np.ndarray, orderings: int, seed: int) -> tuple[np.ndarray, int]:
    """Cumulative codes at each position, one row per ordering of the transcripts.

    Every ordering is used when there are no more than ``orderings`` of them (exact and
    the same for any seed); otherwise ``orderings`` random ones drawn with ``seed``.
    """
    import itertools

    n = len(present)
    if n == 0:
        return np.zeros((1, 0)), 0
    if math.factorial(n) <= orderings:
        perms = np.array(list(itertools.permutations(range(n))))
    else:
        rng = np.random.default_rng(seed)
        perms = np.array([rng.permutation(n) for _ in range(orderings)])
    cumulative = np.logical_or.accumulate(present[perms], axis=1)  # ordering x position x code
    return cumulative.sum(axis=2), len(perms)


# -- agreement ---------------------------------------------------------------------------------

def _agreements(data: _ReportData, view: StudyView, human: Any, units: pd.DataFrame) -> tuple:
    """Machine vs the analyst's coding (when there is one) and vs an external coding, which
    may code character spans: they are carried onto ``units`` (with unpseudonymised offsets)."""
    import pandas as pd

    from ..compare import BOOTSTRAP, compare

    machine = data.units[["unit_id", "machine_theme"]].rename(columns={"machine_theme": "theme_id"})
    coding = view.coding[view.coding["unit_id"].isin(data.units["unit_id"])]
    # accepting a code codes only the members suggested its theme: they agree by construction
    coding = coding[~coding["unit_id"].isin(_coded_by_accepting_codes(data))]
    found = []
    before = _suggested_before(data) if data.decided is not None else None
    if len(coding) and before is not None and len(before):
        # not this run's suggestions: a later run learns the coded units and repeats them back;
        # a rejected suggestion is a disagreement, whatever the right theme would be
        reference = pd.concat([coding[["unit_id", "theme_id"]], pd.DataFrame(
            {"unit_id": _rejected_units(data, coding), "theme_id": REJECTED})])
        found.append(("The analyst's coding in the study (reference) vs what the machine "
                      "suggested before the analyst decided",
                      compare(reference, before, bootstrap=BOOTSTRAP)))
    if human is not None:
        what = "the machine's unit suggestions"
        if before is not None and len(before):  # as above, for the decided units
            machine = pd.concat([before, machine[~machine["unit_id"].isin(before["unit_id"])]])
            what += " (for units the analyst decided, those made before the decision)"
        found.append((f"The external human coding (reference) vs {what}",
                      compare(human, machine, units=units, bootstrap=BOOTSTRAP)))
    return tuple(found)


#: The analyst's side of a unit whose suggestion they rejected (and coded no other way).
REJECTED = "(rejected)"


def _coded_by_accepting_codes(data: _ReportData) -> set[str]:
    """Units the analyst's coding holds through a decision that accepted a code: only the
    members suggested the code's theme are so coded, so they agree with the machine by
    construction and say nothing of how often it is right."""
    if data.coding is None or not len(data.coding):
        return set()
    through = data.coding[(data.coding["source"] == "code")]
    return set(through.loc[~through["decision_id"].isin(data.reassigned), "unit_id"])


def _rejected_units(data: _ReportData, coding: pd.DataFrame) -> list[str]:
    """Units whose latest decision of their own rejects the suggestion, and that the study
    does not code (through a code, say)."""
    own = data.decided[data.decided["level"] == "unit"].sort_values("decision_id")
    latest = own.drop_duplicates("unit_id", keep="last")
    return [u for u in latest.loc[latest["action"] == "reject", "unit_id"]
            if u not in set(coding["unit_id"])]


def _suggested_before(data: _ReportData) -> pd.DataFrame:
    """Each decided unit's suggestion in the run of the first decision on it (on the unit, or
    on a code it belongs to): what the machine proposed before any of the analyst's coding
    of that unit could teach it. Units whose run did not keep it are left out."""
    first = data.decided.drop_duplicates("unit_id")
    first = first[first["suggested"].notna()]
    return first[["unit_id", "suggested"]].rename(columns={"suggested": "theme_id"})


def _before_note(data: _ReportData) -> str:
    """What the analyst's coding is compared with, and which coded units are left out."""
    if data.decided is None or data.coding is None or not len(data.coding):
        return ""
    accepted = _coded_by_accepting_codes(data)
    coded = set(data.coding["unit_id"]) - accepted
    known = set(_suggested_before(data)["unit_id"])
    missing = len(coded - known)
    note = ("<p class='muted'>The machine's side of the analyst's coding is, for each coded "
            "unit, the suggestion of the run in which the analyst first decided on it (on the "
            "unit itself or on a code it belongs to), not this run's: a run made after a "
            "decision learns from it and suggests the analyst's own coding back. A unit whose "
            f"suggestion the analyst rejected counts as a disagreement (the analyst's side "
            f"reads {REJECTED}). Units \"only by the machine\" are members of codes the "
            "analyst decided on (rejected, or accepted with the member left to decide one by "
            "one) that the coding does not hold yet.")
    if accepted:
        note += (f" {counted(len(accepted), 'unit')} coded by accepting a code "
                 f"{'is' if len(accepted) == 1 else 'are'} left out of the analyst's figures: "
                 "accepting a code codes only the members suggested its theme, so they agree "
                 "with the machine by construction and say nothing of how often it is right "
                 "(decide units one by one to measure that).")
    if missing:
        note += (f" {counted(missing, 'decided unit')} {'is' if missing == 1 else 'are'} left "
                 "out: the run decided on did not keep its unit suggestions (stores written "
                 "before schema 4 keep the latest run's only).")
    return note + "</p>"


# -- the page ----------------------------------------------------------------------------------

def _colours(framework: Framework) -> dict[str, str]:
    colours = {t: _PALETTE[i % len(_PALETTE)] for i, t in enumerate(framework.theme_ids)}
    return colours | {NONE_THEME: _NONE_COLOUR, _NO_THEME: _UNCODED_COLOUR}


def _names(framework: Framework) -> dict[str, str]:
    return ({t.id: t.name for t in framework.all_themes()}
            | {NONE_THEME: "Fits no theme", _NO_THEME: "No theme (suggestion rejected)"})


def _e(value: Any) -> str:
    """Text as HTML (every ``<``, ``&`` and quote escaped); missing values as nothing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return escape(str(value), quote=True)


def _num(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _luminance(colour: str) -> float:
    """The WCAG relative luminance of a ``#rrggbb`` colour."""
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


@functools.lru_cache(maxsize=64)
def _text_colour(background: str) -> str:
    """Black or white, whichever contrasts more with ``background``: one of them always
    reaches WCAG's 4.5:1 for normal text."""
    light = _luminance(background)
    return "#000" if (light + 0.05) / 0.05 >= 1.05 / (light + 0.05) else "#fff"


def _clip(text: str, length: int = 120) -> str:
    """``text`` cut at a word to about ``length`` characters."""
    return text if len(text) <= length else text[:length].rsplit(" ", 1)[0] + " …"


def _when(stamp: Any) -> str:
    """A decision's time (ISO 8601) as people read it, in UTC: "6 Dec 2026, 11:02 UTC"."""
    try:
        moment = datetime.datetime.fromisoformat(str(stamp))
    except ValueError:
        return str(stamp)
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc)
    return f"{moment.day} {moment:%b %Y, %H:%M} UTC"


def _run_time(run_id: str) -> str:
    """When a run was made (:func:`themesift.study.run_made`), as :func:`_when` writes it; ""
    for an id that does not say."""
    from ..study import run_made

    made = run_made(run_id)
    return _when(made.isoformat()) if made else ""


_QUOTED = re.compile(r'("[^"]*"|“[^”]*”)')


def _readable(names: dict[str, str]) -> Callable[[Any], str]:
    """A function giving a rationale, as HTML, with the framework's theme ids that are no
    plain word ("structural_tension") written as the theme names the page uses elsewhere,
    but not inside double quotes (a unit's own words). An id that is a word ("hope") stays:
    it is also a shared word or a unit's word in the same rationale. Made once a page: a
    study's every unit has a rationale."""
    ids = sorted((t for t in names if t and t != NONE_THEME and not t.isalpha()), key=len,
                 reverse=True)
    theme = re.compile(r"\b(" + "|".join(map(re.escape, ids)) + r")\b") if ids else None

    def readable(rationale: Any) -> str:
        if not isinstance(rationale, str) or theme is None:
            return _e(rationale)
        parts = _QUOTED.split(rationale)  # odd parts: quoted
        return _e("".join(part if i % 2 else theme.sub(lambda m: names[m.group(1)], part)
                          for i, part in enumerate(parts)))

    return readable


def _badge(theme_id: str, names: dict[str, str], colours: dict[str, str]) -> str:
    colour = colours.get(theme_id, _NONE_COLOUR)
    text = _text_colour(colour)
    return (f"<span class='theme' style='background:{colour};color:{text}'>"
            f"{_e(names.get(theme_id, theme_id))}</span>")


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], *, numeric: Sequence[int] = (),
           sortable: bool = True, row_heads: bool = False) -> str:
    """An HTML table; ``rows`` hold cells already as HTML. A sortable table's column headers
    are buttons (reached and pressed with the keyboard too); with ``row_heads`` each row's
    first cell is the header of its row."""
    cls = " class='sortable'" if sortable else ""
    label = "<button type='button'>{}</button>" if sortable else "{}"
    th = "".join(f"<th scope='col'{' class=num' if i in numeric else ''}>"
                 f"{label.format(_e(h))}</th>" for i, h in enumerate(head))
    th = f"<thead><tr>{th}</tr></thead>" if head else ""

    def cell(i: int, c: str) -> str:
        tag = "th scope='row'" if row_heads and i == 0 else "td"
        return f"<{tag}{' class=num' if i in numeric else ''}>{c}</{tag.split()[0]}>"

    body = "".join("<tr>" + "".join(cell(i, c) for i, c in enumerate(row)) + "</tr>"
                   for row in rows)
    return f"<div class='wide'><table{cls}>{th}<tbody>{body}</tbody></table></div>"


def _legend(themes: Sequence[str], names: dict[str, str], colours: dict[str, str]) -> str:
    return "<p class='legend'>" + "".join(
        f"<span><i class='swatch' style='background:{colours[t]}'></i>{_e(names[t])}</span>"
        for t in themes) + "</p>"


def _chart(svg: str) -> str:
    """A chart in a box that scrolls sideways on a narrow screen, so its text stays legible
    and the page itself does not scroll sideways."""
    return f"<div class='chart'>{svg}</div>"


def _stacked_bars(rows: Sequence[tuple[str, dict[str, int]]], themes: Sequence[str],
                  names: dict[str, str], colours: dict[str, str], label: str) -> str:
    """Horizontal stacked bars, one per row: the share of its units in each theme."""
    left, width, height = 260, 520, 20
    total_h = 24 + height * len(rows) + 6
    parts = [f"<svg role='img' aria-label='{_e(label)}' viewBox='0 0 {left + width + 60} "
             f"{total_h}' width='{left + width + 60}' height='{total_h}'>"]
    for pct in (0, 50, 100):
        x = left + width * pct / 100
        parts.append(f"<line x1='{x}' x2='{x}' y1='14' y2='{total_h - 4}' stroke='#ccc'/>"
                     f"<text x='{x}' y='10' text-anchor='middle'>{pct}%</text>")
    for r, (name, counts) in enumerate(rows):
        y = 20 + r * height
        total = sum(counts.values())
        parts.append(f"<text x='{left - 6}' y='{y + 13}' text-anchor='end'>{_e(name[:42])}</text>")
        x = float(left)
        for theme in themes:
            n = counts.get(theme, 0)
            if not n:
                continue
            w = width * n / total
            parts.append(f"<rect x='{x:.1f}' y='{y + 2}' width='{w:.1f}' height='{height - 5}' "
                         f"fill='{colours[theme]}'><title>{_e(name)}: {_e(names[theme])}, "
                         f"{n} of {total} units</title></rect>")
            x += w
        parts.append(f"<text x='{left + width + 6}' y='{y + 13}'>{total}</text>")
    return _chart("".join(parts) + "</svg>")


def _scatter(data: _ReportData, names: dict[str, str], colours: dict[str, str]) -> str:
    """The unit map: one circle per unit, coloured by its theme, with a tooltip."""
    pos = data.unit_map.merge(data.units[["unit_id", "speaker", "text", "theme_id", "doc_id"]],
                              on="unit_id")
    size, pad = 640, 16
    xs, ys = pos["x"].to_numpy(float), pos["y"].to_numpy(float)

    def scale(v: np.ndarray) -> np.ndarray:
        span = v.max() - v.min() if len(v) else 0
        return pad + (v - v.min()) / span * (size - 2 * pad) if span else np.full(len(v), size / 2)

    sx, sy = scale(xs), size - scale(ys)
    parts = [f"<svg role='img' aria-label='Map of meaning units' viewBox='0 0 {size} {size}' "
             f"width='{size}' height='{size}' style='border:1px solid #e4e4e4'>"]
    for x, y, row in zip(sx, sy, pos.itertuples()):
        theme = names.get(row.theme_id, row.theme_id)
        tip = f"{row.speaker} ({row.doc_id}), {theme}: {row.text[:120]}"
        parts.append(f"<circle cx='{x:.1f}' cy='{y:.1f}' r='4' fill-opacity='.8' "
                     f"fill='{colours.get(row.theme_id, _NONE_COLOUR)}'><title>{_e(tip)}</title>"
                     "</circle>")
    return _chart("".join(parts) + "</svg>")


def _curve(curve: pd.DataFrame) -> str:
    """The saturation curve: cumulative codes in interview order, with the ordering band."""
    n = len(curve)
    left, top, width, height = 70, 12, 600, 260
    highest = curve[["cumulative_codes", "codes_high"]].to_numpy().max()
    top_value = max(4.0, math.ceil(1.1 * highest))  # headroom above the band

    def px(i: float) -> float:
        return left + (width * i / (n - 1) if n > 1 else width / 2)

    def py(v: float) -> float:
        return top + height - height * v / top_value

    parts = [f"<svg role='img' aria-label='Saturation curve' viewBox='0 0 {left + width + 70} "
             f"{top + height + 60}' width='{left + width + 70}' height='{top + height + 60}'>"]
    for k in range(5):
        v = top_value * k / 4
        parts.append(f"<line x1='{left}' x2='{left + width}' y1='{py(v):.1f}' y2='{py(v):.1f}' "
                     f"stroke='#eee'/><text x='{left - 6}' y='{py(v) + 4:.1f}' "
                     f"text-anchor='end'>{v:.0f}</text>")
    high = [f"{px(i):.1f},{py(v):.1f}" for i, v in enumerate(curve["codes_high"])]
    low = [f"{px(i):.1f},{py(v):.1f}" for i, v in enumerate(curve["codes_low"])]
    band = high + low[::-1]
    parts.append(f"<polygon points='{' '.join(band)}' fill='#56B4E9' fill-opacity='.3'>"
                 "<title>5th to 95th percentile over orderings</title></polygon>")
    mean = " ".join(f"{px(i):.1f},{py(v):.1f}" for i, v in enumerate(curve["codes_mean"]))
    parts.append(f"<polyline points='{mean}' fill='none' stroke='#56B4E9' stroke-dasharray='5 4' "
                 "stroke-width='2'><title>Mean over orderings</title></polyline>")
    seen = " ".join(f"{px(i):.1f},{py(v):.1f}" for i, v in enumerate(curve["cumulative_codes"]))
    parts.append(f"<polyline points='{seen}' fill='none' stroke='#0072B2' stroke-width='2.5'/>")
    chars = int((width / (n - 1) if n > 1 else width) / 6.5)  # what fits between two ticks
    for i, row in enumerate(curve.itertuples()):
        label = f"{i + 1}. {row.transcript}"[:chars] if chars >= 8 else str(i + 1)
        parts.append(f"<circle cx='{px(i):.1f}' cy='{py(row.cumulative_codes):.1f}' r='4' "
                     f"fill='#0072B2'><title>{_e(row.transcript)}: {row.new_codes} new, "
                     f"{row.cumulative_codes} in all, {row.themes_reached} themes reached"
                     f"</title></circle><text x='{px(i):.1f}' y='{top + height + 16}' "
                     f"text-anchor='middle'>{_e(label)}</text>")
    parts.append(f"<text x='{left + width / 2}' y='{top + height + 40}' text-anchor='middle'>"
                 "Transcripts in interview order</text><text transform='translate(14 "
                 f"{top + height / 2}) rotate(-90)' text-anchor='middle'>Codes found so far</text>")
    return _chart("".join(parts) + "</svg>")


def _counts(units: pd.DataFrame, by: list[str]) -> list[tuple[str, dict[str, int]]]:
    grouped = units.groupby(by + ["theme_id"], sort=False).size()
    rows: dict[str, dict[str, int]] = {}
    for key, n in grouped.items():
        name = " · ".join(str(k) for k in key[:-1])
        rows.setdefault(name, {})[key[-1]] = int(n)
    return list(rows.items())


def _prevalence(data: _ReportData, names: dict[str, str], colours: dict[str, str],
                themes: list[str]) -> str:
    units = data.units.assign(doc_id=data.units["doc_id"].astype("category").cat.set_categories(
        data.transcripts))
    parts = [_mixed_note(data), _legend(themes, names, colours)]
    for title, by, label in (("Per transcript", ["doc_id"], "transcript"),
                             ("Per speaker", ["doc_id", "speaker"], "transcript · speaker")):
        rows = _counts(units.sort_values(by, kind="stable"), by)
        parts.append(f"<h3>{title}</h3>")
        parts.append(_stacked_bars(rows, themes, names, colours,
                                   f"Theme prevalence {title.lower()}"))
        cells = [[_e(name)] + [str(c.get(t, 0)) for t in themes] + [str(sum(c.values()))]
                 for name, c in rows]
        parts.append(_table([label] + [names[t] for t in themes] + ["units"], cells,
                            numeric=range(1, len(themes) + 2)))
    return "".join(parts)


def _mixed_note(data: _ReportData) -> str:
    """A study's counts per theme mix the analyst's coding with the pending suggestions: say
    how, so that they are not quoted as coded prevalence."""
    if data.decisions is None:
        return ("<p class='muted'>Counts of the machine's suggestions: nothing here is coded "
                "by an analyst yet.</p>")
    return (f"<p class='muted'>Each meaning unit counts under the analyst's theme where coded "
            f"({counted(data.coded, 'unit')} of {len(data.units)}), else under the machine's "
            "suggestion: these are not counts of coded units until every unit is decided "
            "(the code sheet export holds the coding alone).</p>")


def _quotes(code: Any, text_of: dict[str, str], theme_of: dict[str, str],
            limit: int = 2, length: int = 280) -> str:
    """The code's first exemplar units, those under its theme (``theme_of``: each unit's)
    first, each shortened to about ``length`` characters."""
    ids = [i for i in str(code.exemplar_ids or "").split(SEPARATOR) if i in text_of]
    ids = [ids[k] for k in agreeing_first(ids, theme_of, getattr(code, "theme_id", None))]
    ids = ids[:limit]
    short = [_clip(text_of[i], length) for i in ids]
    return "".join(f"<div class='quote'>“{_e(t)}”</div>" for t in short)


def _code_decision(code: Any, names: dict[str, str]) -> str:
    """What the analyst decided on a code, as its table's analyst column says it. A code that
    earlier runs' decisions answered (``carried``, see :func:`_carried_by`) says how: never
    "accepted" where reassignments coded its members (the decision log shows them)."""
    carried = getattr(code, "carried", "")
    if carried == "reassign":
        return (f"coded {names.get(code.theme_id, code.theme_id)} by earlier decisions, "
                "reassignments among them (see the decision log)")
    if carried:
        return _action(carried, code.theme_id, names) + " in an earlier run"
    return _action(code.decision, code.theme_id, names)


def _action(action: str, theme_id: str, names: dict[str, str]) -> str:
    """A decision in words: "accepted", "reassigned to Hope", "rejected"."""
    if action == "reassign":
        return f"reassigned to {names.get(theme_id, theme_id)}"
    return _DECIDED.get(action, action)


def _code_rows(codes: pd.DataFrame, text_of: dict[str, str], theme_of: dict[str, str],
               names: dict[str, str]) -> list[list[str]]:
    """A table row per code (``text_of``, ``theme_of``: each unit's text and theme)."""
    return [[f"<b>{_e(c.code_id)}</b> {_e(c.label)}<div class='muted'>"
             f"{_e(str(c.keywords).replace(' | ', ', '))}</div>",
             str(c.size), _e(getattr(c, "n_speakers", "")), _num(c.score),
             _e(_code_decision(c, names)),
             _quotes(c, text_of, theme_of)] for c in codes.itertuples()]


_DECIDED = {"accept": "accepted", "reassign": "reassigned", "reject": "rejected"}
_CODE_HEAD = ["code", "units", "speakers", "score", "analyst", "exemplar quotes"]


def _themes_section(data: _ReportData, names, colours) -> str:
    text_of = dict(zip(data.units["unit_id"], data.units["text"]))
    theme_of = dict(zip(data.units["unit_id"], data.units["theme_id"]))
    per_theme = data.units["theme_id"].value_counts()
    parts = [_mixed_note(data)]
    for theme in data.framework.themes:
        codes = data.codes[data.codes["theme_id"] == theme.id].sort_values("size", ascending=False)
        parts.append(f"<h3>{_badge(theme.id, names, colours)}</h3><p>{_e(theme.description)} "
                     f"<span class='muted'>"
                     f"{counted(int(per_theme.get(theme.id, 0)), 'meaning unit')}, "
                     f"{counted(len(codes), 'code')}.</span></p>")
        parts.append(_table(_CODE_HEAD, _code_rows(codes, text_of, theme_of, names),
                            numeric=(1, 2, 3))
                     if len(codes) else "<p class='muted'>No code is mapped to this theme.</p>")
    return "".join(parts)


def _new_themes_section(data: _ReportData, names: dict[str, str]) -> str:
    from ..smalltalk import ASIDE_CONTENT_WORDS, is_aside

    text_of = dict(zip(data.units["unit_id"], data.units["text"]))
    codes = data.codes[(data.codes["theme_id"] == NONE_THEME)
                       | (data.codes["decision"] == "reject")]
    members = data.assignments.groupby("code_id")["unit_id"].agg(list)
    aside = codes["code_id"].map(lambda c: is_aside(text_of[u] for u in members.get(c, [])
                                                    if u in text_of))
    asides, codes = codes[aside.astype(bool)], codes[~aside.astype(bool)]
    intro = ("<p>Codes that fit no theme of the framework (or whose suggested theme the analyst "
             "rejected): read them as candidates for new themes, or as talk outside the study "
             "aim. Small talk has no code.</p>")
    note = ""
    if not asides.empty:
        listed = ", ".join(f"{_e(c.code_id)} “{_e(c.label)}”" for c in asides.itertuples())
        note = (f"<p class='muted'>Not listed: {listed}: short asides (their units hold a median "
                f"of {ASIDE_CONTENT_WORDS} content words or fewer), talk around the talk rather "
                "than a new theme.</p>")
    split = data.codes[data.codes["theme_id"].isna()]  # not offered: members disagree
    if len(split):
        listed = ", ".join(f"{_e(c.code_id)} “{_e(c.label)}” ({c.size})"
                           for c in split.sort_values("size", ascending=False).itertuples())
        note += (f"<p class='muted'>Under no theme and not listed here, as their members are "
                 f"suggested different themes (no one theme for 60% of them): {listed}. Their "
                 "units are decided one by one (see the meaning units below).</p>")
    if not len(codes):
        return intro + note + ("<p class='muted'>No code is outside the framework's themes"
                               + (" but those." if note else ".") + "</p>")
    theme_of = dict(zip(data.units["unit_id"], data.units["theme_id"]))
    return intro + note + _table(_CODE_HEAD, _code_rows(codes.sort_values("size", ascending=False),
                                                        text_of, theme_of, names),
                         numeric=(1, 2, 3))


def _saturation_verdict(curve: pd.DataFrame) -> str:
    """One sentence: did the last transcript still add codes?"""
    new = int(curve["new_codes"].iloc[-1])
    last = curve["transcript"].iloc[-1]
    if len(curve) == 1:
        return f"Only one transcript ({last}): saturation cannot be judged yet."
    if new:
        return (f"The last transcript ({last}) added {counted(new, 'new code')}: not saturated "
                "by this measure.")
    return (f"The last transcript ({last}) added no new code: saturated by this measure (look "
            "at the band too: a flat curve in one ordering may be luck).")


def _saturation_section(curve: pd.DataFrame) -> str:
    if not len(curve):
        return "<p class='muted'>No transcripts.</p>"
    a = curve.attrs
    text = (f"<p>How many candidate codes each further transcript adds, in interview order. A "
            f"code counts in a transcript when at least {a['min_units']} of its units come from "
            f"it; {int(curve['cumulative_codes'].iloc[-1])} of the run's {a['codes_total']} codes "
            f"reach that. The band is the 5th to 95th percentile (dashed: mean) over "
            f"{a['orderings']} orderings of the transcripts: when the curve flattens in every "
            f"ordering, further transcripts stopped yielding new codes.</p>"
            f"<p><b>{_e(_saturation_verdict(curve))}</b> These codes are the machine's "
            "groupings of meaning units (candidate codes), not the analyst's codes.</p>")
    rows = [[str(r.position), _e(r.transcript), str(r.units), str(r.new_codes),
             str(r.cumulative_codes), str(r.themes_reached), _num(r.codes_mean, 1),
             f"{_num(r.codes_low, 1)}–{_num(r.codes_high, 1)}",
             f"<span class='muted'>{_e(r.new_code_ids.replace(' | ', ', '))}</span>"]
            for r in curve.itertuples()]
    key = ("<p class='legend'><span><i class='swatch' style='background:#0072B2'></i>in "
           "interview order</span><span><i class='swatch' style='background:#56B4E9'></i>mean "
           "(dashed) and 5–95% band over orderings</span></p>")
    return text + _curve(curve) + key + _table(
        ["#", "transcript", "units", "new codes", "codes so far", "themes reached",
         "mean over orderings", "5–95% band", "new code ids"], rows,
        numeric=(0, 2, 3, 4, 5, 6, 7))


_NOT_KEPT = "\0not kept"  # no theme id: [a-z0-9_]+


def _decisions_table(data: _ReportData, level: str, names: dict[str, str]) -> str:
    """Per suggested theme, what the analyst did with the suggestions. Codes: this run's,
    those that decisions of an earlier run answered (StudyView.carried_codes) as decided.
    Units: this run's units, each by its latest decision in any run, under the theme the run
    decided on had suggested; the undecided ones under this run's suggestion."""
    import pandas as pd

    sugg = data.suggestions[data.suggestions["level"] == level]
    if level == "unit" and data.decided is not None:
        latest = data.decided[data.decided["level"] == "unit"].drop_duplicates(
            "unit_id", keep="last")
        # What a run that did not keep its unit suggestions (a store before schema 4) had
        # suggested: the theme accepted or rejected; for a reassign, unknown.
        shown = [s if isinstance(s, str) else (t if a != "reassign" else _NOT_KEPT)
                 for s, a, t in zip(latest["suggested"], latest["action"], latest["theme_id"])]
        undecided = sugg[~sugg["suggestion_id"].str[len("unit:"):].isin(latest["unit_id"])]
        decided = pd.concat([pd.DataFrame({"theme_id": shown, "action": latest["action"]}),
                             undecided[["theme_id"]].assign(action=None)], ignore_index=True)
    else:  # codes: as placed, with the decisions of earlier runs that answered them
        decided = data.codes[data.codes["suggested"].notna()].rename(
            columns={"suggested": "theme_id", "decision": "action", "theme_id": "placed"})
        decided["action"] = decided["action"].replace("", None)
    rows = []
    names = {**names, _NOT_KEPT: "(not kept: a run stored before schema 4)"}
    for theme in [*data.framework.theme_ids, NONE_THEME, _NOT_KEPT]:
        actions = decided.loc[decided["theme_id"] == theme, "action"]
        if not len(actions):
            continue
        n = {a: int((actions == a).sum()) for a in ("accept", "reassign", "reject")}
        done = sum(n.values())
        rows.append([_e(names[theme]), str(n["accept"]), str(n["reassign"]), str(n["reject"]),
                     str(len(actions) - done),
                     f"{100 * n['accept'] / done:.0f}%" if done else "–"])
    return _table(["suggested theme", "accepted", "reassigned", "rejected", "undecided",
                   "accepted of decided"], rows, numeric=range(1, 6))


def _in_order(frame: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """Rows in the framework's theme order, any other labels after them."""
    return frame.loc[[t for t in order if t in frame.index]
                     + [t for t in frame.index if t not in order]]


#: The agreement statistics as a reader names them.
_STATISTICS = {"percent_agreement": "Percent agreement", "cohen_kappa": "Cohen's kappa",
               "krippendorff_alpha": "Krippendorff's alpha", "gwet_ac1": "Gwet's AC1"}

#: Landis and Koch's (1977) bands for kappa: the upper end of each band and its words.
_KAPPA_BANDS = ((0.0, "poor"), (0.20, "slight"), (0.40, "fair"), (0.60, "moderate"),
                (0.80, "substantial"), (math.inf, "almost perfect"))


def _kappa_in_words(kappa: Any) -> str:
    """One sentence reading Cohen's kappa in Landis and Koch's words ("" without a kappa).
    The value is read as printed (two decimals), so that the words match the figure shown."""
    if kappa is None or (isinstance(kappa, float) and math.isnan(kappa)):
        return ""
    shown = round(float(kappa), 2)
    words = next(w for upper, w in _KAPPA_BANDS if (shown < 0 if upper == 0 else shown <= upper))
    return (f"Cohen's kappa {_num(kappa)}: {words} agreement beyond chance (Landis and Koch's "
            "bands, a convention: below 0 poor, 0–0.20 slight, 0.21–0.40 fair, 0.41–0.60 "
            "moderate, 0.61–0.80 substantial, above 0.80 almost perfect).")


#: What the per-theme columns mean, once under the table.
_PER_THEME_NOTE = ("Per theme, the reference's theme counts as right: precision is the share "
                   "of the machine's suggestions of the theme that the reference also gives; "
                   "recall, the share of the reference's units of the theme the machine "
                   "suggested it for; F1 combines the two (their harmonic mean); support is "
                   "how many units the reference gives the theme.")


def _agreement_html(label: str, report: AgreementReport, names: dict[str, str],
                    order: list[str]) -> str:
    s = report.summary
    stats = [[_e(_STATISTICS[name]), _num(s[name]),
              "–" if s.get(f"{name}_ci") is None else
              f"{_num(s[f'{name}_ci'][0])} to {_num(s[f'{name}_ci'][1])}"]
             for name in ("percent_agreement", "cohen_kappa", "krippendorff_alpha", "gwet_ac1")]
    rule = ""
    if s.get("rule", "").startswith("multi"):
        rule = (" Multi-label coding: percent agreement counts a unit only when its whole set "
                "of themes matches; kappa, alpha and AC1 are each the mean over themes of that "
                "theme's present/absent statistic.")
    left_out = "".join(
        f" {s[key]} units of transcripts {who} did not code are left out."
        for key, who in (("left_out_a", "the machine"), ("left_out_b", "the reference"))
        if s.get(key))
    per = [[_e(names.get(r.Index, r.Index)), _num(r.precision), _num(r.recall), _num(r.f1),
            str(int(r.support))] for r in _in_order(report.per_theme, order).itertuples()]
    conf = _in_order(_in_order(report.confusion, order).T, order).T
    confusion = [[_e(names.get(a, a))] + [str(int(v)) for v in row]
                 for a, row in zip(conf.index, conf.to_numpy())]
    return (f"<h3>{_e(label)}</h3><p class='muted'>{s['n']} units coded by both; {s['only_a']} "
            f"only by the reference, {s['only_b']} only by the machine.{_e(left_out)} 95% "
            f"bootstrap intervals.{_e(rule)}</p>"
            + "".join(f"<p><strong>Warning:</strong> {_e(w)}</p>" for w in report.warnings)
            + _table(["statistic", "value", "95% interval"], stats, numeric=(1,), sortable=False)
            + (f"<p>{_e(words)}</p>" if (words := _kappa_in_words(s.get("cohen_kappa"))) else "")
            + _table(["theme", "precision", "recall", "F1", "support"], per, numeric=(1, 2, 3, 4))
            + f"<p class='muted'>{_e(_PER_THEME_NOTE)}</p>"
            + "<p class='muted'>Confusion: rows the reference, columns the machine.</p>"
            + _table(["reference \\ machine"] + [names.get(c, c) for c in conf.columns],
                     confusion, numeric=range(1, len(conf.columns) + 1), sortable=False))


def _agreement_section(data: _ReportData, names: dict[str, str]) -> str:
    parts = []
    if data.decisions is not None:
        parts.append(_decided_text(data))
        for level in ("unit", "code"):
            parts.append(f"<h3>Decisions on {level} suggestions, per suggested theme</h3>")
            parts.append(_decisions_table(data, level, names))
            if level == "unit":
                parts.append(_undecided_note(data))
    parts.append(_before_note(data) + _rejected_codes_note(data))
    order = [*data.framework.theme_ids, NONE_THEME]
    parts += [_agreement_html(label, report, names, order) for label, report in data.agreement]
    if not data.agreement:
        parts.append("<p class='muted'>No human coding yet: agreement figures appear once an "
                     "analyst has coded units (review the suggestions, then export the study's "
                     "report), or with an external coding: --human FILE with themesift export "
                     "--format report, or human= in Python.</p>")
    return "".join(parts)


def _undecided_note(data: _ReportData) -> str:
    """What "undecided" means in the table of unit decisions: no decision on the unit itself,
    though a decision on its code may code it."""
    own = set(data.decided.loc[data.decided["level"] == "unit", "unit_id"])
    coding = data.coding if data.coding is not None else data.units.iloc[:0].assign(source="")
    by_code = coding[(coding["source"] == "code") & ~coding["unit_id"].isin(own)]
    through = by_code["unit_id"].nunique()
    coded = (f"; {through} of them {'is' if through == 1 else 'are'} coded "
             "through a decision on a code" if through else "")
    return (f"<p class='muted'>Undecided here: no decision on the unit itself{coded} (the "
            "summary's “Meaning units by decision” adds this run's units up).</p>")


def _rejected_codes_note(data: _ReportData) -> str:
    """Rejected codes judge a group, not each unit: say that their units are not in the unit
    figures below (but for those decided one by one), and where the codes' share is."""
    rejected = data.codes.loc[data.codes["decision"] == "reject", "code_id"]
    if data.decisions is None or rejected.empty:
        return ""
    coded = set(data.coding["unit_id"]) if data.coding is not None else set()
    members = data.assignments[data.assignments["code_id"].isin(rejected)]["unit_id"]
    left = len(set(members) - coded)
    return (f"<p class='muted'>{counted(len(rejected), 'rejected code')} "
            f"({counted(left, 'unit')} not coded otherwise) "
            f"{'is' if len(rejected) == 1 else 'are'} not in the unit figures below: rejecting "
            "a code judges the group, not each of its units (decide them one by one for them "
            "to count). The table of decisions on code suggestions above gives the codes' "
            "own share.</p>")


def _decided_text(data: _ReportData) -> str:
    """How many of this run's units the analyst coded, and on which runs' suggestions."""
    coding = data.coding if data.coding is not None else data.units.iloc[:0].assign(source="")
    by = coding["source"].value_counts()
    text = (f"<p>The analyst coded {data.coded} of this run's {counted(len(data.units), 'meaning unit')} "
            f"({int(by.get('unit', 0))} decided one by one, {int(by.get('code', 0))} through a "
            "decision on a code)")
    if data.decided is not None and len(data.decided):
        latest = data.decided.drop_duplicates("suggestion_id", keep="last")
        here = int((latest["run_id"] == data.run_id).sum())
        text += (f", through the latest decisions on {counted(len(latest), 'suggestion')}: "
                 f"{here} made on this run's suggestions, {len(latest) - here} on other "
                 "runs' (a decision on a unit holds in every run of its transcript)")
    return text + ".</p>"


def _unit_counts(total: int, themed: int, none: int, rejected: int) -> str:
    """The units by kind of theme; the parts add up to the total."""
    parts = [f"{themed} with a framework theme", f"{none} fitting no theme"]
    if rejected:
        parts.append(f"{rejected} with no theme: the analyst rejected the suggested one")
    other = total - themed - none - rejected  # a theme an earlier framework had
    if other:
        parts.append(f"{other} with a theme the framework no longer has")
    return f"{total} ({', '.join(parts)})"


def _by_decision(data: _ReportData) -> str:
    """This run's units as the analyst's decisions leave them, adding up to all of them: the
    summary's count of coded units and the tables' undecided ones reconcile here."""
    coding = data.coding if data.coding is not None else data.units.iloc[:0].assign(source="")
    by = coding.drop_duplicates("unit_id")["source"].value_counts()
    parts = [f"{int(by.get('unit', 0))} coded one by one"]
    if data.rejected_units:
        parts.append(f"{data.rejected_units} rejected one by one (no theme)")
    parts += [f"{int(by.get('code', 0))} coded through a decision on a code",
              f"{data.undecided_units} still to decide"]
    return f"{' + '.join(parts)} = {counted(len(data.units), 'meaning unit')}"


def _summary(data: _ReportData) -> str:
    m = data.manifest
    fw = data.framework
    model = (m.get("embedding_model") or {}).get("model_id", "")
    counts = data.units["theme_id"].value_counts()
    themed = sum(int(counts.get(t.id, 0)) for t in fw.all_themes())
    rows = [("Framework", f"{fw.name} (version {fw.version})" if fw.version else fw.name),
            ("Transcripts", ", ".join(data.transcripts)),
            ("Meaning units", _unit_counts(len(data.units), themed,
                                           int(counts.get(NONE_THEME, 0)),
                                           int(counts.get(_NO_THEME, 0)))),
            ("Candidate codes", str(len(data.codes))),
            ("Coded by the analyst", f"{data.coded} units" if data.decisions is not None
             else "not yet (suggestions only)"),
            ("Meaning units by decision", _by_decision(data) if data.decisions is not None
             else ""),
            ("Embedding model", model), ("Seed", m.get("seed")),
            ("themesift", m.get("themesift_version"))]
    return _table([], [[_e(k), _e(v)] for k, v in rows if v not in (None, "")],
                  sortable=False, row_heads=True)


def _units_section(data: _ReportData, names, colours) -> str:
    readable = _readable(names)
    rows = [[_e(u.doc_id), _e(u.speaker), _e(u.text), _badge(u.theme_id, names, colours),
             f"{_badge(u.machine_theme, names, colours)} <span class='muted'>{_num(u.score)}"
             "</span>",
             f"<span class='muted'>{readable(u.rationale)}</span>"]
            for u in data.units.itertuples()]
    return (f"<details><summary>Show all {len(rows)} meaning units</summary>"
            f"<p class='muted'>{_e(_SCORE_NOTE)}</p>"
            + _table(["transcript", "speaker", "meaning unit", "theme", "machine's suggestion",
                      "why"], rows) + "</details>")


#: What the number beside a unit's suggestion is, and what it is not.
_SCORE_NOTE = ("The number beside the machine's suggestion is its score: how sure the "
               "suggestion is, from 0 to 1, the suggested theme's probability among the "
               "framework's themes. Where the model is calibrated, about that share of "
               "suggestions with that score are right (of suggestions scored 0.7, about 7 in "
               "10). It is not a measure of how well the unit fits the theme: that is the "
               "fit column of unit_suggestions.csv.")


#: Decision logs longer than this are folded away (a click shows them).
_LOG_SHOWN = 10


def _log_section(data: _ReportData, names: dict[str, str], colours: dict[str, str]) -> str:
    """Who decided what, and when: the latest decision on each suggestion, newest first."""
    if data.log is None:
        return ("<p class='muted'>No decisions: a batch run holds the machine's suggestions "
                "only (see Next steps).</p>")
    if not len(data.log):
        return "<p class='muted'>No decision bears on this run yet.</p>"
    rows = [[f"<time datetime='{_e(d.time)}'>{_e(_when(d.time))}</time>", _e(d.analyst),
             _e(d.level) + ": " + (f"“{_e(_clip(d.item))}”" if d.level == "unit"
                                    else _e(d.item)),
             _e(_action(d.action, d.theme_id, names)), _badge(d.theme_id, names, colours),
             _e(d.note), "this run" if d.run_id == data.run_id else _e(d.run_id)]
            for d in data.log.itertuples()]
    intro = (f"<p>The latest decision on each of {counted(len(rows), 'suggestion')} that bear "
             "on this run (on its meaning units, in any run, and on candidate codes), newest "
             "first; for a rejection, the theme is the one rejected. Times are in UTC.</p>")
    table = _table(["decided", "analyst", "meaning unit or code", "decision", "theme", "note",
                    "made on run"], rows)
    if len(rows) > _LOG_SHOWN:
        table = f"<details><summary>Show all {len(rows)} decisions</summary>{table}</details>"
    return intro + table


def _next_steps(data: _ReportData) -> str:
    """What to do next with this page's run: a short box near the top."""
    if data.decisions is None:
        steps = ["Fill in the <b>decision</b> column of review.xlsx (accept, reject, or a theme "
                 "id to reassign; blank leaves it undecided), with your initials under "
                 "<b>analyst</b>.",
                 "To bring decisions back and have later runs learn from them, run with "
                 "<code>--study FOLDER</code> (<code>themesift run INPUT... --study FOLDER "
                 "--out DIR</code>), fill in that run's review.xlsx, then <code>themesift "
                 "apply DIR/review.xlsx --study FOLDER</code>."]
    else:
        codes = int(((data.codes["decision"] == "") & data.codes["theme_id"].notna()).sum())
        if data.undecided_units or codes:
            left = (f"{counted(data.undecided_units, 'meaning unit')} and "
                    f"{counted(codes, 'code')} of this run are still to decide.")
        else:
            left = "Every suggestion of this run is decided."
        steps = [left, "Record decisions in this run's review.xlsx (then <code>themesift apply "
                 "review.xlsx --study FOLDER</code>) or in the review widget in Jupyter; then "
                 "export this report again (<code>themesift export --study FOLDER --format "
                 "report --out FILE</code>)."]
    return ("<aside class='next' aria-labelledby='next-steps'><h2 id='next-steps'>Next steps"
            "</h2><ul>" + "".join(f"<li>{step}</li>" for step in steps) + "</ul></aside>")


_SECTIONS = (("summary", "Summary"), ("map", "Map of meaning units"),
             ("prevalence", "Theme prevalence"), ("saturation", "Saturation"),
             ("agreement", "Agreement with human coding"), ("decisions", "Decision log"),
             ("themes", "Themes, their codes and quotes"),
             ("new-themes", "Candidate new themes"), ("units", "Meaning units"))


def _render(data: _ReportData) -> str:
    """The one renderer: the page of a batch run or of a study's run."""
    names, colours = _names(data.framework), _colours(data.framework)
    themes = [*data.framework.theme_ids, NONE_THEME]
    if (data.units["theme_id"] == _NO_THEME).any():
        themes.append(_NO_THEME)
    if data.unit_map is not None and len(data.unit_map):
        figure = (_legend(themes, names, colours) + "<p class='muted'>Each dot is a meaning unit "
                  "(hover for speaker and text), placed by the first two principal components "
                  "of its embedding: nearby units say similar things.</p>"
                  + _scatter(data, names, colours))
    else:
        figure = f"<p class='note'>{_e(data.map_note or 'No coordinates for the map.')}</p>"
    curve = _saturation(data, orderings=200, seed=0, min_units=MIN_UNITS)
    body = {
        "summary": _summary(data),
        "themes": _themes_section(data, names, colours),
        "map": figure,
        "prevalence": _prevalence(data, names, colours, themes),
        "new-themes": _new_themes_section(data, names),
        "saturation": _saturation_section(curve),
        "agreement": _agreement_section(data, names),
        "decisions": _log_section(data, names, colours),
        "units": _units_section(data, names, colours),
    }
    nav = "".join(f"<a href='#{key}'>{_e(title)}</a>" for key, title in _SECTIONS)
    sections = "".join(f"<section id='{key}'><h2>{_e(title)}</h2>{body[key]}</section>"
                       for key, title in _SECTIONS)
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<meta http-equiv='Content-Security-Policy' content=\"{_CSP}\">"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            "<link rel='icon' href='data:,'>"
            f"<title>themesift report: {_e(data.framework.name)}</title><style>{_STYLE}</style>"
            f"</head><body><h1>themesift: codes and themes</h1><p class='muted'>{_e(data.title)}. "
            "The machine suggests; the analyst decides. Every figure below traces back to "
            f"meaning units listed at the end.</p>{_next_steps(data)}<nav>{nav}</nav>{sections}"
            f"<script>{_SCRIPT}</script></body></html>\n")


# -- public entry points -----------------------------------------------------------------------

def render_report(result: PipelineResult) -> str:
    """The HTML report of a batch run (what ``themesift run`` writes as report.html).

    Parameters
    ----------
    result:
        A :class:`~themesift.pipeline.PipelineResult`; its ``unit_map`` (if any) gives the map.

    Returns
    -------
    str
        One self-contained HTML page.

    Examples
    --------
    >>> html = render_report(ts.run_pipeline("data/sample"))        # doctest: +SKIP
    >>> Path("report.html").write_text(html, encoding="utf-8")      # doctest: +SKIP
    """
    return _render(_from_result(result))


def export_report(study: Study | str | os.PathLike[str], path: str | os.PathLike[str], *,
                  run_id: str | None = None, human: Any = None, pseudonymise: bool = False,
                  force: bool = False, embedder=None) -> Path:
    """Write the HTML report of a study's run: its coding, decisions and agreement figures.

    Parameters
    ----------
    study:
        A :class:`~themesift.study.Study` or its folder.
    path:
        The .html (or .htm) file to write.
    run_id:
        The run to report; the latest complete run by default.
    human:
        An external human coding to compare the machine with, as :func:`themesift.compare`
        takes it: a coding table as DataFrame or .csv/.xlsx path (``id``, ``theme_id``), or
        one of character spans (``doc_id``, ``start``, ``end``, ``theme_id``, as NVivo codes),
        which is carried onto the study's meaning units first (:func:`themesift.align_spans`).
    pseudonymise:
        Replace names of people and places first (:func:`themesift.pseudonymise`).
    force:
        Replace an existing file.
    embedder:
        The :class:`~themesift.embed.Embedder` for the map; by default one for the model the
        run's manifest names (its vectors are cached). If that model is not available here, the
        page says so instead of showing the map.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    InputError
        For another suffix, an existing file (without ``force``), a folder that does not
        exist, a study with no complete run, or an unusable ``human`` coding. No file is left
        behind.

    Examples
    --------
    >>> export_report("my-study", "report.html", human="coder_b.csv")   # doctest: +SKIP
    PosixPath('report.html')
    """
    check_output(path, force=force, suffixes=(".html", ".htm"))
    view = study_view(study, run_id=run_id, pseudonymise=pseudonymise)
    page = _study_page(study, view, human=human, embedder=embedder)
    with atomic_output(path, force=force, suffixes=(".html", ".htm"),
                       pseudonyms=view.pseudonyms) as temp:
        temp.write_text(page, encoding="utf-8")
    return Path(path)


def render_study_report(study: Study | str | os.PathLike[str], run_id: str,
                        unit_coords: pd.DataFrame | None = None) -> str:
    """The HTML report of a study's run, as :func:`export_report` writes it (without an
    external coding), its map from ``unit_coords`` (``unit_id, x, y``) where given: what
    ``themesift run --study`` writes as report.html, so that the page shows the study's
    coding and decisions, not the run's suggestions alone."""
    return _study_page(study, study_view(study, run_id=run_id), unit_coords=unit_coords)


def _study_page(study: Any, view: StudyView, *, human: Any = None, embedder=None,
                unit_coords: pd.DataFrame | None = None) -> str:
    # a human coding of character spans counts the characters of the stored transcripts
    plain = (view if human is None or view.pseudonyms is None
             else study_view(study, run_id=view.run_id))
    data = _from_view(view)
    note = ""
    if unit_coords is None:
        unit_coords, note = _study_unit_map(data, embedder)
    data = dataclasses.replace(data, unit_map=unit_coords, map_note=note,
                               agreement=_agreements(data, view, human, plain.units))
    return _render(data)

