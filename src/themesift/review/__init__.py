"""The analyst's review loop: the review sheet (review.xlsx / review.csv) and reading it back,
and the Jupyter review widget.

``review_sheet`` builds the sheet from a pipeline run, ``write_review`` writes it, and
``apply_review`` records the decisions an analyst filled in into a :class:`~themesift.Study`.
:func:`themesift.review.widget.review` (``ts.review``) shows the same suggestions one at a
time in a notebook, each click a decision in the study.
"""

from .sheet import REVIEW_COLUMNS, apply_review, read_review, review_sheet, write_review

__all__ = ["REVIEW_COLUMNS", "review_sheet", "write_review", "read_review", "apply_review"]
