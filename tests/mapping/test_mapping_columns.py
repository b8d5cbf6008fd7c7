"""Whole-column mapping (``map_column``, ``map_frame``) gives exactly what the per-value transform
chain gives: the same values (type included: an int for scale 0, a float otherwise), the same
refusals with the same words, None for a hole. Properties over random columns, NaN, infinities,
values at the precision limit and at rounding ties included."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.mapping import (
    FieldMapping,
    MappingFile,
    MapProblem,
    apply,
    map_column,
    map_frame,
    map_values,
)


def _field(
    kind: str, precision: int, scale: int, steps: list[Any], key: str = "x.y"
) -> FieldMapping:
    return FieldMapping.model_validate(
        {"value": key, "field": "L2L_X__c", "type": kind, "precision": precision,
         "scale": scale, "transform": steps}
    )  # fmt: skip


def _one_by_one(m: FieldMapping, values: list[Any]) -> tuple[list[Any], list[tuple[int, str]]]:
    out: list[Any] = []
    problems: list[tuple[int, str]] = []
    for i, v in enumerate(values):
        try:
            out.append(
                apply(m, None if v is None or (isinstance(v, float) and math.isnan(v)) else v)
            )
        except (ValueError, TypeError, ArithmeticError) as exc:
            out.append(None)
            problems.append((i, str(exc)))
    return out, problems


def _same(a: list[Any], b: list[Any]) -> bool:
    return len(a) == len(b) and all(
        type(x) is type(y) and (x == y or (x != x and y != y)) and str(x) == str(y)
        for x, y in zip(a, b, strict=True)
    )


# ties (x.5 at every scale), the limit of a (precision, scale) and floats the shortest repr
# of which sits on a tie but whose binary value does not (2.675, 0.285...)
edges = st.sampled_from(
    [0.5, 1.5, 2.5, -2.5, 2.675, 0.285, 1.005, 0.125, -0.125, 1e15, 9.995, 99.995, 999.5,
     0.0, -0.0, 1e-300, 5e-324, 123456.785, float("inf"), float("-inf"), float("nan")]
)  # fmt: skip
floats = st.one_of(
    edges,
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1e6, max_value=1e6),
    st.integers(-(10**6), 10**6).map(lambda i: i / 1000),
    st.integers(-(10**8), 10**8).map(lambda i: i / 200),
)
steps = st.lists(
    st.one_of(
        st.just("percent"),
        st.builds(lambda f: {"multiply": f}, st.sampled_from([0.001, 0.1, 3, 100, -1.5, 1e6])),
    ),
    max_size=2,
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(floats, min_size=1, max_size=40),
    st.sampled_from(["number", "currency", "percent"]),
    st.integers(1, 18),
    st.integers(0, 8),
    steps,
)
def test_a_float_column_maps_as_value_by_value(
    values: list[float], kind: str, precision: int, scale: int, chain: list[Any]
) -> None:
    scale = min(scale, precision - 1) if precision > 1 else 0
    m = _field(kind, precision, scale, chain)
    column = pd.Series(values, dtype=np.float64)
    got, problems = map_column(m, column)
    want, want_problems = _one_by_one(_field(kind, precision, scale, chain), values)
    assert _same(got, want), (got, want)
    assert problems == want_problems


@pytest.mark.parametrize(
    ("x", "scale"),
    # numpy's rint(x * 10**scale) / 10**scale rounds these the other way from Python's round:
    # the product lands on the wrong side of the .5 (found by a random search)
    [(508.24174999999997, 4), (-273.21305, 4), (-90.2555295, 6), (680.4049005, 6),
     (-4194.8349995, 6), (243.26774999999998, 4)],
)  # fmt: skip
def test_a_product_that_lands_on_the_wrong_side_of_a_tie_rounds_as_python(
    x: float, scale: int
) -> None:
    m = _field("number", 18, scale, [])
    got, _ = map_column(m, pd.Series([x, x], dtype=np.float64))
    assert got == [round(x, scale)] * 2


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.integers(-(10**17), 10**17), min_size=1, max_size=30),
    st.integers(1, 18),
    st.integers(0, 4),
    steps,
)
def test_an_int_column_maps_as_value_by_value(
    values: list[int], precision: int, scale: int, chain: list[Any]
) -> None:
    scale = min(scale, precision - 1) if precision > 1 else 0
    m = _field("number", precision, scale, chain)
    got, problems = map_column(m, pd.Series(values, dtype=np.int64))
    want, want_problems = _one_by_one(_field("number", precision, scale, chain), values)
    assert _same(got, want), (got, want)
    assert problems == want_problems


def test_a_frame_maps_as_map_values_of_its_rows() -> None:
    contact = MappingFile.model_validate(
        {"object": "Contact", "person": "contact", "fields": [
            {"value": "a.n", "field": "L2L_N__c", "type": "number", "precision": 4, "scale": 1},
            {"value": "a.p", "field": "L2L_P__c", "type": "percent", "precision": 5,
             "scale": 2, "transform": ["percent"]},
            {"value": "a.t", "field": "L2L_T__c", "type": "text", "length": 3},
        ]}
    )  # fmt: skip
    lead = MappingFile.model_validate(
        {"object": "Lead", "person": "lead", "fields": [
            {"value": "a.n", "field": "L2L_N__c", "type": "number", "precision": 3, "scale": 0},
        ]}
    )  # fmt: skip
    index = pd.MultiIndex.from_tuples(
        [("Contact", "003a"), ("Lead", "00Qb"), ("Contact", "003c"), ("Lead", "00Qd")]
    )
    frame = pd.DataFrame(
        {
            "a.n": [1.25, 999.5, float("nan"), 12345.0],
            "a.p": [0.123456, 0.5, 2.0, float("inf")],
            "a.t": ["ab", None, "long text", "x"],
        },
        index=index,
    )
    kinds = {"Contact": "contact", "Lead": "lead"}
    problems: list[MapProblem] = []
    got = map_frame([contact, lead], frame, kinds, problems=problems)
    known = frame.astype(object).where(frame.notna(), None)
    people = {(kinds[o], r): v for (o, r), v in known.to_dict("index").items()}
    want_problems: list[MapProblem] = []
    want = map_values([contact, lead], people, problems=want_problems)
    assert got == want
    assert list(got) == list(want)
    assert problems == want_problems
    assert len(problems) == 3  # 999.5 rounds to 1000 (3 digits), inf, text too long
