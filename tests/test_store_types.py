"""Stored columns typed from describe: what goes in comes back, however the first page looks."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.store import Store
from connector.store.columns import BOOLEAN, INTEGER, REAL, TEXT, column_type
from localorg.org import LocalOrg
from localorg.server import Running
from tests.backends import postgres_schema
from tests.support import deployed_engine, load_rows, localorg_settings, rfm_mappings

TYPES = ("boolean", "int", "double", "currency", "percent", "date", "datetime", "string")
NAME = st.from_regex(r"[A-Z][A-Za-z0-9]{0,10}(__c)?", fullmatch=True)
TEXT_VALUE = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20
)


def _value(kind: str) -> st.SearchStrategy[Any]:
    """A value as the client hands it over for a field of describe ``kind``."""
    if kind == "boolean":  # checkboxes are never null (describe: nillable false)
        return st.booleans()
    if kind == "int":
        return st.none() | st.integers(-(2**53), 2**53)
    if kind in ("double", "currency", "percent"):
        return st.none() | st.floats(allow_nan=False, allow_infinity=False)
    if kind == "date":
        return st.none() | st.dates().map(lambda d: d.isoformat())
    if kind == "datetime":
        moments = st.datetimes(timezones=st.just(UTC))
        return st.none() | moments.map(lambda m: m.strftime("%Y-%m-%dT%H:%M:%S.000+0000"))
    # text that looks like a number or a boolean stays text
    return st.none() | TEXT_VALUE | st.sampled_from(["1", "0", "true", "1.0", "007"])


@st.composite
def pages(draw: st.DrawFn) -> tuple[dict[str, str], list[list[dict[str, Any]]]]:
    """A describe (field -> type) and the records of a pull, in pages of one shape each."""
    describe = draw(st.dictionaries(NAME, st.sampled_from(TYPES), min_size=1, max_size=6))
    describe.pop("Id", None)
    n = draw(st.integers(1, 12))
    records = [
        {"Id": f"001{i:015d}", **{f: draw(_value(k)) for f, k in describe.items()}}
        for i in range(n)
    ]
    cut = draw(st.integers(0, n))
    if draw(st.booleans()):  # the old trap: a first page where a field is all null
        for r in records[:cut]:
            r.update({f: None for f, k in describe.items() if k != "boolean"})
    return {"Id": "id", **describe}, [p for p in (records[:cut], records[cut:]) if p]


def _same(got: Any, want: Any) -> bool:
    if want is None:
        return got is None or (isinstance(got, float) and math.isnan(got))
    if isinstance(want, bool):
        return type(got).__name__ in ("bool", "bool_") and bool(got) is want
    if isinstance(want, int | float):
        return not isinstance(got, str) and float(got) == float(want)
    return bool(got == want)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pages())
def test_a_describe_typed_round_trip_returns_what_went_in(
    pulled: tuple[dict[str, str], list[list[dict[str, Any]]]],
) -> None:
    describe, batches = pulled
    store = Store(":memory:")
    store.records.declare("Thing", describe)
    for page in batches:
        store.records.upsert("Thing", page)
    frame = store.records.frame("Thing", list(describe), include_deleted=True)
    got = {row["Id"]: row for row in frame.to_dict("records")}
    for record in (r for page in batches for r in page):
        for field, want in record.items():
            assert _same(got[record["Id"]][field], want), (field, describe[field], want)
    declared = {c.name: c.type for c in store.db.table("sf_Thing").columns}
    assert declared == {f: column_type(k) for f, k in describe.items()}


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(pulled=pages())
def test_a_describe_typed_round_trip_returns_what_went_in_on_postgresql(
    pg_store: Store, pulled: tuple[dict[str, str], list[list[dict[str, Any]]]]
) -> None:
    # The same property on PostgreSQL (untyped numbers, SMALLINT checkboxes, DOUBLE PRECISION);
    # one schema for the examples, each starting from no table (the function-scoped fixture).
    pg_store.db.execute('DROP TABLE IF EXISTS "sf_Thing"')
    describe, batches = pulled
    pg_store.records.declare("Thing", describe)
    for page in batches:
        pg_store.records.upsert("Thing", page)
    frame = pg_store.records.frame("Thing", list(describe), include_deleted=True)
    got = {row["Id"]: row for row in frame.to_dict("records")}
    for record in (r for page in batches for r in page):
        for field, want in record.items():
            assert _same(got[record["Id"]][field], want), (field, describe[field], want)
    declared = {c.name: c.type for c in pg_store.db.table("sf_Thing").columns}
    assert declared == {f: column_type(k) for f, k in describe.items()}


@pytest.fixture
def pg_store() -> Iterator[Store]:
    """A store in a fresh PostgreSQL schema (skipped with the reason when none answers)."""
    with postgres_schema() as url:
        store = Store(url)
        yield store
        store.close()


def test_column_types_follow_describe() -> None:
    assert column_type("boolean") == BOOLEAN
    assert column_type("int") == column_type("long") == INTEGER
    assert column_type("double") == column_type("currency") == column_type("percent") == REAL
    for kind in ("date", "datetime", "time", "string", "picklist", "reference", "id", "email"):
        assert column_type(kind) == TEXT


def test_a_database_from_before_typed_columns_is_retyped_in_place(database: Path | str) -> None:
    store = Store(database)
    # What the guessed types stored: a boolean whose first page was null became TEXT and
    # kept '1' / 'true'; an amount became FLOAT or TEXT.
    store.db.execute(
        'CREATE TABLE "sf_Order" ("Id" TEXT PRIMARY KEY, "IsDeleted" INTEGER, '
        '"IsReductionOrder" TEXT, "TotalAmount" TEXT, "Quantity" FLOAT, "EffectiveDate" TEXT)'
    )
    legacy = [
        ("801A", 0, "1", "12.5", 2.0, "2026-01-05"),
        ("801B", 0, "true", "", 1.0, "2026-01-06"),
        ("801C", 1, "True", "3", None, None),
        ("801D", 0, "0", None, 4.0, "2026-01-07"),
        ("801E", 0, "false", "7.25", 1.0, "2026-01-08"),
        ("801F", 0, None, "1.0", 1.0, "2026-01-09"),
    ]
    store.db.conn.executemany('INSERT INTO "sf_Order" VALUES (?, ?, ?, ?, ?, ?)', legacy)
    describe = {
        "Id": "id",
        "IsDeleted": "boolean",
        "IsReductionOrder": "boolean",
        "TotalAmount": "currency",
        "Quantity": "double",
        "EffectiveDate": "date",
        "Status": "picklist",  # new since: added, typed
    }
    retyped = store.records.declare("Order", describe)
    assert sorted(retyped) == ["IsDeleted", "IsReductionOrder", "TotalAmount"]
    assert store.records.declare("Order", describe) == []  # once
    frame = store.records.frame("Order", list(describe), include_deleted=True).set_index("Id")
    assert frame["IsReductionOrder"].to_dict() == {
        "801A": True,
        "801B": True,
        "801C": True,
        "801D": False,
        "801E": False,
        "801F": False,
    }
    assert frame["IsDeleted"].dtype == bool
    assert frame["TotalAmount"].dtype == float
    assert frame.loc["801A", "TotalAmount"] == 12.5
    assert math.isnan(frame.loc["801B", "TotalAmount"])  # empty text was no amount
    assert frame.loc["801F", "TotalAmount"] == 1.0
    assert frame.loc["801A", "EffectiveDate"] == "2026-01-05"
    assert list(store.records.frame("Order", ["Id"])["Id"]) == [
        "801A",
        "801B",
        "801D",
        "801E",
        "801F",
    ]
    store.close()
    reopened = Store(database)  # the re-typing is stored, not redone
    assert reopened.records.declare("Order", describe) == []
    reopened.close()


def test_a_field_name_that_is_not_an_api_name_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="not a plain"):
        store.records.declare("Thing", {'Bad"Name': "string"})


def test_event_properties_come_out_of_the_json_by_name(store: Store) -> None:
    base = {"source": "t", "type": "track", "occurred_at": "2026-01-01T00:00:00.000+00:00"}
    store.events.append(
        [
            {
                **base,
                "delivery_id": "1",
                "name": "Email Clicked",
                "properties": '{"channel": "sms"}',
            },
            {
                **base,
                "delivery_id": "2",
                "name": "Email Clicked",
                "properties": '{"channel":"push"}',
            },
            {**base, "delivery_id": "3", "name": "Email Clicked", "properties": '{"channel": ""}'},
            {**base, "delivery_id": "4", "name": "Email Clicked", "properties": "{}"},
            {**base, "delivery_id": "5", "name": "Page Viewed", "properties": '{"channel": "x"}'},
        ]
    )
    frame = store.events.frame(["Email Clicked"], ["channel"])
    # spacing in the JSON does not matter (a regex over the text cared); empty is missing
    assert frame["channel"].isna().tolist() == [False, False, True, True]
    assert frame["channel"].dropna().tolist() == ["sms", "push"]
    with pytest.raises(ValueError, match="not a plain"):
        store.events.frame(["Email Clicked"], ["channel') --"])


def test_a_pull_types_the_columns_and_reads_refunds_one_way(
    org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    mappings = rfm_mappings(tmp_path / "mappings", ("L2L_Order_Count__c",), objects=("Contact",))
    engine = deployed_engine(
        localorg_settings(org, localorg_server, tmp_path, mappings_dir=mappings)
    )
    account = load_rows(org, "Account", [{"Name": "Acme"}])[0]
    (contact,) = load_rows(org, "Contact", [{"LastName": "A", "AccountId": account}])
    order = {"AccountId": account, "BillToContactId": contact, "Status": "Activated"}
    order["IsReductionOrder"] = 0  # one shape for the whole batch
    load_rows(
        org,
        "Order",
        [
            {**order, "EffectiveDate": "2026-01-05", "TotalAmount": 40.0},
            {**order, "EffectiveDate": "2026-02-05", "TotalAmount": 60.0},
            {**order, "EffectiveDate": "2026-02-07", "TotalAmount": -60.0, "IsReductionOrder": 1},
        ],
    )
    report = engine.run()
    assert report.status == "succeeded", report.errors
    store = engine.store
    declared = {c.name: c.type for c in store.db.table("sf_Order").columns}
    assert declared["IsReductionOrder"] == declared["IsDeleted"] == BOOLEAN
    assert declared["TotalAmount"] == REAL
    assert declared["EffectiveDate"] == TEXT
    orders = store.records.frame("Order", ["IsReductionOrder", "TotalAmount"])
    assert sorted(orders["IsReductionOrder"].tolist()) == [False, False, True]
    row = org.store.execute('SELECT "L2L_Order_Count__c" FROM "Contact"')
    assert row[0][0] == 2  # the refund is not an order of its own
