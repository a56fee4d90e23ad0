"""Different segment boundaries: human coding of character spans (NVivo, REFI-QDA) carried
onto the machine's meaning units (:func:`align_spans`), and character-level agreement per
source and theme (:func:`character_agreement`)."""

from __future__ import annotations

import logging
from os import PathLike
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pandas loads when a comparison is made, to keep `import themesift` fast
    import pandas as pd

from ..errors import InputError
from ..model import NONE_THEME
from ..text import counted, is_missing
from ._tables import (
    NA_HINT,
    SPAN_COLUMNS,
    clip,
    loose_text,
    norm_id,
    norm_theme,
    own_columns,
    read_table_file,
    row_numbers,
    rows_error,
    rows_text,
)

logger = logging.getLogger(__name__)

ALIGN_COLUMNS = ["id", "theme_id", "coder", "doc_id", "unit_start", "unit_end", "overlap_chars",
                 "unit_coverage", "span_coverage", "n_spans", "span_ids"]


def _span_frame(table: Any, side: str, doc_column: str, *, need_theme: bool = True,
                units: Any = None, label_column: str = "theme_id",
                coder_column: str = "coder") -> pd.DataFrame:
    """A span table as ``_row, span_id, doc, start, end, theme, [coder], [text]``.

    Accepts ``doc_column`` or ``source`` for the document, ``label_column`` for the theme,
    ``coder_column`` for the coder (these, start, end and text in any case: ``Start``), and
    (with ``units``) a table keyed by unit ids without ``start``/``end``, whose spans are
    looked up in ``units``.
    """
    import pandas as pd

    path = None
    if isinstance(table, (str, PathLike)):
        path = str(table)
        frame = read_table_file(table, f"span table {side}")
    elif isinstance(table, pd.DataFrame):
        frame = table.copy()
    else:
        raise InputError(f"Span table {side} must be a pandas DataFrame or a path to a .csv or "
                         f".xlsx file, not {type(table).__name__}")
    frame.columns = [str(c).strip() for c in frame.columns]
    given = ", ".join(frame.columns) or "(none)"
    frame = frame.rename(columns={own: name for name, own in own_columns(
        frame.columns, (*SPAN_COLUMNS, doc_column, label_column, coder_column, "text")).items()})
    rows = row_numbers(frame, path is not None)  # before a merge renumbers the rows
    label = path or f"Span table {side}"
    if units is not None and not {"start", "end"} <= set(frame.columns):
        idc = "unit_id" if "unit_id" in frame.columns else "id"
        if idc not in frame.columns:
            raise InputError(f"{label} has neither start/end columns nor a unit id column; its "
                             f"columns are: {', '.join(frame.columns)}", path=path,
                             fix="give character spans (doc_id, start, end) or unit ids")
        u = _units_frame(units)
        frame = frame.rename(columns={idc: "_uid"})
        frame = frame.drop(columns=[c for c in ("doc_id", "start", "end") if c in frame.columns])
        known = set(u["unit_id"])
        bad = [str(x) for x in frame["_uid"] if norm_id(x) not in known]
        if bad:
            raise InputError(f"{label}: {len(bad)} unit id(s) not in the units table, e.g. "
                             f"{', '.join(bad[:3])}", path=path,
                             fix="pass the units table the suggestions were made from")
        frame["_uid"] = [norm_id(x) for x in frame["_uid"]]
        frame = frame.merge(u.rename(columns={"unit_id": "_uid"})[["_uid", "doc_id", "start",
                                                                    "end"]],
                            on="_uid", how="left")
        frame = frame.rename(columns={"_uid": "id"})
    doc = doc_column if doc_column in frame.columns else (
        "source" if "source" in frame.columns else None)
    needed = ["start", "end"] + ([label_column] if need_theme else [])
    missing = ([doc_column] if doc is None else []) + [c for c in needed
                                                       if c not in frame.columns]
    if missing:
        raise InputError(f"{'The span table' if path else label} lacks the column(s) "
                         f"{', '.join(missing)}; its columns are: {given}", path=path,
                         fix=f"Name the columns of a span table {doc_column} (or source), "
                             f"start, end and {label_column} in its header row (in any case, "
                             "e.g. Doc_ID, Start), or give the theme column's name: themesift "
                             "compare --label-column NAME (label_column= in Python)")
    out = pd.DataFrame({"_row": rows})
    out["doc"] = ["" if is_missing(v) else str(v).strip() for v in frame[doc].tolist()]
    starts = pd.to_numeric(frame["start"], errors="coerce").to_numpy(dtype=float)
    ends = pd.to_numeric(frame["end"], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(starts) | ~np.isfinite(ends) | (starts < 0) | (ends <= starts) | (
        starts != np.floor(starts)) | (ends != np.floor(ends))
    bad |= (out["doc"] == "").to_numpy()
    if bad.any():
        raise rows_error(label, path, f"Empty {doc} or bad character span (need whole "
                         "numbers 0 <= start < end)", [r for r, b in zip(rows, bad) if b],
                         "Give every row its document and a non-empty span")
    out["start"] = starts.astype(int)
    out["end"] = ends.astype(int)
    if need_theme:
        out["theme"] = [norm_theme(v) for v in frame[label_column].tolist()]
        if (out["theme"] == "").any():
            raise rows_error(label, path, f"Empty {label_column}",
                             out.loc[out["theme"] == "", "_row"].tolist(),
                             f"Give every span a theme (or '{NONE_THEME}')"
                             + ("" if path else f"; {NA_HINT}"))
    coders = (["" if is_missing(v) else str(v).strip() for v in frame[coder_column]]
              if coder_column in frame.columns else [])
    if any(coders):  # a coder column left blank (a .qdpx naming no users) names no coder
        out["coder"] = coders
        if (out["coder"] == "").any():
            raise rows_error(label, path, f"Empty {coder_column}",
                             out.loc[out["coder"] == "", "_row"].tolist(),
                             "Name the coder on every row")
    if need_theme:
        keys = [c for c in ("coder", "doc", "start", "end", "theme") if c in out]
        dup = out.duplicated(keys, keep=False).to_numpy()
        if dup.any():  # as in a coding table of unit ids: merging them would hide the slip
            raise rows_error(label, path, "The same span coded with the same theme twice"
                             + (" by the same coder" if "coder" in out else ""),
                             [r for r, d in zip(rows, dup) if d],
                             "Keep one row per span and theme (several rows per span are fine "
                             "when their themes differ)")
    if "text" in frame.columns:
        out["text"] = [None if is_missing(v) else str(v) for v in frame["text"].tolist()]
    if "id" in frame.columns:
        out["span_id"] = [norm_id(v) for v in frame["id"]]
    else:
        out["span_id"] = [f"{d}:{s}-{e}" for d, s, e in zip(out["doc"], out["start"], out["end"])]
    return out


def _units_frame(units: Any) -> pd.DataFrame:
    import pandas as pd

    if not isinstance(units, pd.DataFrame):
        raise InputError(f"units must be the units table (a DataFrame from themesift.segment), "
                         f"not {type(units).__name__}")
    missing = [c for c in ("unit_id", "doc_id", "start", "end") if c not in units.columns]
    if missing:
        raise InputError(f"the units table lacks the column(s) {', '.join(missing)}; its "
                         f"columns are: {', '.join(map(str, units.columns))}",
                         fix="pass the table returned by themesift.segment()")
    u = units.copy()
    u["unit_id"] = [norm_id(v) for v in u["unit_id"]]
    u["doc_id"] = [str(v).strip() for v in u["doc_id"]]
    starts = pd.to_numeric(u["start"], errors="coerce")
    ends = pd.to_numeric(u["end"], errors="coerce")
    bad = (starts.isna() | ends.isna() | (starts < 0) | (ends < starts)
           | (starts % 1 != 0) | (ends % 1 != 0)).to_numpy()
    if bad.any():  # a units.csv edited by hand
        raise InputError(
            f"the units table has an empty or bad character span (need whole numbers 0 <= "
            f"start <= end) in row(s) {rows_text([str(i + 2) for i in np.flatnonzero(bad)])} "
            "(the header is row 1, as in a spreadsheet)",
            fix="pass the table returned by themesift.segment(), or the units.csv of a run as "
                "it was written")
    u["start"] = starts.astype(int)
    u["end"] = ends.astype(int)
    if u["unit_id"].duplicated().any():
        dups = u.loc[u["unit_id"].duplicated(), "unit_id"].tolist()
        raise InputError(f"the units table repeats unit ids: {rows_text(dups)}",
                         fix="pass one row per meaning unit")
    return u


def _transcript_chars(u: pd.DataFrame) -> dict[str, list[str | None]]:
    """Each document's text as far as the units show it: its character at each offset a
    unit's exact text covers, None elsewhere (a unit whose text is not as long as its span
    shows nothing)."""
    chars: dict[str, list[str | None]] = {}
    for doc, start, end, text in zip(u["doc_id"], u["start"], u["end"], u["text"]):
        if is_missing(text) or len(str(text)) != end - start:
            continue
        known = chars.setdefault(doc, [])
        known.extend([None] * (end - len(known)))
        known[start:end] = str(text)
    return chars


#: Checkable spans needed before differing ones stop a comparison: with fewer, most of them
#: differing may be a few rows typed by hand rather than offsets counted on another text.
SURE_SPANS = 5


def _check_span_text(spans: pd.DataFrame, u: pd.DataFrame, label: str, path: str | None
                     ) -> tuple[str, ...]:
    """Coded spans whose own text (a ``text`` column) is not the transcript's text at their
    offsets, where the units' texts show it: an error when most of the spans that can be
    checked differ and there are :data:`SURE_SPANS` or more of them (offsets counted on
    another text), else a warning naming them."""
    if "text" not in spans or "text" not in u:
        return ()
    chars = _transcript_chars(u)
    checked, wrong = 0, []
    for row, doc, start, end, text in zip(spans["_row"], spans["doc"], spans["start"],
                                          spans["end"], spans["text"]):
        there = chars.get(doc, [])[start:end]
        if text is None or len(there) != end - start or None in there:
            continue
        checked += 1
        # as an analyst's copy, case aside too: offsets counted on another text shift the
        # letters, they don't change their case
        if loose_text("".join(there)) != loose_text(text):
            wrong.append((row, start, end, text, "".join(there)))
    if not wrong:
        return ()
    at = "line" if path and not path.lower().endswith(".xlsx") else "row"
    rows = [row for row, *_ in wrong]
    shown = "; ".join(f"{at} {row}, characters {start}-{end}: the row "
                      f"says {clip(text, 60)}, the transcript there says {clip(there, 60)}"
                      for row, start, end, text, there in wrong[:3])
    if len(wrong) > 3:  # each row named once: the first three with their text, then the rest
        shown += f"; also {at}s {rows_text(rows[3:])}"
    what = (f"{len(wrong)} of the {checked} coded spans that the units' text lets us check "
            f"are not the transcript's text at their offsets ({shown})")
    fix = ("Offsets must count the characters of the transcript as themesift reads it (line "
           "endings as one character, \\n, and no byte order mark) and must be those of the "
           "units' transcripts: correct the offsets, or export the spans again from that text "
           "(e.g. QdaProject.to_coding_table())")
    if checked >= SURE_SPANS and 2 * len(wrong) > checked:
        # the rows are in the message already: no "line N" before it, no "in rows ..." after
        raise InputError(what if path else f"{label}: {what} (the header is row 1, as in a "
                         "spreadsheet)", path=path, fix=fix)
    header = "" if path else " (the header is row 1, as in a spreadsheet)"
    return (f"{what}, in {label}{header}: they are aligned by their offsets. {fix}.",)


def _covered(intervals: list[tuple[int, int]]) -> int:
    """Number of characters covered by the union of half-open intervals."""
    total, cur_s, cur_e = 0, None, None
    for s, e in sorted(intervals):
        if cur_e is None or s > cur_e:
            if cur_e is not None:
                total += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    if cur_e is not None:
        total += cur_e - cur_s
    return total


def align_spans(human: Any, units: Any, *, min_overlap: float = 0.5,
                doc_column: str = "doc_id", label_column: str = "theme_id",
                coder_column: str = "coder") -> pd.DataFrame:
    """Carry character-span coding (e.g. NVivo) onto the machine's meaning units.

    Parameters
    ----------
    human : pandas.DataFrame or path
        Coding table of character spans: ``doc_id`` (or ``source``), ``start``, ``end``
        (half-open character offsets into the document text), ``theme_id``, optionally
        ``coder``, ``id`` and ``text``; e.g. :meth:`QdaProject.to_coding_table` or a CSV.
    units : pandas.DataFrame
        The machine's units table (:func:`themesift.segment`): ``unit_id``, ``doc_id``,
        ``start``, ``end`` (the same character offsets).
    min_overlap : float in (0, 1]
        Share of characters the overlap must cover (see the rule below).
    doc_column : str
        Document column of ``human`` (``source`` is used when it is absent).
    label_column, coder_column : str
        Theme and coder columns of ``human``; the result calls them ``theme_id`` and
        ``coder``.

    Returns
    -------
    pandas.DataFrame
        A coding table keyed by the **machine unit ids**, one row per (unit, theme[, coder]):
        ``id`` (= unit_id), ``theme_id``, ``coder`` (only when ``human`` has one), ``doc_id``,
        ``unit_start``, ``unit_end``, ``overlap_chars`` (characters of the unit covered by
        the qualifying spans of that theme), ``unit_coverage`` (= overlap_chars / unit
        length), ``span_coverage`` (the largest share of one qualifying span inside the unit),
        ``n_spans`` and ``span_ids`` (``"; "``-joined), plus ``text`` when ``units`` has it.
        ``compare(aligned, machine_suggestions)`` works on it directly.

        ``aligned.attrs`` holds the bookkeeping: ``"uncoded_units"`` (unit ids of the
        documents the human coded that no qualifying span reached: they are **left out** of the
        table, no theme is invented for them, and ``compare`` lists them as coded by one side
        only), ``"unaligned_spans"`` (span ids that coded no unit), ``"unaligned_reasons"``
        (span id -> why: ``"document"``, a document not in ``units``; ``"no unit"``, text no
        unit covers, such as a moderator's question; ``"overlap"``, an overlap below the
        rule, e.g. a very short span straddling two long units), ``"documents"`` (the
        documents the human coded), ``"none_overruled"`` (units reached by spans of a theme
        and of ``none``, see below), ``"warnings"`` (spans whose text is not the transcript's
        at their offsets), with a coder column ``"by_coder"`` (``documents``,
        ``unaligned_spans``, ``uncoded_units`` and ``none_overruled`` of each coder) and
        ``"summary"`` (counts and the rule).

    Notes
    -----
    **Overlap rule.** Within one document, a human span codes a machine unit when their
    character overlap covers at least ``min_overlap`` of the *unit's* characters **or** at
    least ``min_overlap`` of the *span's* characters. So a short span inside a long unit codes
    that unit, and a long span stretching over several units codes each unit it mostly
    covers. A span can code several units and a unit can receive several spans; several
    themes on one unit become several rows (multi-label). A unit that spans of a theme and
    spans coded ``none`` both reach (for one coder) is that theme: ``none`` is the absence of
    a theme, not a theme beside it (``summary["none_overruled"]`` counts such units). Offsets
    must refer to the same text (the transcript text as read by
    :func:`themesift.read_corpus`): where ``human`` has a ``text`` column and the units'
    texts show the transcript at a span's offsets, they are checked (whitespace aside); an
    :class:`~themesift.errors.InputError` names the rows when most checked spans differ, a
    warning when a few do.

    Examples
    --------
    >>> import pandas as pd
    >>> units = pd.DataFrame({"unit_id": ["u1", "u2"], "doc_id": ["d", "d"],
    ...                       "start": [0, 100], "end": [100, 200]})
    >>> human = pd.DataFrame({"doc_id": ["d"], "start": [10], "end": [30],
    ...                       "theme_id": ["hope"]})
    >>> align_spans(human, units)[["id", "theme_id", "overlap_chars"]].values.tolist()
    [['u1', 'hope', 20]]
    """
    import pandas as pd

    if not (isinstance(min_overlap, (int, float)) and 0 < float(min_overlap) <= 1):
        raise InputError(f"min_overlap must be a share in (0, 1], not {min_overlap!r}",
                         fix="e.g. min_overlap=0.5")
    spans = _span_frame(human, "human", doc_column, label_column=label_column,
                        coder_column=coder_column)
    u = _units_frame(units)
    has_coder = "coder" in spans
    if spans.empty:
        raise InputError("The human coding has no coded spans",
                         path=str(human) if isinstance(human, (str, PathLike)) else None,
                         fix="Give one row per coded span: doc_id (or source), start, end, "
                             "theme_id")
    human_docs = set(spans["doc"])
    unit_docs = set(u["doc_id"])
    if not human_docs & unit_docs:
        raise InputError(
            f"The human spans and the units share no document: the spans name "
            f"{rows_text(sorted(human_docs), 3)}; the units name {rows_text(sorted(unit_docs), 3)}",
            fix=f"Make the human '{doc_column}' (or 'source') values the transcript ids, the "
                "units' doc_id")
    path = str(human) if isinstance(human, (str, PathLike)) else None
    warnings = _check_span_text(spans, u, path or "the span table", path)
    for warning in warnings:
        logger.warning("%s", warning)

    by_doc = {d: g for d, g in u.groupby("doc_id", sort=False)}
    hits: dict[tuple, dict[str, Any]] = {}
    span_used: dict[str, bool] = {}
    reasons: dict[str, str] = {}  # span id -> why it codes no unit, while it codes none
    by_coder: dict[str, dict[str, str]] = {}  # coder -> {span id: document}
    for sp in spans.itertuples(index=False):
        span_used.setdefault(sp.span_id, False)
        if has_coder:
            by_coder.setdefault(sp.coder, {})[sp.span_id] = sp.doc
        g = by_doc.get(sp.doc)
        if g is None:
            reasons.setdefault(sp.span_id, "document")
            continue
        us, ue = g["start"].to_numpy(), g["end"].to_numpy()
        ov = np.minimum(ue, sp.end) - np.maximum(us, sp.start)
        ulen = np.maximum(ue - us, 1)
        slen = sp.end - sp.start
        ok = (ov > 0) & ((ov >= min_overlap * ulen) | (ov >= min_overlap * slen))
        if not ok.any():
            reasons.setdefault(sp.span_id, "overlap" if (ov > 0).any() else "no unit")
        for i in np.flatnonzero(ok):
            span_used[sp.span_id] = True
            uid = g["unit_id"].iloc[i]
            key = (uid, sp.theme, sp.coder if has_coder else "")
            rec = hits.setdefault(key, {"intervals": [], "span_cov": 0.0, "spans": []})
            rec["intervals"].append((max(int(us[i]), sp.start), min(int(ue[i]), sp.end)))
            rec["span_cov"] = max(rec["span_cov"], float(ov[i]) / slen)
            if sp.span_id not in rec["spans"]:
                rec["spans"].append(sp.span_id)

    themed = {(uid, coder) for uid, theme, coder in hits if theme != NONE_THEME}
    overruled = {key for key in hits if key[1] == NONE_THEME and (key[0], key[2]) in themed}
    for key in overruled:
        del hits[key]
    uinfo = u.set_index("unit_id")
    order = {uid: i for i, uid in enumerate(u["unit_id"])}
    records = []
    for (uid, theme, coder), rec in sorted(hits.items(),
                                           key=lambda kv: (order[kv[0][0]], kv[0][2], kv[0][1])):
        row = uinfo.loc[uid]
        chars = _covered(rec["intervals"])
        ulen = max(int(row["end"]) - int(row["start"]), 1)
        records.append({"id": uid, "theme_id": theme, "coder": coder, "doc_id": row["doc_id"],
                        "unit_start": int(row["start"]), "unit_end": int(row["end"]),
                        "overlap_chars": chars, "unit_coverage": chars / ulen,
                        "span_coverage": rec["span_cov"], "n_spans": len(rec["spans"]),
                        "span_ids": "; ".join(rec["spans"])})
    out = pd.DataFrame(records, columns=ALIGN_COLUMNS)
    out = out.astype({"unit_start": "int64", "unit_end": "int64", "overlap_chars": "int64",
                      "n_spans": "int64", "unit_coverage": float, "span_coverage": float})
    if not has_coder:
        out = out.drop(columns="coder")
    if "text" in u.columns:
        out["text"] = out["id"].map(uinfo["text"])
    coded = set(out["id"])
    uncoded = [x for x, d in zip(u["unit_id"], u["doc_id"]) if d in human_docs and x not in coded]
    unaligned = [s for s, used in span_used.items() if not used]
    out.attrs["uncoded_units"] = uncoded
    out.attrs["unaligned_spans"] = unaligned
    out.attrs["unaligned_reasons"] = {s: reasons[s] for s in unaligned}
    out.attrs["documents"] = sorted(human_docs)
    coded_by: dict[str, set[str]] = {}
    for uid, _, coder in hits:
        coded_by.setdefault(coder, set()).add(uid)
    out.attrs["none_overruled"] = len(overruled)
    out.attrs["warnings"] = warnings
    if has_coder:
        out.attrs["by_coder"] = {
            c: {"documents": sorted(set(docs.values())),
                "unaligned_spans": [s for s in docs if not span_used[s]],
                "uncoded_units": [x for x, d in zip(u["unit_id"], u["doc_id"]) if d in
                                  docs.values() and x not in coded_by.get(c, ())],
                "none_overruled": sum(key[2] == c for key in overruled)}
            for c, docs in sorted(by_coder.items())}
    out.attrs["summary"] = {
        "rule": (f"a span codes a unit when the overlap covers >= {min_overlap:g} of the "
                 f"unit's characters or >= {min_overlap:g} of the span's characters"),
        "min_overlap": float(min_overlap),
        "n_spans": int(len(span_used)),
        "n_spans_aligned": int(len(span_used) - len(unaligned)),
        "n_units": int(sum(d in human_docs for d in u["doc_id"])),
        "n_units_coded": int(len(coded)),
        "n_units_uncoded": int(len(uncoded)),
        "documents_not_in_units": sorted(human_docs - unit_docs),
        "none_overruled": len(overruled),
    }
    return out


def _doc_lengths(lengths: Any) -> dict[str, int] | None:
    import pandas as pd

    if lengths is None:
        return None
    if isinstance(lengths, pd.DataFrame):
        key = next((c for c in ("doc_id", "name", "id", "source") if c in lengths.columns), None)
        if key is None or "text" not in lengths.columns:
            raise InputError("lengths as a table needs a doc_id (or name) and a text column",
                             fix="pass {doc_id: n_characters}, a Corpus, or "
                                 "QdaProject.sources")
        return {str(k): len(str(t)) for k, t in zip(lengths[key], lengths["text"])}
    if isinstance(lengths, dict) or hasattr(lengths, "items"):
        return {str(k): int(v) for k, v in lengths.items()}
    try:
        return {str(t.id): len(t.text) for t in lengths}
    except (AttributeError, TypeError) as exc:
        raise InputError(f"cannot read document lengths from a {type(lengths).__name__}",
                         fix="pass {doc_id: n_characters}, a Corpus, or "
                             "QdaProject.sources") from exc


def character_agreement(human: Any, machine_spans: Any, *, lengths: Any = None,
                        units: Any = None, doc_column: str = "doc_id") -> pd.DataFrame:
    """NVivo-style character-level agreement per source and theme.

    Parameters
    ----------
    human, machine_spans : pandas.DataFrame or path
        Span tables (``doc_id`` or ``source``, ``start``, ``end``, ``theme_id``), side ``a``
        and ``b``. ``machine_spans`` may instead be keyed by unit ids (``unit_id`` or ``id``,
        ``theme_id``, e.g. :func:`themesift.suggest_units`'s table) when ``units`` is given:
        each unit then codes its own characters.
    lengths : mapping, Corpus or DataFrame, optional
        Number of characters per document (``{doc_id: n}``, a :class:`themesift.Corpus`, or a
        table with ``doc_id``/``name`` and ``text`` such as ``QdaProject.sources``). Without
        it a document's length is the largest ``end`` in either table, which leaves out the
        uncoded tail and so understates agreement on "not coded"; pass it when you can.
    units : pandas.DataFrame, optional
        Units table, to turn a unit-keyed ``machine_spans`` into spans.
    doc_column : str
        Document column (``source`` is used when it is absent).

    Returns
    -------
    pandas.DataFrame
        One row per (source, theme) coded by either side in that source, over the sources
        both sides coded (a source one side coded nothing of is left out, with a warning, and
        named in ``attrs["left_out_documents"]``, as :func:`compare` leaves out its units):
        ``source``,
        ``theme_id``, ``n_chars`` (document length), ``chars_a``, ``chars_b``, ``chars_both``
        (characters coded with the theme; overlapping spans count once), the NVivo
        percentages ``agreement_pct`` (both coded + both not coded), ``a_and_b_pct``,
        ``not_a_and_not_b_pct``, ``disagreement_pct``, ``a_not_b_pct``, ``b_not_a_pct``, and
        ``kappa``: Cohen's kappa over characters, ``(po - pe) / (1 - pe)`` with ``po`` the
        agreement share and ``pe = pa*pb + (1-pa)(1-pb)``. Where ``pe`` is 1 kappa is NaN
        (NVivo shows 1 there when the sides agree completely).

    Raises
    ------
    themesift.errors.InputError
        Missing columns, bad spans, a span past the end of its document, several coders on
        one side.

    Examples
    --------
    >>> import pandas as pd
    >>> a = pd.DataFrame({"doc_id": ["d"], "start": [0], "end": [50], "theme_id": ["x"]})
    >>> b = pd.DataFrame({"doc_id": ["d"], "start": [25], "end": [75], "theme_id": ["x"]})
    >>> r = character_agreement(a, b, lengths={"d": 100})
    >>> float(r["agreement_pct"][0]), float(r["kappa"][0])
    (50.0, 0.0)
    """
    import pandas as pd

    sa = _span_frame(human, "A", doc_column)
    sb = _span_frame(machine_spans, "B", doc_column, units=units)
    for s, name in ((sa, "A"), (sb, "B")):
        if "coder" in s and len(set(s["coder"])) > 1:
            raise InputError(f"span table {name} holds {len(set(s['coder']))} coders; "
                             "character_agreement takes one coder per table",
                             fix="split the table by coder")
    given = _doc_lengths(lengths)
    docs_a, docs_b = set(sa["doc"]), set(sb["doc"])
    docs = [d for d in dict.fromkeys(sa["doc"]) if d in docs_b]
    if not docs:
        raise InputError(
            f"The two span tables code no document in common: A codes "
            f"{rows_text(sorted(docs_a), 3) or 'nothing'}; B codes "
            f"{rows_text(sorted(docs_b), 3) or 'nothing'}",
            fix="Compare codings of the same transcripts (the doc_id values must be the "
                "transcript ids)")
    # As compare() does: a document one side coded nothing of is left out, not scored as
    # agreement on "not coded" (a coder who coded one of four transcripts is not charged
    # with the other three).
    left_out = sorted((docs_a | docs_b) - set(docs))
    if left_out:
        logger.warning("character_agreement leaves out %s that only one side coded: %s",
                       counted(len(left_out), "document"), rows_text(left_out, 5))
    rows = []
    for d in docs:
        ga, gb = sa[sa["doc"] == d], sb[sb["doc"] == d]
        far = int(max(ga["end"].max() if len(ga) else 0, gb["end"].max() if len(gb) else 0))
        if given is not None:
            if d not in given:
                raise InputError(f"no length given for document '{d}'",
                                 fix="include every document of both tables in lengths")
            n = given[d]
            if far > n:
                raise InputError(f"a span in document '{d}' ends at character {far}, past the "
                                 f"document's length {n}",
                                 fix="check that the offsets refer to the same text")
        else:
            n = far
        for theme in sorted(set(ga["theme"]) | set(gb["theme"])):
            ma = np.zeros(n, dtype=bool)
            mb = np.zeros(n, dtype=bool)
            for s, e in zip(ga.loc[ga["theme"] == theme, "start"],
                            ga.loc[ga["theme"] == theme, "end"]):
                ma[s:e] = True
            for s, e in zip(gb.loc[gb["theme"] == theme, "start"],
                            gb.loc[gb["theme"] == theme, "end"]):
                mb[s:e] = True
            both = int((ma & mb).sum())
            neither = int((~ma & ~mb).sum())
            a_only = int((ma & ~mb).sum())
            b_only = int((~ma & mb).sum())
            pa, pb = ma.mean(), mb.mean()
            po = (both + neither) / n
            pe = pa * pb + (1 - pa) * (1 - pb)
            kappa = float("nan") if np.isclose(pe, 1.0) else float((po - pe) / (1 - pe))
            rows.append({
                "source": d, "theme_id": theme, "n_chars": n, "chars_a": int(ma.sum()),
                "chars_b": int(mb.sum()), "chars_both": both,
                "agreement_pct": 100.0 * po, "a_and_b_pct": 100.0 * both / n,
                "not_a_and_not_b_pct": 100.0 * neither / n,
                "disagreement_pct": 100.0 * (a_only + b_only) / n,
                "a_not_b_pct": 100.0 * a_only / n, "b_not_a_pct": 100.0 * b_only / n,
                "kappa": kappa,
            })
    out = pd.DataFrame(rows, columns=[
        "source", "theme_id", "n_chars", "chars_a", "chars_b", "chars_both", "agreement_pct",
        "a_and_b_pct", "not_a_and_not_b_pct", "disagreement_pct", "a_not_b_pct", "b_not_a_pct",
        "kappa"])
    out.attrs["left_out_documents"] = left_out
    return out
