"""Theme-level comparison for inductive runs: the machine's candidate codes matched to human
themes by their member units (:func:`compare_codes` and its :class:`CodeMatchReport`)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pandas loads when a comparison is made, to keep `import themesift` fast
    import pandas as pd

from ..errors import InputError
from ..model import NONE_THEME
from ..text import counted
from ._format import jsonable, md_table
from ._spans import align_spans
from ._tables import (
    first_label,
    is_span_table,
    label_sets,
    load_coding_table,
    none_beside_theme,
    none_beside_theme_warning,
    norm_id,
    project_codings,
    rows_text,
    source_of,
)

logger = logging.getLogger(__name__)

#: What the statuses of the human themes mean, as the markdown report says it.
STATUS_RULE = (
    "A code's majority theme is the one theme most of its units carry; a code whose top "
    "themes tie has none (it supports none of them). **matched**: exactly one code has the "
    "theme as its majority; **split**: two or more codes do; **missed**: no code does "
    "(also a theme whose units no code holds). `coverage` is the share of the theme's units "
    "inside the codes whose majority it is: a matched theme with a low coverage was found "
    "only in part.")


@dataclass(frozen=True, eq=False)
class CodeMatchReport:
    """Machine candidate codes matched to human themes (see :func:`compare_codes`).

    Attributes
    ----------
    summary : dict
        ``n`` (units both sides have), ``n_codes`` (codes holding some of those units: the
        codes in the comparison), ``n_codes_all`` (every code of the run), ``n_themes``
        (human themes of the compared documents), ``purity`` (each code's top theme count,
        summed, over ``n``), ``inverse_purity`` (for each theme the most of its units inside
        one code, summed, over all unit-theme memberships), ``adjusted_rand``, ``nmi``
        (normalized mutual information, arithmetic mean; both on one theme per unit),
        ``matched_overlap`` (share of units on the one-to-one matched pairs), ``n_matched``,
        ``n_missed``, ``n_split``, ``n_tied_codes`` (codes whose top themes tie, so that
        they have no majority theme), ``only_codes`` / ``only_human`` (units of the compared
        documents on one side only), ``left_out_codes`` / ``left_out_human`` (units in
        documents the other side has nothing of, left out of every figure),
        ``multi_label_units``.
    contingency : pandas.DataFrame
        Codes (rows) x human themes (columns): number of units in the code carrying the theme.
    matching : pandas.DataFrame
        The one-to-one (Hungarian) view: ``code_id``, ``theme_id``, ``overlap``, ``code_size``,
        ``theme_size``, ``precision`` (overlap / code size), ``recall`` (overlap / theme size),
        ``jaccard``; pairs with no overlap are left out.
    codes : pandas.DataFrame
        The many-to-one view, one row per code in the comparison: ``code_id``, ``label``
        (when known), ``size`` (its units both sides have), ``majority_theme`` (empty where
        its top themes tie), ``majority_share`` (share of its units carrying its top theme),
        ``tied_themes`` (the themes that tie, ``"; "``-joined; empty when one leads),
        ``matched_theme`` (Hungarian).
    themes : pandas.DataFrame
        One row per human theme: ``theme_id``, ``size`` (its units both sides have),
        ``only_human`` (its units no code holds: small talk and short replies get no code),
        ``status`` (:data:`STATUS_RULE`: ``"matched"``, one code has it as majority;
        ``"split"``, two or more; ``"missed"``, none), ``coverage`` (share of its ``size``
        units inside codes whose majority it is; 0 for a theme no code holds),
        ``majority_codes``, ``covering_codes`` (every code holding some of its units, as
        ``"C01 (5); C03 (2)"``), ``matched_code`` (Hungarian).
    missed, split : tuple of str
        The human themes no code has as majority, and those two or more codes have.
    """

    summary: dict[str, Any]
    contingency: pd.DataFrame
    matching: pd.DataFrame
    codes: pd.DataFrame
    themes: pd.DataFrame
    missed: tuple[str, ...] = field(default=())
    split: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable values (NaN becomes ``None``)."""
        return jsonable({
            "summary": self.summary,
            "contingency": {str(r): {str(c): int(v) for c, v in row.items()}
                            for r, row in self.contingency.iterrows()},
            "matching": self.matching.to_dict("records"),
            "codes": self.codes.to_dict("records"),
            "themes": self.themes.to_dict("records"),
            "missed": list(self.missed),
            "split": list(self.split),
        })

    def to_json(self, **kwargs: Any) -> str:
        """:meth:`to_dict` as a JSON string."""
        return json.dumps(self.to_dict(), **kwargs)

    def to_markdown(self) -> str:
        """A readable report: summary, human themes, codes, one-to-one matching, contingency."""
        import pandas as pd

        s = self.summary
        summ = pd.DataFrame({"value": pd.Series(list(s.values()), dtype=object).tolist()},
                            index=pd.Index(list(s), name="figure"), dtype=object)
        left_out = [f"{counted(k, 'unit')} of {side} in documents the other side has nothing "
                    "of are left out" for k, side in ((s["left_out_codes"], "the codes"),
                                                      (s["left_out_human"], "the human coding"))
                    if k]
        return "\n".join([
            "# Machine codes vs human themes", "",
            f"{s['n']} units both sides have, in {s['n_codes']} of the run's "
            f"{s['n_codes_all']} machine codes; {s['n_themes']} human themes. Missed themes: "
            f"{', '.join(self.missed) or '–'}. Split themes: {', '.join(self.split) or '–'}."
            + "".join(f" {sentence}." for sentence in left_out), "",
            STATUS_RULE, "",
            "## Summary", "", md_table(summ), "",
            "## Human themes", "", md_table(self.themes.set_index("theme_id"), "theme"), "",
            "## Machine codes (many-to-one: each code to its majority theme)", "",
            md_table(self.codes.set_index("code_id"), "code"), "",
            "## One-to-one matching (Hungarian, on shared units)", "",
            md_table(self.matching.set_index("code_id"), "code") if len(self.matching)
            else "No code shares a unit with a theme.", "",
            "## Contingency (rows: codes, columns: human themes)", "",
            md_table(self.contingency, "code \\ theme"), "",
        ])


