"""A fitted HistGradientBoostingClassifier as JSON, and its predictions without scikit-learn.

STYLE.md allows no pickles, so a boosting model is persisted as what prediction reads: the
baseline log-odds and, per tree, the node arrays of scikit-learn's fitted predictors
(``_predictors[i][0].nodes``: value, feature_idx, num_threshold, missing_go_to_left, left,
right, is_leaf, is_categorical, bitset_idx) with the categorical split bitsets
(``raw_left_cat_bitsets``) and the categories each feature knew at fit time
(``_bin_mapper.make_known_categories_bitsets()``). :func:`raw_predict` walks those arrays
with the rule of scikit-learn's ``_predictor.pyx`` (``_predict_one_from_raw_data``, read in
scikit-learn 1.9.1):

- a missing value (NaN) goes the way the node learnt for missing values;
- a categorical value goes left when its bit is set in the node's left bitset, right when it
  is a known category, and the missing way when it is negative or unknown;
- a number goes left when ``<= num_threshold``.

The raw prediction is the baseline plus the leaf values in tree order, as scikit-learn sums
them, so the probabilities agree to the last bit (tests/scoring/test_trees.py). Binary
classification only (one tree per iteration). Private attributes are read in one place,
:func:`boosting_to_dict`, so a scikit-learn change breaks here and in the round-trip test.

Pure: dicts and arrays in, arrays out.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

Float = npt.NDArray[np.float64]

#: The node fields prediction reads, in this order in the JSON rows.
NODE_FIELDS = (
    "value",
    "feature_idx",
    "num_threshold",
    "missing_go_to_left",
    "left",
    "right",
    "is_leaf",
    "is_categorical",
    "bitset_idx",
)
FORMAT = "hist-gradient-boosting/1"


def _bitsets(array: Any) -> list[list[int]]:
    return [[int(word) for word in row] for row in np.asarray(array)]


def boosting_to_dict(model: Any) -> dict[str, Any]:
    """The prediction-relevant state of a fitted binary ``HistGradientBoostingClassifier``
    fitted on a DataFrame (categorical columns of pandas ``category`` dtype), JSON-ready.

    Besides the trees: the input columns and, per categorical column, the categories its
    ordinal encoder knew (scikit-learn encodes them as their sorted position, unknown and
    missing as NaN, and puts the categorical columns first)."""
    if getattr(model, "n_trees_per_iteration_", None) != 1:
        raise ValueError("only a fitted binary HistGradientBoostingClassifier can be saved")
    columns = [str(c) for c in model.feature_names_in_]
    categories: dict[str, list[str]] = {}
    if getattr(model, "_preprocessor", None) is not None:
        encoder = model._preprocessor.named_transformers_["encoder"]
        named = [c for c, cat in zip(columns, model.is_categorical_, strict=True) if cat]
        for column, seen in zip(named, encoder.categories_, strict=True):
            # a missing value is encoded as NaN whether or not the fit saw one
            categories[column] = [str(v) for v in seen if isinstance(v, str)]
    known, f_idx_map = model._bin_mapper.make_known_categories_bitsets()
    trees = []
    for (predictor,) in model._predictors:
        trees.append(
            {
                "nodes": [[_plain(node[f]) for f in NODE_FIELDS] for node in predictor.nodes],
                "left_cat_bitsets": _bitsets(predictor.raw_left_cat_bitsets),
            }
        )
    return {
        "format": FORMAT,
        "columns": columns,
        "categories": categories,
        "baseline": float(np.asarray(model._baseline_prediction).ravel()[0]),
        "known_cat_bitsets": _bitsets(known),
        "f_idx_map": [int(i) for i in f_idx_map],
        "trees": trees,
    }


def encode(saved: dict[str, Any], frame: pd.DataFrame) -> Float:
    """The matrix the trees read: categorical columns first as category positions (NaN when
    missing or unknown), then the numeric columns, as scikit-learn's preprocessor builds it."""
    categories: dict[str, list[str]] = saved["categories"]
    cols = [c for c in saved["columns"] if c in categories]
    cols += [c for c in saved["columns"] if c not in categories]
    out = np.full((len(frame), len(cols)), np.nan)
    for j, c in enumerate(cols):
        if c in categories:
            position = {v: float(i) for i, v in enumerate(categories[c])}
            text = frame[c].astype(object)
            out[:, j] = [position.get(v, np.nan) if isinstance(v, str) else np.nan for v in text]
        else:
            out[:, j] = pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=np.float64)
    return out


