"""Scoring: the intent score (engagement, 0-5, explained, decaying), its moments, and the
learned lead conversion score (fit, 1-99, explained).

Pure computation on numpy/pandas arrays: no SQL, no HTTP. The sync glue lives in
``connector.sync.intent``.
"""

from __future__ import annotations

from connector.scoring.config import IntentConfig, LeadConversionConfig, Moment, Signal

__all__ = ["IntentConfig", "LeadConversionConfig", "Moment", "Signal"]