def compare_codes(codes: Any, human: Any, *, units: Any = None,
                  label_column: str = "theme_id", mapping: Any = None) -> CodeMatchReport:
    """Match machine candidate codes to human themes by their member units.

    Parameters
    ----------
    codes : CandidateCodes or pandas.DataFrame
        :func:`themesift.discover_codes`'s result (its ``assignments``: ``unit_id``,
        ``code_id``), or such a table (a ``doc_id`` column, if it has one, names each unit's
        document).
    human : pandas.DataFrame, path or QdaProject
        Coding table keyed by the same unit ids (``id`` or ``unit_id``, ``theme_id``; several
        rows per unit for several themes), e.g. :func:`align_spans`'s output, as a DataFrame
        or a ``.csv`` / ``.xlsx`` path. A span table (``doc_id``/``source``, ``start``,
        ``end``: a DataFrame, a ``.csv`` / ``.xlsx`` path, a ``.qdpx`` path or a
        :class:`~themesift.QdaProject`) is first carried onto ``units`` with
        :func:`align_spans`, as :func:`compare` does.
    units : pandas.DataFrame, optional
        The run's units table: aligns a span table (default rule) and tells each unit's
        document (``doc_id``), so that the units of transcripts the human did not code are
        left out (``left_out_codes``) instead of counted as coded by the machine alone.
    label_column : str
        Theme column of ``human``.
    mapping : dict or pandas.DataFrame, optional
        For a ``.qdpx``: code names or paths to theme ids, as in :func:`compare` (without
        one, a coding's label is its code's name).

    Returns
    -------
    CodeMatchReport

    Raises
    ------
    InputError
        Codes that are not CandidateCodes or an assignments table; a unit in two codes; a
        human table of several coders; a span table without ``units``; no unit or no
        document in common.

    Notes
    -----
    **Which units.** Where each unit's document is known (``units``, a ``doc_id`` column, or
    spans carried onto the units), only the documents both sides have are compared, as in
    :func:`compare`: the units of a transcript the human did not code are counted apart
    (``left_out_codes``; likewise ``left_out_human``) and a warning names the transcripts.
    In the compared documents, the figures are on the units both sides have (``n``); the
    others are counted (``only_codes``, ``only_human``). The human themes are those of the
    whole human coding of the compared documents: a theme whose units no code holds (small
    talk and short replies get no code) is listed as missed, ``size`` 0, its units under
    ``only_human``, coverage 0. ``none`` is listed only where a unit both sides have carries
    it: a unit the human coded ``none`` that the machine gave no code is no miss.

    The contingency table counts, for each code and theme, the code's units carrying the
    theme (a multi-label unit counts under each of its themes). Views:

    * **many-to-one**: a code's majority theme is the one theme most of its units carry; a
      code whose top themes tie has no majority theme and supports none of them (which theme
      sorts first decides nothing). A theme is *matched* when exactly one code has it as its
      majority, *split* when two or more do, *missed* when none does. The status says where
      the theme went, ``coverage`` (share of its units inside the codes whose majority it
      is) how much of it: the status has no coverage threshold, because any cut-off is the
      analyst's choice and would make ``n_missed`` depend on it; read the two together (a
      matched theme of coverage 0.2 was found in part). ``purity`` = sum over codes of the
      top count / n (a tie does not change it).
    * **one-to-one**: Hungarian assignment (:func:`scipy.optimize.linear_sum_assignment`)
      maximising the total overlap; surplus codes or themes stay unmatched.
    * **ARI / NMI** (:mod:`sklearn.metrics`) need one theme per unit: a multi-label unit
      uses its first theme in sorted order, preferring any theme other than ``none``.

    A unit coded a theme and ``none`` is that theme, as in :func:`compare` (with a warning).

    Examples
    --------
    >>> import pandas as pd
    >>> codes = pd.DataFrame({"unit_id": ["u1", "u2", "u3", "u4"],
    ...                       "code_id": ["C1", "C1", "C2", "C2"]})
    >>> human = pd.DataFrame({"id": ["u1", "u2", "u3", "u4"],
    ...                       "theme_id": ["a", "a", "b", "b"]})
    >>> r = compare_codes(codes, human)
    >>> r.summary["purity"], r.summary["adjusted_rand"], r.missed, r.split
    (1.0, 1.0, (), ())
    """
    import pandas as pd
    from scipy.optimize import linear_sum_assignment
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    labels: dict[str, str] = {}
    run_codes: set[str] = set()
    if hasattr(codes, "assignments"):
        table = getattr(codes, "table", None)
        if table is not None and {"code_id", "label"} <= set(table.columns):
            labels = {str(c): str(lb) for c, lb in zip(table["code_id"], table["label"])}
        if table is not None and "code_id" in table.columns:
            run_codes = {str(c) for c in table["code_id"]}
        assign = codes.assignments
    elif isinstance(codes, pd.DataFrame):
        assign = codes
    else:
        raise InputError(f"codes must be CandidateCodes or a DataFrame, not "
                         f"{type(codes).__name__}")
    missing = [c for c in ("unit_id", "code_id") if c not in assign.columns]
    if missing:
        raise InputError(f"the code assignments lack the column(s) {', '.join(missing)}; "
                         f"their columns are: {', '.join(map(str, assign.columns))}",
                         fix="pass discover_codes()'s result or its assignments table")
    code_of: dict[str, str] = {}
    for u, c in zip(assign["unit_id"], assign["code_id"]):
        uid = norm_id(u)
        if uid in code_of and code_of[uid] != str(c):
            raise InputError(f"unit {uid} is assigned to two codes ({code_of[uid]}, {c})",
                             fix="pass one code per unit")
        code_of[uid] = str(c)
    n_codes_all = len(run_codes | set(code_of.values()))

    # a path or .qdpx is read as compare() reads it, then a span table carried onto the units
    source = source_of(human)
    human = project_codings(human, mapping)
    spans = is_span_table(human)
    if units is not None and spans:
        human = align_spans(human, units, label_column=label_column)
        label_column = "theme_id"
    coded_docs = set(getattr(human, "attrs", {}).get("documents", ()))
    th = load_coding_table(human, "human", "id", label_column, "coder", source)
    if "coder" in th.frame and len(set(th.frame["coder"])) > 1:
        raise InputError(f"{th.name} holds several coders; compare_codes takes one",
                         path=th.path, fix="split the table by coder")
    for warning in th.warnings:
        logger.warning("%s", warning)
    sets = label_sets(th.frame)
    for warning in none_beside_theme_warning(none_beside_theme(th.frame), th.name):
        logger.warning("%s", warning)

    code_of, sets, left_out = _in_shared_documents(
        code_of, sets, coded_docs, _documents_of(units, assign, th.frame))
    common = [u for u in code_of if u in sets]
    if not common:
        raise InputError(
            f"the codes and the human table share no unit ids; codes have ids like "
            f"{', '.join(list(code_of)[:3])}, the human table {', '.join(list(sets)[:3])}",
            fix="it codes character spans: pass the run's units (units=units) to carry them "
                "onto the units" if spans and units is None else
                "key the human coding by the machine unit ids (align_spans(human, units)), "
                "and check that the units are those of the run that made the codes")
    only_human = [u for u in sets if u not in code_of]
    code_ids = sorted({code_of[u] for u in common})
    # every theme of the human coding (of the compared documents), also one no code holds;
    # 'none' on units the machine gave no code is agreement, not a missed theme
    themes = sorted(set().union(*(sets[u] for u in common)).union(
        *(sets[u] - {NONE_THEME} for u in only_human)))
    ci = {c: i for i, c in enumerate(code_ids)}
    ti = {t: i for i, t in enumerate(themes)}
    cont = np.zeros((len(code_ids), len(themes)), dtype=int)
    for u in common:
        for t in sets[u]:
            cont[ci[code_of[u]], ti[t]] += 1
    n = len(common)
    code_size = np.array([sum(code_of[u] == c for u in common) for c in code_ids])
    theme_size = cont.sum(axis=0)  # units carrying each theme
    uncoded = {t: sum(t in sets[u] for u in only_human) for t in themes}

    top = cont.max(axis=1)
    leaders = [[themes[j] for j in np.flatnonzero(row == row.max())] for row in cont]
    # a tie is no majority: which theme sorts first must not decide what a code supports
    majority = [lead[0] if len(lead) == 1 else "" for lead in leaders]
    purity = float(top.sum() / n)
    # inverse purity: for each theme, the most of its units in one code, over all memberships
    inverse_purity = float(cont.max(axis=0).sum() / cont.sum())

    rows_i, cols_i = linear_sum_assignment(-cont)
    match_rows = []
    for r, c in zip(rows_i, cols_i):
        ov = int(cont[r, c])
        if ov == 0:
            continue
        match_rows.append({
            "code_id": code_ids[r], "theme_id": themes[c], "overlap": ov,
            "code_size": int(code_size[r]), "theme_size": int(theme_size[c]),
            "precision": ov / code_size[r], "recall": ov / theme_size[c],
            "jaccard": ov / (code_size[r] + theme_size[c] - ov)})
    matching = pd.DataFrame(match_rows, columns=["code_id", "theme_id", "overlap", "code_size",
                                                 "theme_size", "precision", "recall",
                                                 "jaccard"])
    code_to_theme = dict(zip(matching["code_id"], matching["theme_id"]))
    theme_to_code = dict(zip(matching["theme_id"], matching["code_id"]))

    codes_df = pd.DataFrame({
        "code_id": code_ids,
        "label": [labels.get(c, "") for c in code_ids],
        "size": code_size.astype(int),
        "majority_theme": majority,
        "majority_share": top / code_size,
        "tied_themes": ["; ".join(lead) if len(lead) > 1 else "" for lead in leaders],
        "matched_theme": [code_to_theme.get(c, "") for c in code_ids],
    })
    if not labels:
        codes_df = codes_df.drop(columns="label")
    theme_rows = []
    matched, missed, split = [], [], []
    for j, t in enumerate(themes):
        maj = [code_ids[i] for i in range(len(code_ids)) if majority[i] == t]
        status = "missed" if not maj else ("split" if len(maj) > 1 else "matched")
        {"missed": missed, "split": split, "matched": matched}[status].append(t)
        order = sorted((i for i in range(len(code_ids)) if cont[i, j] > 0),
                       key=lambda i: (-cont[i, j], code_ids[i]))
        covered = sum(int(cont[ci[c], j]) for c in maj)
        theme_rows.append({
            "theme_id": t, "size": int(theme_size[j]), "only_human": uncoded[t],
            "status": status,
            "coverage": covered / theme_size[j] if theme_size[j] else 0.0,
            "majority_codes": "; ".join(maj),
            "covering_codes": "; ".join(f"{code_ids[i]} ({int(cont[i, j])})" for i in order),
            "matched_code": theme_to_code.get(t, ""),
        })
    themes_df = pd.DataFrame(theme_rows)

    def single(labs: frozenset[str]) -> str:
        real = sorted(x for x in labs if x != NONE_THEME)
        return real[0] if real else first_label(labs)

    human_single = [single(sets[u]) for u in common]
    machine_single = [code_of[u] for u in common]
    summary = {
        "n": n, "n_codes": len(code_ids), "n_codes_all": n_codes_all,
        "n_themes": len(themes),
        "purity": purity, "inverse_purity": inverse_purity,
        "adjusted_rand": float(adjusted_rand_score(human_single, machine_single)),
        "nmi": float(normalized_mutual_info_score(human_single, machine_single)),
        "matched_overlap": float(matching["overlap"].sum() / n) if len(matching) else 0.0,
        "n_matched": len(matched), "n_missed": len(missed), "n_split": len(split),
        "n_tied_codes": sum(len(lead) > 1 for lead in leaders),
        "only_codes": sum(u not in sets for u in code_of),
        "only_human": len(only_human),
        "left_out_codes": left_out[0], "left_out_human": left_out[1],
        "multi_label_units": sum(len(sets[u]) > 1 for u in common),
    }
    contingency = pd.DataFrame(cont, index=pd.Index(code_ids, name="code_id"),
                               columns=pd.Index(themes, name="theme_id"))
    return CodeMatchReport(summary=summary, contingency=contingency, matching=matching,
                           codes=codes_df, themes=themes_df, missed=tuple(missed),
                           split=tuple(split))


