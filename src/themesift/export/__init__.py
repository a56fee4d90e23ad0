"""Exports: the HTML report (code sheets and QDPX follow with the Study store)."""

from .report import render_report

__all__ = ["render_report"]
