"""Exports: a study's coding as a REFI-QDA project, a code sheet, or an HTML report."""

from ._common import StudyView, key_path, opened_study, study_view
from .codesheet import codesheet, export_codesheet
from .qdpx import export_qdc, export_qdpx
from .report import export_report, render_report, saturation

__all__ = ["export_qdpx", "export_qdc", "export_codesheet", "codesheet", "export_report",
           "render_report", "saturation", "study_view", "StudyView"]