def _plain(value: Any) -> float | int | bool:
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return int(value)


def _bits(
    bitsets: npt.NDArray[np.uint32], row: npt.NDArray[np.int64], code: npt.NDArray[np.int64]
) -> npt.NDArray[np.bool_]:
    out: npt.NDArray[np.bool_] = ((bitsets[row, code // 32] >> (code % 32)) & 1).astype(bool)
    return out


def _tree_values(
    tree: dict[str, Any], known: npt.NDArray[np.uint32], f_idx: npt.NDArray[np.int64], X: Float
) -> Float:
    # every row walks the tree at once: one numpy step per depth level
    cols = list(zip(*tree["nodes"], strict=True))
    value = np.asarray(cols[0], dtype=np.float64)
    feature = np.asarray(cols[1], dtype=np.int64)
    threshold = np.asarray(cols[2], dtype=np.float64)
    left, right = np.asarray(cols[4], dtype=np.int64), np.asarray(cols[5], dtype=np.int64)
    missing_way = np.where(np.asarray(cols[3], dtype=bool), left, right)
    is_leaf, is_cat = np.asarray(cols[6], dtype=bool), np.asarray(cols[7], dtype=bool)
    bitset_idx = np.asarray(cols[8], dtype=np.int64)
    left_bits = np.asarray(tree["left_cat_bitsets"], dtype=np.uint32).reshape(-1, 8)
    if not len(left_bits):
        left_bits = np.zeros((1, 8), dtype=np.uint32)
    at = np.zeros(len(X), dtype=np.int64)
    rows = np.arange(len(X))
    while True:
        active = ~is_leaf[at]
        if not active.any():
            return value[at]
        r, n = rows[active], at[active]
        v = X[r, feature[n]]
        missing = np.isnan(v)
        numeric = np.where(v <= threshold[n], left[n], right[n])
        # a category outside 0..255 (the trees' bin range) or unseen at fit time is missing
        out_of_range = missing | (v < 0) | (v > 255)
        code = np.where(out_of_range, 0, v).astype(np.int64)
        goes_left = _bits(left_bits, bitset_idx[n], code)
        is_known = _bits(known, f_idx[feature[n]], code)
        categorical = np.where(
            out_of_range,
            missing_way[n],
            np.where(goes_left, left[n], np.where(is_known, right[n], missing_way[n])),
        )
        at[active] = np.where(missing, missing_way[n], np.where(is_cat[n], categorical, numeric))


def raw_predict(saved: dict[str, Any], frame: pd.DataFrame) -> Float:
    """The boosting model's log-odds per row of ``frame`` (the columns it was fitted on)."""
    if saved.get("format") != FORMAT:
        raise ValueError(f"not a saved boosting model (format {saved.get('format')!r})")
    missing = [c for c in saved["columns"] if c not in frame]
    if missing:
        raise ValueError(f"the saved boosting model reads column(s) {missing}")
    X = encode(saved, frame)
    out = np.full(len(X), float(saved["baseline"]))
    known = np.asarray(saved["known_cat_bitsets"], dtype=np.uint32).reshape(-1, 8)
    if not len(known):
        known = np.zeros((1, 8), dtype=np.uint32)
    f_idx = np.asarray(saved["f_idx_map"], dtype=np.int64)
    # tree by tree, in the order scikit-learn adds them, so the sums agree to the last bit
    for tree in saved["trees"]:
        out += _tree_values(tree, known, f_idx, X)
    return out


def predict_proba(saved: dict[str, Any], frame: pd.DataFrame) -> Float:
    """P(positive class) per row, the logistic link of :func:`raw_predict`."""
    from scipy.special import expit

    out: Float = expit(raw_predict(saved, frame))
    return out
