"""Choosing the lead conversion learner, and refusing features that exist only after the
outcome.

Two candidates, each calibrated: a regularised logistic regression (the persisted
:class:`~connector.scoring.conversion.LeadConversionModel`) and scikit-learn's
HistGradientBoostingClassifier (categories as native categorical splits, missing values
routed by the trees). Each is fitted on every training row and calibrated by Platt scaling (a
logistic fit of the outcome on the raw log-odds) learnt on cross-fitted scores, as
scikit-learn's ``CalibratedClassifierCV(method="sigmoid", ensemble=False)`` does. Platt
scaling is monotone: it moves probabilities, never the ranking, so the AUC a candidate earns
is its own.
Selection is by time-split cross-validation (expanding window: fold k trains on the first k
blocks of rows in time order and tests on block k+1), the mean AUC deciding.

The leakage check (:func:`post_outcome_columns`) is the product's, not only the tests': a
feature whose values are only present after the outcome (a converted Lead's status, a field
filled in by the conversion) separates the classes by presence alone, so it is found from
the data and left out with its reason, whatever it is called.

Pure functions of DataFrames and arrays; no I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from connector.scoring.conversion import LeadConversionModel

Float = npt.NDArray[np.float64]
CANDIDATES = ("logistic", "gradient_boosting")
#: Folds of the cross-fitted calibration (each row's score from a model that did not see it).
CALIBRATION_FOLDS = 3
#: A value (or presence) seen in this share of positive rows or more, and in no negative
#: row, exists only once the outcome happened.
LEAK_SHARE = 0.2
#: A single feature ranking the rows this well alone is no feature but the outcome itself.
LEAK_AUC = 0.98


def _filled(column: pd.Series) -> npt.NDArray[np.bool_]:
    text = column.astype("string").str.strip()
    return np.asarray((text.notna() & (text.str.len() > 0)).to_numpy(dtype=bool))


def post_outcome_columns(
    frame: pd.DataFrame, label: npt.ArrayLike, columns: list[str]
) -> dict[str, str]:
    """The columns of ``frame`` whose values betray the outcome, each with the reason.

    A column is refused when (a) it is filled on at least ``LEAK_SHARE`` of the positive rows
    and on none of the negative rows (a field only a conversion fills), (b) one of its values
    is held by at least ``LEAK_SHARE`` of the positive rows and by no negative row (a status
    only converted Leads reach), or (c) it alone ranks the rows with AUC >= ``LEAK_AUC``."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(label, dtype=int)
    pos, neg = y == 1, y == 0
    if not pos.any() or not neg.any():
        return {}
    out: dict[str, str] = {}
    for c in columns:
        if c not in frame:
            continue
        column = frame[c]
        filled = _filled(column)
        share = float(filled[pos].mean())
        if share >= LEAK_SHARE and not filled[neg].any():
            out[c] = (
                f"filled on {share:.0%} of the converted rows and on none of the others: "
                "a value that exists only after the outcome"
            )
            continue
        text = column.astype("string").str.strip()
        held = text[pos].value_counts()
        unseen = held[~held.index.isin(set(text[neg].dropna()))]
        if len(unseen) and unseen.iloc[0] >= LEAK_SHARE * pos.sum():
            out[c] = (
                f"{unseen.index[0]!r} is held by {unseen.iloc[0] / pos.sum():.0%} of the "
                "converted rows and by none of the others: a value that exists only after "
                "the outcome"
            )
            continue
        number = pd.to_numeric(column, errors="coerce")
        if number.notna().mean() >= 0.95 and number.nunique() > 1:
            score = number.fillna(number.median()).to_numpy(dtype=float)
        else:
            rate = pd.Series(y).groupby(text.fillna("").to_numpy()).mean()
            score = text.fillna("").map(rate).to_numpy(dtype=float)
        single = float(roc_auc_score(y, score))
        if max(single, 1.0 - single) >= LEAK_AUC:
            out[c] = (
                f"ranks the outcome alone with AUC {max(single, 1.0 - single):.3f}: a "
                "feature that clean is the outcome itself or measured after it"
            )
    return out


