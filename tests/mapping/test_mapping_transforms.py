"""Transforms and map_values: examples for each step, properties for the ones with laws."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from connector.mapping import FieldMapping, MappingFile, MapProblem, apply, map_values


def fm(type_: str = "number", transform: list[Any] | None = None, **kw: Any) -> FieldMapping:
    return FieldMapping.model_validate(
        {"value": "x.y", "field": "L2L_X__c", "type": type_, "transform": transform or [], **kw}
    )


finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9)


# -- examples, one per transform ------------------------------------------------------------


@pytest.mark.parametrize(
    ("steps", "value", "expected"),
    [
        ([{"round": 0}], 2.5, 2),
        ([{"round": 2}], 1.23456, 1.23),
        ([{"round": -2}], 1234, 1200),
        ([{"multiply": 0.001}], 12000, 12.0),
        ([{"clamp": [0, 100]}], 250, 100),
        ([{"clamp": [0, 100]}], -3, 0),
        ([{"clamp": [0, 100]}], 42, 42),
        (["percent"], 0.25, 25.0),
        ([{"percent": True}], 0.5, 50.0),
        ([{"default": 0}], None, 0),
        ([{"default": 0}], 7, 7),
    ],
)
def test_number_transforms(steps: list[Any], value: Any, expected: Any) -> None:
    assert apply(fm("number", steps, scale=2), value) == expected


def test_number_field_rounds_to_its_scale_and_gives_int_for_scale_0() -> None:
    assert apply(fm("number"), 3.7) == 4
    assert isinstance(apply(fm("number"), 3.0), int)
    assert apply(fm("currency"), Decimal("10.25")) == 10.25
    assert apply(fm("currency"), 19.999) == 20.0
    assert apply(fm("percent", scale=1), 12.34) == 12.3


def test_none_stays_none_and_nan_clears() -> None:
    assert apply(fm("number", [{"round": 0}, {"clamp": [0, 1]}]), None) is None
    assert apply(fm("text", [{"template": "{value}"}]), None) is None
    assert apply(fm("number"), float("nan")) is None


def test_number_too_large_for_field_says_what_to_do() -> None:
    with pytest.raises(ValueError, match="add a clamp"):
        apply(fm("number", precision=3), 1000)


def test_template_formats_value_and_dict_keys() -> None:
    assert apply(fm("text", [{"template": "{value} orders"}]), 3) == "3 orders"
    assert apply(fm("text", [{"template": "{value:.1f}%"}]), 12.345) == "12.3%"
    reasons = {"score": 4, "why": "cart"}
    assert apply(fm("text", [{"template": "{score}: {why}"}]), reasons) == "4: cart"
    with pytest.raises(ValueError, match=r"\{missing\}"):
        apply(fm("text", [{"template": "{missing}"}]), 1)


@pytest.mark.parametrize(
    "template", ["{value.__class__}", "{value[0]}", "{0}", "{}", "{value:{width}}", "{value"]
)
def test_template_rejects_attribute_index_and_positional_access(template: str) -> None:
    with pytest.raises(ValidationError):
        fm("text", [{"template": template}])


def test_date_transform_and_date_fields() -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, 678900, tzinfo=UTC)
    assert apply(fm("text", [{"date": "date"}]), when) == "2026-01-02"
    assert apply(fm("text", [{"date": "datetime"}]), when) == "2026-01-02T03:04:05.678+0000"
    east = datetime(2026, 1, 2, 1, 0, tzinfo=timezone(timedelta(hours=5)))
    assert apply(fm("datetime"), east) == "2026-01-01T20:00:00.000+0000"
    assert apply(fm("date"), east) == "2026-01-01"
    assert apply(fm("date"), date(2025, 12, 31)) == "2025-12-31"
    assert apply(fm("date"), "2025-12-31") == "2025-12-31"
    with pytest.raises(ValueError, match="no timezone"):
        apply(fm("datetime"), datetime(2026, 1, 1))


def test_picklist_transform_and_picklist_field() -> None:
    step = {"picklist": {"a": "Alpha", 1: "One"}}
    assert apply(fm("text", [step]), "a") == "Alpha"
    assert apply(fm("text", [step]), 1) == "One"
    with pytest.raises(ValueError, match="not in the picklist"):
        apply(fm("text", [step]), "zzz")
    field = fm("picklist", picklist={"champion": "Champion", "at_risk": "At Risk"})
    assert apply(field, "at_risk") == "At Risk"
    with pytest.raises(ValueError, match="not in the picklist"):
        apply(field, "new")
    lenient = fm("picklist", picklist={"champion": "Champion"}, picklist_default="Champion")
    assert apply(lenient, "new") == "Champion"


def test_truncate_and_text_length() -> None:
    assert apply(fm("text", [{"truncate": 3}]), "abcdef") == "abc"
    assert apply(fm("text", [{"truncate": 3}]), 123456) == "123"
    with pytest.raises(ValueError, match="truncate: 5"):
        apply(fm("text", length=5), "abcdef")
    assert apply(fm("textarea", length=1000), "x" * 1000) == "x" * 1000


def test_checkbox() -> None:
    assert apply(fm("checkbox"), True) is True
    assert apply(fm("checkbox"), 0) is False
    with pytest.raises(ValueError, match="true/false"):
        apply(fm("checkbox"), "yes")


def test_wrong_kind_of_value_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="expected a number"):
        apply(fm("number", [{"round": 0}]), "abc")
    with pytest.raises(ValueError, match="expected a number"):
        apply(fm("number"), True)


# -- properties -----------------------------------------------------------------------------


@given(finite, st.integers(0, 6))
def test_round_is_idempotent(x: float, n: int) -> None:
    f = fm("number", [{"round": n}], scale=6)
    once = apply(f, x)
    assert apply(f, once) == once


@given(finite, finite, finite)
def test_clamp_stays_within_bounds(x: float, a: float, b: float) -> None:
    lo, hi = min(a, b), max(a, b)
    out = apply(fm("text", [{"clamp": [lo, hi]}, {"template": "{value!r}"}]), x)
    assert lo <= float(out) <= hi


@given(st.text(), st.sampled_from(["{value}", "Why: {value}", "{value!r}", "{{{value}}}"]))
def test_template_never_raises_on_text(value: str, template: str) -> None:
    out = apply(fm("textarea", [{"template": template}, {"truncate": 1000}], length=1000), value)
    assert isinstance(out, str)


@given(st.datetimes(timezones=st.timezones()))
def test_datetime_output_parses_back_to_the_same_instant(when: datetime) -> None:
    out = apply(fm("datetime"), when)
    back = datetime.strptime(out, "%Y-%m-%dT%H:%M:%S.%f%z")
    assert abs(back - when) < timedelta(milliseconds=1)
    day = apply(fm("date"), when)
    assert date.fromisoformat(day) == when.astimezone(UTC).date()


@given(st.floats(min_value=0, max_value=1))
def test_percent_maps_fraction_to_0_100(x: float) -> None:
    out = apply(fm("percent", ["percent"], scale=2), x)
    assert 0 <= out <= 100
    assert math.isclose(out, round(x * 100, 2))


# -- map_values ----------------------------------------------------------------------------


def test_map_values_routes_people_to_records_and_collects_problems() -> None:
    contact = MappingFile.model_validate(
        {
            "object": "Contact",
            "person": "contact",
            "fields": [
                {"value": "rfm.order_count", "field": "L2L_Order_Count__c", "type": "number"},
                {"value": "rfm.revenue", "field": "L2L_Revenue__c", "type": "currency"},
            ],
        }
    )
    lead = MappingFile.model_validate(
        {
            "object": "Lead",
            "person": "lead",
            "fields": [{"value": "rfm.order_count", "field": "L2L_Orders__c", "type": "number"}],
        }
    )
    computed: dict[tuple[str, str], dict[str, Any]] = {
        ("contact", "003A"): {"rfm.order_count": 3, "rfm.revenue": 10.126},
        ("contact", "003B"): {"rfm.order_count": "bad", "rfm.revenue": None},
        ("contact", "003C"): {"other": 1},
        ("lead", "00QA"): {"rfm.order_count": 1.0},
    }
    problems: list[MapProblem] = []
    out = map_values([contact, lead], computed, problems=problems)
    assert out == {
        ("Contact", "003A"): {"L2L_Order_Count__c": 3, "L2L_Revenue__c": 10.13},
        ("Contact", "003B"): {"L2L_Revenue__c": None},
        ("Lead", "00QA"): {"L2L_Orders__c": 1},
    }
    assert [(p.record_id, p.field) for p in problems] == [("003B", "L2L_Order_Count__c")]
    assert "expected a number" in problems[0].message


def test_map_values_logs_when_no_problem_list(caplog: pytest.LogCaptureFixture) -> None:
    mf = MappingFile.model_validate(
        {"object": "Lead", "person": "lead", "fields": [fm().model_dump(exclude_none=True)]}
    )
    assert map_values([mf], {("lead", "00Q1"): {"x.y": "nope"}}) == {}
    assert "00Q1" in caplog.text


def test_frame_holes_clear_fields_instead_of_failing(caplog: pytest.LogCaptureFixture) -> None:
    """One model's frame lacks a person the other has: after the join their cells are NaN/NaT,
    which must reach date and picklist fields as a clear, not as a float they cannot take."""
    import pandas as pd

    from connector.sync import mapper_for

    contact = MappingFile.model_validate(
        {
            "object": "Contact",
            "person": "contact",
            "fields": [
                {"value": "rfm.order_count", "field": "L2L_Order_Count__c", "type": "number"},
                {"value": "p.next", "field": "L2L_Next__c", "type": "date"},
                {
                    "value": "p.segment",
                    "field": "L2L_Segment__c",
                    "type": "picklist",
                    "picklist": {"Champions": "Champions"},
                },
            ],
        }
    )
    index = pd.MultiIndex.from_tuples([("Contact", "003A"), ("Contact", "003B")])
    rfm = pd.DataFrame({"rfm.order_count": [2, 1]}, index=index)
    model = pd.DataFrame(
        {"p.next": [date(2026, 12, 1)], "p.segment": ["Champions"]}, index=index[:1]
    )
    with caplog.at_level("WARNING"):
        out = mapper_for([contact])(pd.concat([rfm, model], axis=1))
    assert out[("Contact", "003A")] == {
        "L2L_Order_Count__c": 2,
        "L2L_Next__c": "2026-12-01",
        "L2L_Segment__c": "Champions",
    }
    assert out[("Contact", "003B")] == {
        "L2L_Order_Count__c": 1,
        "L2L_Next__c": None,
        "L2L_Segment__c": None,
    }
    assert caplog.records == []


def test_min_change_is_for_numbers_and_dates() -> None:
    assert fm("percent", min_change=2).check() == []
    assert fm("date", min_change=7).check() == []
    with pytest.raises(ValidationError, match="min_change: only number, currency, percent"):
        fm("text", min_change=1)
    with pytest.raises(ValidationError, match="greater than 0"):
        fm("number", min_change=0)
