"""Agreement statistics: machine vs human and human vs human coding.

Inputs are *coding tables* (DESIGN.md, "Coding tables"): one row per (unit, theme) with the
columns ``id`` and ``theme_id``; several rows for one id mean the unit carries several themes
(multi-label); ``none`` is a legal theme meaning "fits no theme". The unit-suggestion table of
:func:`themesift.suggest_units` (``unit_id``, ``theme_id``) is accepted as it is.

Rules this module follows (a method section can cite them):

* **Which units.** Statistics are computed on the units coded by *both* sides. Units coded by
  only one side are counted (``only_a`` / ``only_b``) and listed in
  :attr:`AgreementReport.disagreements`; they are never silently dropped. Where each unit's
  document is known (a ``units`` table, a ``doc_id`` column, or spans carried onto units),
  only the documents both sides coded are compared: the units of a transcript one side did
  not code at all are counted apart (``left_out_a`` / ``left_out_b``) and a warning names
  the transcripts. Coded spans that reach no meaning unit are counted
  (``unaligned_spans_a`` / ``_b``) and named in a warning.
* **Single-label vs multi-label.** ``percent_agreement`` is the share of units whose whole set
  of themes is the same on both sides (for single-label coding, the ordinary percent
  agreement); averaging present/absent agreement over themes instead would be inflated by the
  many themes every unit lacks (0.99 with a codebook of hundreds of codes, where barely half
  the units have the same codes). When every shared unit carries exactly one theme on both
  sides, Cohen's kappa, Krippendorff's alpha (nominal) and Gwet's AC1 are the ordinary
  single-label statistics over the themes. When any shared unit carries two or more themes on
  either side, each theme is scored as present/absent per unit and these are the *unweighted
  mean over themes* of the per-theme binary statistics (the per-theme values are in
  :attr:`AgreementReport.per_theme`; the mean present/absent agreement is
  ``multilabel["macro_percent_agreement"]``). No figure depends on how the themes are spelled.
* **Several coders.** :func:`compare_coders` follows the same rules, so two coders get the
  same percent agreement, Cohen's kappa and alpha whether they share one table or each has
  their own (each pair's figures are :func:`compare`'s); over all coders, every figure is on
  the units coded by two or more coders (``n``), as :func:`compare` uses the shared units: a
  unit one coder alone coded is left out, and a warning counts such units per coder.
* **Confusion matrix.** A single-label view of the units with one theme on each side; the
  units with several themes on either side are left out of it, and a warning counts them.
* **Undefined statistics.** When expected agreement is 1 (e.g. both sides used one theme for
  every unit) kappa and alpha are undefined and reported as NaN (``None`` in
  :meth:`AgreementReport.to_dict`). AC1's chance agreement stays at most 0.5 wherever two
  categories or more occur (Gwet 2014), so a theme's present/absent AC1 is defined even when
  both sides gave it to every unit (1 where they agree); with a single theme in all (one
  category) it is undefined too. So in multi-label mode kappa and alpha are the means over
  the themes where they are defined, AC1 over all of them, and a warning names the themes
  the kappa and alpha means leave out. Precision/recall/F1 with a zero denominator are NaN.
* **Duplicates.** A repeated (id, theme) row (per coder) is an error naming its rows: in a hand
  coding table it is almost always a copy-paste slip, and silently collapsing it would hide
  that. The same holds for a span coded twice with one theme (per coder) in a table of
  character spans.
* **None beside a theme.** A unit one coder coded a theme and ``none`` (two rows of a coding
  table, or spans of both carried onto the unit) is that theme: ``none`` is the absence of a
  theme, not a theme beside it. A warning counts such units.
* **Span offsets.** Where a span table has a ``text`` column and the units' texts show the
  transcript at a span's offsets, the two must match (whitespace aside): when most do not,
  the offsets were counted on another text and it is an error naming the rows; a few that
  do not are named in a warning.
* **Confidence intervals.** Percentile bootstrap (95%) resampling units with replacement,
  ``bootstrap`` replicates (:data:`BOOTSTRAP`, 1000, by default, as on the command line and
  in the HTML report), deterministic for a given ``seed``.
"""

from __future__ import annotations

# The modules of this package, each importing only those above it in this list:
#   _stats      the statistics, pure functions of labels or count tables
#   _tables     reading and checking coding tables
#   _format     JSON and markdown renderings shared by the reports
#   _spans      character spans vs meaning units: align_spans, character_agreement
#   _coders     several coders in one table: compare_coders, CoderAgreement
#   _agreement  two tables: compare, AgreementReport
#   _codes      candidate codes vs human themes: compare_codes, CodeMatchReport
from ._agreement import BOOTSTRAP, STATS, AgreementReport, compare
from ._codes import CodeMatchReport, compare_codes
from ._coders import CoderAgreement, compare_coders
from ._spans import ALIGN_COLUMNS, align_spans, character_agreement
from ._tables import norm_theme, read_table_file  # for the CLI; not in __all__
from ._stats import (
    cohen_kappa,
    fleiss_kappa,
    gwet_ac1,
    krippendorff_alpha,
    percent_agreement,
    rating_counts,
)

__all__ = [
    "AgreementReport",
    "CoderAgreement",
    "compare",
    "compare_coders",
    "cohen_kappa",
    "percent_agreement",
    "krippendorff_alpha",
    "gwet_ac1",
    "fleiss_kappa",
    "rating_counts",
    "align_spans",
    "character_agreement",
    "CodeMatchReport",
    "compare_codes",
]
