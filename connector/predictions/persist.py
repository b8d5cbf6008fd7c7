"""Fitted parameters as JSON, shared by every model (parameters persist as JSON, never pickles)."""

from __future__ import annotations

import json
from typing import Any, ClassVar, Self


class ModelNotFittedError(RuntimeError):
    """Raised when a prediction is asked of a model that has no parameters yet."""


class ParamsJSON:
    """``to_json`` / ``from_json`` / ``from_params`` for a model whose learned state is
    ``params_`` (named by ``_param_names``), ``log_likelihood_`` and ``n_customers_``."""

    _param_names: ClassVar[tuple[str, ...]] = ()
    penalizer_coef: float
    params_: dict[str, float]
    log_likelihood_: float
    n_customers_: float

    def __init__(self, penalizer_coef: float = 0.0) -> None:
        self.penalizer_coef = penalizer_coef

    def _require_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise ModelNotFittedError(f"{type(self).__name__} is not fitted; call fit() first")

    def to_json(self) -> str:
        """Parameters as JSON (the persisted form)."""
        self._require_fitted()
        return json.dumps(
            {
                "model": type(self).__name__,
                "penalizer_coef": self.penalizer_coef,
                "params": self.params_,
                "log_likelihood": self.log_likelihood_,
                "n_customers": self.n_customers_,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Self:
        """Rebuild a fitted model from :meth:`to_json` output."""
        data: dict[str, Any] = json.loads(text)
        if data.get("model") != cls.__name__:
            raise ValueError(f"JSON holds a {data.get('model')!r}, not a {cls.__name__}")
        missing = [k for k in cls._param_names if k not in data.get("params", {})]
        if missing:
            raise ValueError(f"JSON for {cls.__name__} lacks parameters {missing}")
        model = cls(penalizer_coef=float(data.get("penalizer_coef", 0.0)))
        model.params_ = {k: float(data["params"][k]) for k in cls._param_names}
        model.log_likelihood_ = float(data.get("log_likelihood", float("nan")))
        model.n_customers_ = float(data.get("n_customers", float("nan")))
        return model

    @classmethod
    def from_params(cls, **params: float) -> Self:
        """A model with given parameters (published values, simulations, tests)."""
        missing = [k for k in cls._param_names if k not in params]
        if missing:
            raise ValueError(f"{cls.__name__} needs parameters {missing}")
        model = cls()
        model.params_ = {k: float(params[k]) for k in cls._param_names}
        model.log_likelihood_ = float("nan")
        model.n_customers_ = float("nan")
        return model
