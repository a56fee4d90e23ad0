"""The analyst's review loop: the review sheet (review.xlsx / review.csv) and reading it back.

``review_sheet`` builds the sheet from a pipeline run, ``write_review`` writes it, and
``apply_review`` records the decisions an analyst filled in into a :class:`~themesift.Study`.
"""

from .sheet import REVIEW_COLUMNS, apply_review, read_review, review_sheet, write_review

__all__ = ["REVIEW_COLUMNS", "review_sheet", "write_review", "read_review", "apply_review"]
