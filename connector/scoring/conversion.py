"""The lead conversion score: how well a Lead fits the Leads that converted, learned per org.

A scikit-learn pipeline (one-hot categories, imputed and standardised numbers, L2-regularised
logistic regression), whose fitted parameters are kept as plain JSON (never a pickle) and
applied with numpy, so a stored model scores exactly as the pipeline that learned it. The
per-Lead factors come from the model itself: for a linear model, coefficient x (value - the
training mean), summed per source field, so a factor says how far this Lead's value moves its
log-odds from the average Lead's.

Fit (who a Lead is: fields, firmographics) and engagement (what they do: the intent score) are
separate numbers; behaviour enters this model only as features, as Einstein's does.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Self

import numpy as np
import pandas as pd

from connector.scoring.config import Gate

Float = np.ndarray[Any, np.dtype[np.float64]]

# Free mailbox providers: an address there says nothing about a company.
FREE_MAIL = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "yahoo.co.uk",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "aol.com",
        "icloud.com",
        "me.com",
        "mail.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "proton.me",
        "protonmail.com",
        "yandex.ru",
        "qq.com",
        "163.com",
        "orange.fr",
        "free.fr",
        "libero.it",
    }
)
_SENIORITY = (
    ("C-level", r"\b(?:ceo|cfo|cto|coo|cmo|cio|chief|founder|owner|president|partner)\b"),
    ("VP", r"\b(?:vp|vice president|svp|evp)\b"),
    ("Director", r"\b(?:director|head of|head)\b"),
    ("Manager", r"\b(?:manager|lead|supervisor)\b"),
)
# Plain words for the fields a Lead model reads (anything else: its API name split up).
FIELD_LABELS = {
    "LeadSource": "Lead source",
    "Industry": "Industry",
    "Rating": "Rating",
    "Country": "Country",
    "Title": "Seniority",
    "NumberOfEmployees": "Company size",
    "AnnualRevenue": "Annual revenue",
    "Email": "Email",
    "Campaign": "Form or campaign",
}
MAX_CATEGORIES = 30
MIN_CATEGORY_ROWS = 5
BLANK = "(blank)"


def seniority(titles: pd.Series) -> pd.Series:
    """C-level, VP, Director, Manager or Staff from a free-text Title (blank stays blank)."""
    text = titles.astype("string").str.lower().str.strip()
    out = pd.Series(BLANK, index=titles.index, dtype=object)
    out[text.notna() & (text.str.len() > 0)] = "Staff"
    for name, pattern in reversed(_SENIORITY):  # the most senior match wins: applied last
        out[text.str.contains(pattern, regex=True, na=False)] = name
    return out


def size_band(values: pd.Series, edges: tuple[float, ...], unit: str = "") -> pd.Series:
    """A number as a band label ('11-50', '1000+'); missing stays blank."""
    number = pd.to_numeric(values, errors="coerce")
    labels = [f"{unit}{int(lo):,}-{unit}{int(hi - 1):,}" for lo, hi in itertools.pairwise(edges)]
    labels.append(f"{unit}{int(edges[-1]):,}+")
    bins = [*edges, np.inf]
    banded = pd.cut(number, bins=bins, labels=labels, right=False)
    return banded.astype(object).where(banded.notna(), BLANK)


def email_kind(emails: pd.Series) -> pd.Series:
    """'free' (gmail.com and friends), 'business' or blank."""
    domain = emails.astype("string").str.strip().str.lower().str.split("@").str[-1]
    out = pd.Series(BLANK, index=emails.index, dtype=object)
    has = domain.notna() & emails.astype("string").str.contains("@", na=False)
    out[has] = np.where(domain[has].isin(FREE_MAIL), "free domain", "business domain")
    return out


def lead_features(leads: pd.DataFrame, fields: list[str]) -> pd.DataFrame:
    """The categorical fit features of each Lead, one column per source field (so a factor
    always names a real field): Title as seniority, sizes as bands, Email as its domain kind."""
    out = pd.DataFrame(index=leads.index)
    for name in fields:
        column = leads[name] if name in leads else pd.Series(None, index=leads.index)
        if name == "Title":
            out[name] = seniority(column)
        elif name == "NumberOfEmployees":
            out[name] = size_band(column, (1, 11, 51, 201, 1001, 5001))
        elif name == "AnnualRevenue":
            out[name] = size_band(column, (0, 1e6, 1e7, 1e8, 1e9), "$")
        elif name == "Email":
            out[name] = email_kind(column)
        else:
            text = column.astype("string").str.strip()
            out[name] = text.where(text.notna() & (text.str.len() > 0), BLANK).astype(object)
    return out


def gate(
    created: pd.Series, converted_on: pd.Series, now: datetime, rule: Gate
) -> tuple[bool, str, dict[str, int]]:
    """Einstein's minimum: ``min_leads`` created in the last ``window_days``, of which
    ``min_converted`` converted. Returns (passes, why not, counts).

    Salesforce Help, "Considerations for Setting Up Einstein Lead Scoring": at least 1,000
    leads created in the last 200 days, and of those at least 120 converted.
    """
    since = pd.Timestamp(now - timedelta(days=rule.window_days))
    made = pd.to_datetime(created, utc=True, errors="coerce", format="ISO8601")
    conv = pd.to_datetime(converted_on, utc=True, errors="coerce", format="ISO8601")
    recent = (made >= since).to_numpy()
    counts = {
        "leads_created": int(recent.sum()),
        "leads_converted": int((recent & conv.notna().to_numpy()).sum()),
        "window_days": rule.window_days,
    }
    short = []
    if counts["leads_created"] < rule.min_leads:
        short.append(f"{counts['leads_created']:,} Leads created (needs {rule.min_leads:,})")
    if counts["leads_converted"] < rule.min_converted:
        short.append(
            f"{counts['leads_converted']:,} of them converted (needs {rule.min_converted:,})"
        )
    if short:
        why = (
            f"not enough data in the last {rule.window_days} days: " + " and ".join(short) + "; "
            "the conversion score is not written until the org has them"
        )
        return False, why, counts
    return True, "", counts


@dataclass(frozen=True)
class Factor:
    """One reason a Lead scores as it does: the source field, what it says, and its pull on
    the log-odds (positive raises the score)."""

    field: str
    text: str
    weight: float


class LeadConversionModel:
    """Logistic regression over one-hot categories and standardised numbers, scikit-learn
    style: parameters in ``__init__``, ``fit`` returns ``self``, learned values end in ``_``."""

    def __init__(self, regularization: float = 1.0) -> None:
        self.regularization = regularization

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        frame: pd.DataFrame,
        label: Any,
        categorical: list[str],
        numeric: list[str],
        labels: dict[str, str] | None = None,
    ) -> Self:
        """Learn from ``frame`` (one row per Lead) and 0/1 ``label``. ``labels`` gives plain
        words for numeric columns (e.g. a signal's label)."""
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        y = np.asarray(label, dtype=int)
        if len(np.unique(y)) < 2:
            raise ValueError("the label has one class only: nothing to learn from")
        # A column with one value (a field the org never fills) says nothing about anyone.
        categorical = [c for c in categorical if c in frame and frame[c].nunique() > 1]
        numeric = [c for c in numeric if c in frame and frame[c].nunique() > 1]
        self.categories_ = {c: _kept(frame[c]) for c in categorical}
        self.numeric_ = list(numeric)
        self.labels_ = dict(labels or {})
        cats = self._categorical(frame)
        steps: list[tuple[str, Any, list[str]]] = []
        if categorical:
            steps.append(
                (
                    "cat",
                    OneHotEncoder(
                        categories=[self.categories_[c] for c in categorical],
                        handle_unknown="ignore",
                    ),
                    categorical,
                )
            )
        if numeric:
            steps.append(
                (
                    "num",
                    Pipeline(
                        [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
                    ),
                    numeric,
                )
            )
        pipeline = Pipeline(
            [
                ("features", ColumnTransformer(steps, sparse_threshold=0.0)),
                ("model", LogisticRegression(C=self.regularization, max_iter=2000)),
            ]
        )
        data = pd.concat([cats, frame[numeric].apply(pd.to_numeric, errors="coerce")], axis=1)
        pipeline.fit(data, y)
        model = pipeline.named_steps["model"]
        coef = model.coef_[0].tolist()
        self.intercept_ = float(model.intercept_[0])
        k = sum(len(v) for v in self.categories_.values())
        self.coef_ = coef
        if numeric:
            num = pipeline.named_steps["features"].named_transformers_["num"]
            self.fill_ = [float(v) for v in num.named_steps["impute"].statistics_]
            self.mean_ = [float(v) for v in num.named_steps["scale"].mean_]
            self.scale_ = [float(v) for v in num.named_steps["scale"].scale_]
        else:
            self.fill_, self.mean_, self.scale_ = [], [], []
        design = self._design(frame)
        self.design_mean_ = design.mean(axis=0).tolist()
        self.rows_ = len(frame)
        self.positives_ = int(y.sum())
        self.n_categorical_ = k
        return self

    # ------------------------------------------------------------------ predict
    def _categorical(self, frame: pd.DataFrame) -> pd.DataFrame:
        out = pd.DataFrame(index=frame.index)
        for c, kept in self.categories_.items():
            text = frame[c].astype("string").fillna(BLANK).astype(object) if c in frame else BLANK
            series = pd.Series(text, index=frame.index, dtype=object)
            out[c] = series.where(series.isin(kept), "Other")
        return out

    def _design(self, frame: pd.DataFrame) -> Float:
        """The model's input matrix, built from the stored parameters alone."""
        parts: list[Float] = []
        cats = self._categorical(frame)
        for c, kept in self.categories_.items():
            codes = pd.Categorical(cats[c], categories=kept).codes
            block = np.zeros((len(frame), len(kept)))
            rows = np.flatnonzero(codes >= 0)
            block[rows, codes[rows]] = 1.0
            parts.append(block)
        if self.numeric_:
            values = np.column_stack(
                [
                    pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=float)
                    if c in frame
                    else np.full(len(frame), np.nan)
                    for c in self.numeric_
                ]
            )
            values = np.where(np.isnan(values), np.asarray(self.fill_), values)
            scale = np.where(np.asarray(self.scale_) > 0, self.scale_, 1.0)
            parts.append((values - np.asarray(self.mean_)) / scale)
        return np.hstack(parts) if parts else np.zeros((len(frame), 0))

    def decision_function(self, frame: pd.DataFrame) -> Float:
        """Log-odds of converting per row."""
        self._require_fitted()
        result: Float = self._design(frame) @ np.asarray(self.coef_) + self.intercept_
        return result

    def predict_proba(self, frame: pd.DataFrame) -> Float:
        """Probability of converting per row (one column: the positive class)."""
        z = np.clip(self.decision_function(frame), -35.0, 35.0)
        result: Float = 1.0 / (1.0 + np.exp(-z))
        return result

    def columns(self) -> list[tuple[str, slice]]:
        """(source column, its slice of the design matrix), in design order."""
        out, at = [], 0
        for c, kept in self.categories_.items():
            out.append((c, slice(at, at + len(kept))))
            at += len(kept)
        for c in self.numeric_:
            out.append((c, slice(at, at + 1)))
            at += 1
        return out

    def contributions(self, frame: pd.DataFrame) -> tuple[list[str], Float]:
        """Per row and source column: coefficient x (value - training mean), summed over the
        column's one-hot cells: how far the value pulls this row's log-odds from the average."""
        centred = (self._design(frame) - np.asarray(self.design_mean_)) * np.asarray(self.coef_)
        names = [c for c, _ in self.columns()]
        return names, np.column_stack([centred[:, s].sum(axis=1) for _, s in self.columns()])

    def top_factors(self, n: int = 10) -> list[dict[str, Any]]:
        """The model's largest weights overall: (feature, weight), strongest first."""
        names = [f"{c}={v}" for c, kept in self.categories_.items() for v in kept] + list(
            self.numeric_
        )
        pairs = sorted(zip(names, self.coef_, strict=True), key=lambda p: -abs(p[1]))
        return [{"feature": f, "weight": round(w, 4)} for f, w in pairs[:n]]

    def factors(self, frame: pd.DataFrame, top: int = 2) -> list[list[Factor]]:
        """Each row's ``top`` strongest positive and ``top`` strongest negative factors."""
        names, pulls = self.contributions(frame)
        cats = self._categorical(frame)
        out: list[list[Factor]] = []
        numeric_values = {
            c: pd.to_numeric(frame[c], errors="coerce").to_numpy() if c in frame else None
            for c in self.numeric_
        }
        for row in range(len(frame)):
            pull = pulls[row].copy()
            for j, name in enumerate(names):
                values = numeric_values.get(name)
                if values is not None and values[row] == 0:
                    pull[j] = 0.0  # "no form submissions" is not a reason a rep can act on
            ups = [j for j in np.argsort(-pull)[:top] if pull[j] > 0.05]
            downs = [j for j in np.argsort(pull)[:top] if pull[j] < -0.05]
            chosen = []
            for j in [*ups, *downs]:
                name = names[j]
                if name in self.categories_:
                    what = f"{self._label(name)}: {cats[name].iat[row]}"
                else:
                    values = numeric_values[name]
                    value = np.nan if values is None else values[row]
                    average = self.mean_[self.numeric_.index(name)]
                    level = "high" if value > average else "low"
                    what = f"{self._label(name)}: {level}"
                chosen.append(Factor(name, what, float(pull[j])))
            out.append(chosen)
        return out

    def _label(self, name: str) -> str:
        if name in self.labels_:
            return self.labels_[name]
        if name in FIELD_LABELS:
            return FIELD_LABELS[name]
        return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).replace("_", " ").strip()

    # ------------------------------------------------------------------ persistence
    def _require_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise RuntimeError("LeadConversionModel is not fitted; call fit() first")

    def to_json(self) -> str:
        """Every learned value as JSON (the persisted form; never a pickle)."""
        self._require_fitted()
        return json.dumps(
            {
                "model": type(self).__name__,
                "regularization": self.regularization,
                "categories": self.categories_,
                "numeric": self.numeric_,
                "labels": self.labels_,
                "fill": self.fill_,
                "mean": self.mean_,
                "scale": self.scale_,
                "coef": self.coef_,
                "intercept": self.intercept_,
                "design_mean": self.design_mean_,
                "rows": self.rows_,
                "positives": self.positives_,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Self:
        """Rebuild a fitted model from :meth:`to_json` output."""
        data: dict[str, Any] = json.loads(text)
        if data.get("model") != cls.__name__:
            raise ValueError(f"JSON holds a {data.get('model')!r}, not a {cls.__name__}")
        model = cls(regularization=float(data["regularization"]))
        model.categories_ = {str(k): [str(x) for x in v] for k, v in data["categories"].items()}
        model.numeric_ = [str(c) for c in data["numeric"]]
        model.labels_ = {str(k): str(v) for k, v in data.get("labels", {}).items()}
        model.fill_ = [float(v) for v in data["fill"]]
        model.mean_ = [float(v) for v in data["mean"]]
        model.scale_ = [float(v) for v in data["scale"]]
        model.coef_ = [float(v) for v in data["coef"]]
        model.intercept_ = float(data["intercept"])
        model.design_mean_ = [float(v) for v in data["design_mean"]]
        model.rows_ = int(data.get("rows", 0))
        model.positives_ = int(data.get("positives", 0))
        model.n_categorical_ = sum(len(v) for v in model.categories_.values())
        return model


def _kept(column: pd.Series) -> list[str]:
    """The categories worth a coefficient: the most frequent ones with enough rows; the rest
    share 'Other'."""
    counts = column.astype("string").fillna(BLANK).value_counts()
    kept = [str(v) for v, n in counts.items() if n >= MIN_CATEGORY_ROWS][:MAX_CATEGORIES]
    if "Other" not in kept:
        kept.append("Other")
    return kept


def score_1_99(probability: Float) -> Any:
    """A probability as the 1-99 score reps see (Einstein's scale)."""
    return np.clip(np.rint(probability * 100.0), 1, 99).astype(int)


def factors_text(factors: list[Factor], limit: int = 255) -> str:
    """``+ Rating: Hot | + Email clicks: high | - Lead source: Purchased List``."""
    items = [f"{'+' if f.weight > 0 else '-'} {f.text}" for f in factors]
    text = " | ".join(items)
    while len(text) > limit and items:
        items.pop()
        text = " | ".join(items)
    return text or "No strong factors"