def _documents_of(units: Any, assign: pd.DataFrame, human: pd.DataFrame) -> dict[str, str]:
    """Each unit id's document, from the units table and any doc_id column of the code
    assignments or of the human coding (``doc``, as :func:`load_coding_table` names it)."""
    doc_of: dict[str, str] = {}
    if "doc" in human:
        doc_of.update((u, d) for u, d in zip(human["id"], human["doc"]) if d)
    if "doc_id" in assign.columns:
        doc_of.update((norm_id(u), str(d).strip()) for u, d in zip(assign["unit_id"],
                                                                   assign["doc_id"]))
    if units is not None and {"unit_id", "doc_id"} <= set(units.columns):
        doc_of.update((norm_id(u), str(d).strip()) for u, d in zip(units["unit_id"],
                                                                   units["doc_id"]))
    return doc_of


def _in_shared_documents(code_of: dict[str, str], sets: dict[str, frozenset[str]],
                         coded_docs: set[str], doc_of: dict[str, str]
                         ) -> tuple[dict[str, str], dict[str, frozenset[str]], tuple[int, int]]:
    """The codes' and the human's units without those in documents the other side has
    nothing of (as :func:`compare` rules), and how many each side lost; everything where a
    side's documents are unknown. ``coded_docs``: the documents the human coded (spans
    carried onto units know them even where no span reached a unit)."""
    human_docs = coded_docs | {doc_of[u] for u in sets if u in doc_of}
    code_docs = {doc_of[u] for u in code_of if u in doc_of}
    unknown = sum(u not in doc_of for u in code_of)
    if human_docs and unknown:
        logger.warning(
            "The documents of %s of the codes are unknown, so those of transcripts the human "
            "did not code count as coded by the codes alone (only_codes): pass the run's "
            "units (units=units) to leave them out", counted(unknown, "unit"))
    if not (human_docs and code_docs):
        return code_of, sets, (0, 0)
    shared = human_docs & code_docs
    if not shared:
        raise InputError(
            f"The codes and the human coding share no document: the codes' units are in "
            f"{rows_text(sorted(code_docs), 3)}; the human coded "
            f"{rows_text(sorted(human_docs), 3)}",
            fix="Compare a coding of the transcripts the run coded (the doc_id values must be "
                "the transcript ids of the units)")
    kept_codes = {u: c for u, c in code_of.items() if u not in doc_of or doc_of[u] in shared}
    kept_sets = {u: s for u, s in sets.items() if u not in doc_of or doc_of[u] in shared}
    left_out = (len(code_of) - len(kept_codes), len(sets) - len(kept_sets))
    for k, whose, docs, other in ((left_out[0], "the codes", code_docs, "the human did not code"),
                                  (left_out[1], "the human coding", human_docs,
                                   "no code reaches")):
        if k:
            logger.warning(
                "%s of %s in documents %s (%s) are left out of every figure (left_out_%s); "
                "the comparison covers %s", counted(k, "unit"), whose, other,
                rows_text(sorted(docs - shared), 5),
                "codes" if whose == "the codes" else "human", rows_text(sorted(shared), 5))
    return kept_codes, kept_sets, left_out
