"""Customer predictions: BTYD transaction models, Gamma-Gamma spend, CLV, churn, next order,
best channel and send hour, segments, and the gate that decides when the models can be trusted.

Pure computation on numpy/pandas: no I/O except ``evaluate.read_orders_csv`` and the plot.
"""

from __future__ import annotations

from connector.predictions.btyd import (
    MODELS,
    BetaGeoFitter,
    ModifiedBetaGeoFitter,
    ParetoNBDFitter,
)
from connector.predictions.config import PredictionsConfig
from connector.predictions.gamma_gamma import GammaGammaFitter
from connector.predictions.gating import GateResult, gate, heuristic_predictions
from connector.predictions.outputs import (
    attribute_clicks,
    best_channel,
    best_send_hour,
    org_summary,
    predict_people,
    segment,
)
from connector.predictions.persist import ModelNotFittedError
from connector.predictions.rfm import calibration_and_holdout_summary, summary_from_orders

__all__ = [
    "MODELS",
    "BetaGeoFitter",
    "GammaGammaFitter",
    "GateResult",
    "ModelNotFittedError",
    "ModifiedBetaGeoFitter",
    "ParetoNBDFitter",
    "PredictionsConfig",
    "attribute_clicks",
    "best_channel",
    "best_send_hour",
    "calibration_and_holdout_summary",
    "gate",
    "heuristic_predictions",
    "org_summary",
    "predict_people",
    "segment",
    "summary_from_orders",
]