@dataclass
class Calibrated:
    """A fitted candidate and its Platt calibration (probability = sigmoid(a * logit + b))."""

    name: str
    model: Any
    slope: float = 1.0
    intercept: float = 0.0

    def raw(self, frame: pd.DataFrame) -> Float:
        """The model's own probability of the positive class."""
        p: Float = np.asarray(self.model.predict_proba(frame), dtype=float)
        return p[:, 1] if p.ndim == 2 else p

    def predict_proba(self, frame: pd.DataFrame) -> Float:
        """Calibrated probability of the positive class per row."""
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            z = _logit(self.raw(frame))
        out: Float = 1.0 / (1.0 + np.exp(-np.clip(self.slope * z + self.intercept, -35, 35)))
        return out


class ConversionScorer:
    """The lead conversion score the sync writes: the winning learner's calibrated
    probability, with the logistic model kept for the factors reps read.

    ``learner`` is ``logistic`` or ``gradient_boosting`` (chosen by :func:`select_model`);
    ``slope``/``intercept`` are the winner's Platt calibration. Persisted as JSON (boosting
    as its tree arrays, :mod:`connector.scoring.trees`); a stored bare
    :class:`LeadConversionModel` (before the scorer existed) loads as an uncalibrated
    logistic scorer, as it was written then.
    """

    def __init__(
        self,
        logistic: LeadConversionModel,
        learner: str = "logistic",
        boosting: _Boosting | None = None,
        slope: float = 1.0,
        intercept: float = 0.0,
    ) -> None:
        if learner not in CANDIDATES or (learner == "gradient_boosting") != (boosting is not None):
            raise ValueError(f"learner {learner!r} needs its model ({CANDIDATES})")
        self.logistic, self.learner, self.boosting = logistic, learner, boosting
        self.slope, self.intercept = slope, intercept

    def predict_proba(self, frame: pd.DataFrame) -> Float:
        """The winner's calibrated probability of converting, per row."""
        model: Any = self.boosting if self.boosting is not None else self.logistic
        return Calibrated(self.learner, model, self.slope, self.intercept).predict_proba(frame)

    def to_json(self) -> str:
        """The persisted form (JSON; never a pickle)."""
        return json.dumps(
            {
                "model": type(self).__name__,
                "learner": self.learner,
                "slope": self.slope,
                "intercept": self.intercept,
                "logistic": json.loads(self.logistic.to_json()),
                "boosting": self.boosting.to_dict() if self.boosting is not None else None,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> ConversionScorer:
        """Rebuild from :meth:`to_json` output (or a stored bare logistic model)."""
        data: dict[str, Any] = json.loads(text)
        if data.get("model") == LeadConversionModel.__name__:
            return cls(LeadConversionModel.from_json(text))
        if data.get("model") != cls.__name__:
            raise ValueError(f"JSON holds a {data.get('model')!r}, not a {cls.__name__}")
        boosting = data.get("boosting")
        return cls(
            LeadConversionModel.from_json(json.dumps(data["logistic"])),
            str(data["learner"]),
            _Boosting.from_dict(boosting) if boosting is not None else None,
            float(data["slope"]),
            float(data["intercept"]),
        )


def _logit(p: Float) -> Float:
    q = np.clip(p, 1e-6, 1 - 1e-6)
    out: Float = np.log(q / (1 - q))
    return out


#: The boosting settings: small trees (8 leaves, not scikit-learn's 31), as a few thousand
#: rows support. On the UCI Bank Marketing sample (4,521 rows, 5 folds) 8 leaves reached AUC
#: 0.753 and 31 leaves 0.734, at learning rate 0.1 and 100 rounds (tests/scoring).
BOOSTING = {"learning_rate": 0.1, "max_leaf_nodes": 8, "max_iter": 100}


class _Boosting:
    """HistGradientBoostingClassifier over the table's categories and numbers."""

    def __init__(self, categorical: list[str], numeric: list[str], **params: Any) -> None:
        self.categorical, self.numeric = categorical, numeric
        self.params = {**BOOSTING, **params}
        #: the trees as saved (:mod:`connector.scoring.trees`) when rebuilt from JSON
        self.saved_: dict[str, Any] | None = None

    def _data(self, frame: pd.DataFrame) -> pd.DataFrame:
        data = pd.DataFrame(index=frame.index)
        for c in self.categorical:
            text = frame[c].astype("string").fillna("(blank)") if c in frame else "(blank)"
            text = pd.Series(text, index=frame.index, dtype="string")
            # a level the fit never saw is missing (pandas 3 deprecates casting it silently)
            text = text.where(text.isin(self.levels_[c]))
            data[c] = pd.Categorical(text, categories=self.levels_[c])
        for c in self.numeric:
            data[c] = pd.to_numeric(frame[c], errors="coerce") if c in frame else np.nan
        return data

    def fit(self, frame: pd.DataFrame, y: npt.NDArray[np.int64]) -> _Boosting:
        from sklearn.ensemble import HistGradientBoostingClassifier

        self.levels_: dict[str, list[str]] = {}
        for c in self.categorical:
            counts = frame[c].astype("string").fillna("(blank)").value_counts()
            # the trees split on at most 255 categories: the most frequent, the rest missing
            self.levels_[c] = [str(v) for v in counts.index[:250]]
        self.model_ = HistGradientBoostingClassifier(
            categorical_features="from_dtype", random_state=0, **self.params
        )
        self.model_.fit(self._data(frame), y)
        return self

    def predict_proba(self, frame: pd.DataFrame) -> Float:
        if self.saved_ is not None:  # rebuilt from JSON: the saved trees answer
            from connector.scoring.trees import predict_proba

            return predict_proba(self.saved_, self._data(frame))
        p: Float = self.model_.predict_proba(self._data(frame))
        return p

    def to_dict(self) -> dict[str, Any]:
        """The fitted model as JSON-ready data: columns, category levels and the trees."""
        from connector.scoring.trees import boosting_to_dict

        saved = self.saved_ if self.saved_ is not None else boosting_to_dict(self.model_)
        return {
            "categorical": self.categorical,
            "numeric": self.numeric,
            "levels": self.levels_,
            "trees": saved,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> _Boosting:
        """Rebuild from :meth:`to_dict`; predictions equal the fitted model's."""
        model = cls([str(c) for c in data["categorical"]], [str(c) for c in data["numeric"]])
        model.levels_ = {str(k): [str(v) for v in vs] for k, vs in data["levels"].items()}
        model.saved_ = dict(data["trees"])
        return model


def fit_candidate(
    name: str,
    frame: pd.DataFrame,
    y: npt.NDArray[np.int64],
    categorical: list[str],
    numeric: list[str],
    regularization: float = 1.0,
    params: dict[str, Any] | None = None,
) -> Calibrated:
    """Fit candidate ``name`` on the earlier rows of ``frame`` (in the order given: time
    order when there is one) and calibrate it on the latest ``CALIBRATION_SHARE``."""
    from threadpoolctl import threadpool_limits

    # One thread: on a shared 2-core host, OpenMP's threads fighting other processes made a
    # 1,500-row fit take 13 s (boosting) and 5.8 s (logistic); one thread, 0.42 s and 0.21 s.
    with threadpool_limits(1):
        return _fit_candidate(name, frame, y, categorical, numeric, regularization, params)


def _fit_candidate(
    name: str,
    frame: pd.DataFrame,
    y: npt.NDArray[np.int64],
    categorical: list[str],
    numeric: list[str],
    regularization: float,
    params: dict[str, Any] | None,
) -> Calibrated:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    fitted = Calibrated(name, _learner(name, categorical, numeric, regularization, params))
    fitted.model = fitted.model.fit(frame, y)
    if min(int(y.sum()), int((1 - y).sum())) < 2 * CALIBRATION_FOLDS:
        return fitted  # too few of a class to cross-fit a calibration: the model's own output
    # Platt's map is learnt on out-of-fold scores (each row scored by a twin that never saw
    # it) and applied to the model fitted on every row, which ranks best: scikit-learn's
    # CalibratedClassifierCV(method="sigmoid", ensemble=False). One later fold of 20% gave
    # 600 rows on 3,000 and missed the rates of a known table's bottom third by 0.05.
    z = np.zeros(len(frame))
    folds = StratifiedKFold(n_splits=CALIBRATION_FOLDS, shuffle=True, random_state=0)
    for train, held in folds.split(np.zeros(len(y)), y):
        twin = _learner(name, categorical, numeric, regularization, params)
        z[held] = _logit(
            Calibrated(name, twin.fit(frame.iloc[train], y[train])).raw(frame.iloc[held])
        )
    platt = LogisticRegression(C=1e6, max_iter=1000).fit(z.reshape(-1, 1), y)
    slope, intercept = float(platt.coef_[0][0]), float(platt.intercept_[0])
    if slope > 0:  # else no ranking to calibrate: keep the model's own output
        fitted.slope, fitted.intercept = slope, intercept
    return fitted


def _learner(
    name: str,
    categorical: list[str],
    numeric: list[str],
    regularization: float,
    params: dict[str, Any] | None,
) -> Any:
    if name == "logistic":
        return _Logistic(regularization, categorical, numeric)
    if name == "gradient_boosting":
        return _Boosting(categorical, numeric, **(params or {}))
    raise ValueError(f"unknown candidate {name!r}; the candidates are {CANDIDATES}")


class _Logistic:
    """:class:`LeadConversionModel` with the fit signature the candidates share."""

    def __init__(self, regularization: float, categorical: list[str], numeric: list[str]) -> None:
        self.regularization, self.categorical, self.numeric = regularization, categorical, numeric

    def fit(self, frame: pd.DataFrame, y: npt.NDArray[np.int64]) -> LeadConversionModel:
        return LeadConversionModel(self.regularization).fit(
            frame, y, self.categorical, self.numeric
        )


def time_folds(n: int, k: int = 4) -> list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]:
    """Expanding-window splits of ``n`` rows in time order: train on blocks 1..j, test on j+1."""
    edges = np.linspace(0, n, k + 2).astype(int)
    rows = np.arange(n)
    return [(rows[: edges[j]], rows[edges[j] : edges[j + 1]]) for j in range(1, k + 1)]


def select_model(
    frame: pd.DataFrame,
    y: npt.NDArray[np.int64],
    categorical: list[str],
    numeric: list[str],
    *,
    in_time_order: bool,
    regularization: float = 1.0,
) -> dict[str, Any]:
    """Cross-validate both candidates on ``frame`` (rows in time order when
    ``in_time_order``: expanding-window folds; else stratified 5-fold) and name the winner by
    mean AUC. Returns {"candidates": {name: {"auc", "brier", "folds"}}, "winner": name,
    "scores": {name: each row's out-of-fold probability (NaN where no fold tested it)}}."""
    from sklearn.metrics import brier_score_loss, roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    if in_time_order:
        splits = time_folds(len(frame))
    else:
        folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
        splits = [(a, b) for a, b in folds.split(np.zeros(len(y)), y)]
    report: dict[str, Any] = {}
    scores: dict[str, Float] = {}
    for name in CANDIDATES:
        aucs, briers = [], []
        scores[name] = np.full(len(frame), np.nan)
        for train, test in splits:
            if len(set(y[train])) < 2 or len(set(y[test])) < 2:
                continue
            model = fit_candidate(
                name, frame.iloc[train], y[train], categorical, numeric, regularization
            )
            p = model.predict_proba(frame.iloc[test])
            scores[name][test] = p
            aucs.append(float(roc_auc_score(y[test], p)))
            briers.append(float(brier_score_loss(y[test], p)))
        report[name] = {
            "auc": round(float(np.mean(aucs)), 4) if aucs else None,
            "brier": round(float(np.mean(briers)), 4) if briers else None,
            "folds": len(aucs),
        }
    scored = {k: v["auc"] for k, v in report.items() if v["auc"] is not None}
    winner = max(scored, key=lambda k: scored[k]) if scored else "logistic"
    return {"candidates": report, "winner": winner, "scores": scores}
