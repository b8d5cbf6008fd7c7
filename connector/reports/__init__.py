"""Reports: org-wide figures and model evaluations read from files or the store, never a sync.

``evaluate predictions`` and ``report predictions`` live here, beside the run they read from
rather than inside it; each command is a function of settings returning JSON-ready data, which
the CLI prints.
"""

from __future__ import annotations

from connector.reports.predictions import evaluate_command, report_command, stored_purchases

__all__ = ["evaluate_command", "report_command", "stored_purchases"]
