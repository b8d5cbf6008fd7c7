"""The diff alone: examples and properties over arbitrary desired/written/outbox states."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from connector.store import dumps, loads_many
from connector.sync.diff import diff

IDS = st.sampled_from(["003A", "003B", "003C", "003D"])
FIELDS = st.sampled_from(["F1__c", "F2__c", "F3__c"])
VALUES = st.one_of(st.none(), st.integers(-3, 3), st.text(max_size=3), st.booleans())
KEYS = st.tuples(st.just("Contact"), IDS, FIELDS)


@st.composite
def states(draw: Any) -> tuple[Any, Any, Any, Any]:
    desired: dict[tuple[str, str], dict[str, Any]] = {}
    for _, record_id, field in draw(st.lists(KEYS, max_size=10)):
        desired.setdefault(("Contact", record_id), {})[field] = draw(VALUES)
    written = {key: dumps(draw(VALUES)) for key in draw(st.lists(KEYS, max_size=8))}
    outbox = {
        key: (dumps(draw(VALUES)), draw(st.sampled_from(["pending", "carried", "failed"])))
        for key in draw(st.lists(KEYS, max_size=6))
    }
    live = {"Contact": set(draw(st.lists(IDS, max_size=4)))}
    return desired, written, outbox, live


@given(states())
def test_changes_are_exactly_the_live_values_that_differ(state: Any) -> None:
    desired, written, outbox, live = state
    result = diff(desired, written, outbox, live)
    expected = []
    for (obj, rid), values in desired.items():
        for field, value in values.items():
            key = (obj, rid, field)
            if rid not in live["Contact"] or written.get(key) == dumps(value):
                continue
            if value is None and key not in written:
                continue
            if outbox.get(key) == (dumps(value), "failed"):
                continue
            expected.append((obj, rid, field, value))
    assert result.changes == expected


@given(states())
def test_a_first_sync_plans_what_the_general_comparison_plans(state: Any) -> None:
    # nothing written nor queued takes the first sync's shortcut; a baseline row of a record
    # the desired values do not name takes the general comparison, which it cannot change
    desired, _, _, live = state
    first = diff(desired, {}, {}, live)
    general = diff(desired, {("Lead", "00Q-unrelated", "F1__c"): dumps(1)}, {}, live)
    assert first.changes == general.changes
    assert first.stale == general.stale == []
    assert all(value is not None for *_, value in first.changes)


@given(states())
def test_applying_the_changes_leaves_nothing_to_write(state: Any) -> None:
    desired, written, outbox, live = state
    first = diff(desired, written, outbox, live)
    after = dict(written)
    for obj, rid, field, value in first.changes:
        after[(obj, rid, field)] = dumps(value)
    kept = {k: v for k, v in outbox.items() if k not in first.stale}
    remaining = {k: v for k, v in kept.items() if v[1] == "failed"}
    assert diff(desired, after, remaining, live).changes == []


@given(states())
def test_stale_rows_are_exactly_the_outbox_rows_not_wanted(state: Any) -> None:
    desired, written, outbox, live = state
    result = diff(desired, written, outbox, live)
    changed = {(o, r, f) for o, r, f, _ in result.changes}
    for key in outbox:
        missing = object()
        value = desired.get(key[:2], {}).get(key[2], missing)
        would_write = (
            value is not missing
            and key[1] in live["Contact"]
            and written.get(key) != dumps(value)
            and not (value is None and key not in written)
        )
        refused_same = would_write and outbox[key] == (dumps(value), "failed")
        assert (key in result.stale) == (key not in changed and not refused_same)


def test_a_refused_value_is_neither_resent_nor_forgotten() -> None:
    key = ("Contact", "003A", "F1__c")
    state = (
        {("Contact", "003A"): {"F1__c": "x" * 300}},
        {},
        {key: (dumps("x" * 300), "failed")},
        {"Contact": {"003A"}},
    )
    for _ in range(3):  # run after run: the refusal is remembered, nothing is sent
        result = diff(*state)
        assert result.changes == []
        assert result.stale == []
    changed = diff({("Contact", "003A"): {"F1__c": "short"}}, *state[1:])
    assert changed.changes == [("Contact", "003A", "F1__c", "short")]


@given(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),  # NaN and infinities included: they must take the JSON encoder's path
        st.text(),
        st.dates(),
        st.lists(st.integers(), max_size=3),
    )
)
def test_dumps_fast_paths_match_the_json_encoder(value: Any) -> None:
    """Stored texts are compared across versions: the fast paths must not change one byte."""
    import json

    assert dumps(value) == json.dumps(value, sort_keys=True, default=str)


@given(
    st.lists(
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(),
            st.floats(),
            st.text(),
            st.dates(),
            st.lists(st.integers(), max_size=3),
            st.dictionaries(st.text(max_size=3), st.floats(allow_nan=False), max_size=3),
        ),
        max_size=8,
    )
)
def test_loads_many_decodes_as_json_loads_of_each_text(values: list[Any]) -> None:
    """The outbox is read back with loads_many: what json.loads gives, type included."""
    import json
    import math

    texts = [dumps(v) for v in values]
    fast, slow = loads_many(texts), [json.loads(t) for t in texts]
    assert [type(v) for v in fast] == [type(v) for v in slow]
    for got, want in zip(fast, slow, strict=True):
        if isinstance(want, float) and math.isnan(want):
            assert math.isnan(got)
        else:
            assert got == want


def test_min_change_skips_small_moves_of_numbers_and_dates_only() -> None:
    contact = ("Contact", "003A")
    written = {
        ("Contact", "003A", "P__c"): dumps(40),
        ("Contact", "003A", "D__c"): dumps("2026-12-01"),
        ("Contact", "003A", "T__c"): dumps("gold"),
        ("Contact", "003A", "N__c"): dumps(None),
    }
    tolerance = {("Contact", "P__c"): 2.0, ("Contact", "D__c"): 7.0, ("Contact", "T__c"): 1.0}
    live = {"Contact": {"003A"}}

    def changed(values: dict[str, Any]) -> list[str]:
        result = diff({contact: values}, written, {}, live, tolerance)
        return sorted(f for _, _, f, _ in result.changes)

    assert changed({"P__c": 41, "D__c": "2026-12-07"}) == []  # 1 point, 6 days: not news
    assert changed({"P__c": 42, "D__c": "2026-12-08"}) == ["D__c", "P__c"]  # 2 points, 7 days
    assert changed({"P__c": 39, "D__c": "2026-11-25"}) == []  # moves count both ways
    assert changed({"P__c": None}) == ["P__c"]  # a clear is always written
    assert changed({"N__c": 1}) == ["N__c"]  # from empty is always written
    assert changed({"T__c": "silver"}) == ["T__c"]  # text has no distance
    assert diff({contact: {"P__c": 41}}, written, {}, live).changes  # no tolerance: written
