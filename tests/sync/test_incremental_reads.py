"""The store reads a run of some people and an incremental sync stand on: lookups by column
that return what a filter of the whole table returns (in table order on SQLite, in Id order on
PostgreSQL, whose tables have none; past SQLite's parameter limit), the events of some emails
read as two indexed lookups, and the people one pulled page touches, before and after it is
stored (an echo, a new stamp alone, touches nobody)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from connector.loyalty.config import LoyaltyConfig
from connector.store import Store
from connector.sync.incremental import Touched, booked_by_others
from connector.sync.loyalty import load_inputs, loyalty_values
from connector.sync.resolve import resolve_run
from connector.sync.streams import OVERRIDE_FIELD as OVERRIDE
from tests.backends import ON_POSTGRES, sqlite_only, store_location


def _orders(n: int) -> list[dict[str, Any]]:
    return [
        {
            "Id": f"801{i:012d}",
            "BillToContactId": f"003{i % 7000:012d}",
            "AccountId": f"001{i % 300:012d}",
            "TotalAmount": float(i),
            "IsDeleted": i % 97 == 0,
        }
        for i in range(n)
    ]


def test_lookups_return_what_a_filter_of_the_whole_table_returns(tmp_path: Path) -> None:
    store = Store(store_location(tmp_path))
    store.records.declare(
        "Order",
        {"BillToContactId": "reference", "AccountId": "reference", "TotalAmount": "currency"},
    )
    store.records.index("Order", ["BillToContactId", "AccountId"])
    rows = _orders(12_000)
    store.records.upsert("Order", rows[::-1])  # table order is not Id order
    contacts = [f"003{i:012d}" for i in range(0, 7000, 1)][:6500]  # past one chunk of 5,000
    accounts = [f"001{i:012d}" for i in (5, 17)]
    got = store.records.frame(
        "Order", None, any_of={"BillToContactId": contacts, "AccountId": accounts}
    )
    whole = store.records.frame("Order")
    wanted = whole[whole["BillToContactId"].isin(contacts) | whole["AccountId"].isin(accounts)]
    if ON_POSTGRES:  # a PostgreSQL table has no order of its own: the lookups give Id order
        wanted = wanted.sort_values("Id", kind="stable")
    pd.testing.assert_frame_equal(got, wanted.reset_index(drop=True))
    assert store.records.frame("Order", ["Id"], any_of={"Id": []}).empty


def test_events_of_some_emails_are_theirs_and_their_anonymous_ids(tmp_path: Path) -> None:
    store = Store(store_location(tmp_path))

    def event(n: int, email: str | None, anonymous: str | None, name: str) -> dict[str, Any]:
        return {
            "source": "test",
            "delivery_id": str(n),
            "type": "identify" if name == "" else "track",
            "name": name or None,
            "occurred_at": f"2026-11-0{1 + n % 9}T10:00:00.000Z",
            "email": email,
            "anonymous_id": anonymous,
            "properties": json.dumps({"channel": "email"}),
        }

    store.events.append(
        [
            event(1, "a@example.com", "anon-1", "Product Viewed"),
            event(2, None, "anon-1", "Product Viewed"),  # a's, through the anonymous id
            event(3, None, "anon-2", "Product Viewed"),  # nobody's
            event(4, "b@example.com", None, "Product Viewed"),
            event(5, "a@example.com", None, "Ignored"),
            event(6, None, "anon-1", ""),  # an identify: read whatever its name
        ]
    )
    got = store.events.frame(["Product Viewed"], ["channel"], emails=["a@example.com"])
    assert sorted(got["delivery_id"]) == ["1", "2", "6"]
    assert set(got["channel"]) == {"email"}
    last, count = store.events.position()
    assert count == 6
    emails, appended = store.events.emails_after(0)
    assert (emails, appended) == ({"a@example.com", "b@example.com"}, 6)
    store.events.append([event(7, None, "anon-1", "Product Viewed")])
    assert store.events.emails_after(last) == ({"a@example.com"}, 1)  # by its anonymous id


def _pulled(store: Store, touched: Touched, name: str, page: list[dict[str, Any]]) -> None:
    """A pulled page as the engine stores it: its owners read before, its people noted after."""
    pulled = touched.before(store, name, page)
    touched.note(store, pulled, store.records.upsert(name, page))


def test_a_page_touches_the_owners_a_row_had_and_has(tmp_path: Path) -> None:
    store = Store(store_location(tmp_path))
    order = {"Id": "801A", "BillToContactId": "003OLD", "AccountId": "001A"}
    order["SystemModstamp"] = "2026-11-01T10:00:00.000+0000"
    store.records.upsert("Order", [order])
    touched = Touched()
    _pulled(store, touched, "Order", [order])  # read again by the lookback: no change
    assert touched == Touched()
    moved = {**order, "BillToContactId": "003NEW", "AccountId": "001B"}
    moved["SystemModstamp"] = "2026-11-02T10:00:00.000+0000"
    other = {"Id": "801B", "BillToContactId": "003X", "AccountId": "001X"}
    other["SystemModstamp"] = "2026-11-01T10:00:00.000+0000"
    store.records.upsert("Order", [other])
    # the echo of a save that changed nothing we read (our own write-back, swept an hour
    # later): a new stamp alone, in the same page as a real change
    echo = {**other, "SystemModstamp": "2026-11-02T10:00:00.000+0000"}
    _pulled(store, touched, "Order", [echo, moved])
    assert touched.contacts == {"003OLD", "003NEW"}
    assert touched.accounts == {"001A", "001B"}
    assert touched.orders == {"801A"}
    _pulled(store, touched, "Order", [{**echo, "SystemModstamp": "2026-11-03T10:00:00.000+0000"}])
    assert touched.orders == {"801A"}  # a page of echoes alone touches nobody
    _pulled(store, touched, "Contact", [{"Id": "003C", "Email": " Shopper@Example.com "}])
    assert "shopper@example.com" in touched.emails
    touched.save(store)
    assert Touched.load(store) == touched
    _pulled(store, touched, "Product2", [{"Id": "01tA", "Family": "Shoes"}])
    assert touched.everyone == "Product2 changed"
    assert touched.size() == 0


def test_a_message_touches_the_people_it_names_and_a_correction_touches_everyone(
    tmp_path: Path,
) -> None:
    store = Store(store_location(tmp_path))
    stamp = {"SystemModstamp": "2026-11-01T10:00:00.000+0000"}
    store.records.upsert("Task", [{"Id": "00TA", "WhoId": "00QLEAD", **stamp}])
    store.records.upsert("Case", [{"Id": "500A", "ContactId": "003CASE", **stamp}])
    touched = Touched()
    # a rep's note on a Contact, moved to a Lead: both are its people
    note = {"Description": "Asked about sizes, will order next week."}
    store.records.upsert("Task", [{"Id": "00TB", "WhoId": "003OLD", **note, **stamp}])
    _pulled(store, touched, "Task", [{"Id": "00TB", "WhoId": "00QNEW", **note}])
    assert (touched.contacts, touched.leads) == ({"003OLD"}, {"00QNEW"})
    # the Tasks the connector's own Flows make, and Tasks without a text: no model reads them
    # (sync/texts_stage.py), so they touch nobody
    said = "lead2loyalty saw this customer's recent orders go wrong.\n3 of the last 4 orders late"
    _pulled(store, touched, "Task", [{"Id": "00TC", "WhoId": "003FLOW", "Description": said}])
    _pulled(store, touched, "Task", [{"Id": "00TD", "WhoId": "003BARE", "Description": None}])
    assert (touched.contacts, touched.leads) == ({"003OLD"}, {"00QNEW"})
    # a rep who writes over such a Task writes what the person said: its person is touched
    _pulled(store, touched, "Task", [{"Id": "00TC", "WhoId": "003FLOW", **note, **stamp}])
    assert touched.contacts == {"003OLD", "003FLOW"}
    # an email: the person it relates to, its Task's, its Case's and its sender's address
    message = {
        "Id": "02sA",
        "RelatedToId": "003REL",
        "ActivityId": "00TA",
        "ParentId": "500A",
        "FromAddress": " Writer@Example.com",
    }
    _pulled(store, touched, "EmailMessage", [message])
    assert touched.contacts == {"003OLD", "003FLOW", "003REL", "003CASE"}
    assert touched.leads == {"00QNEW", "00QLEAD"}
    assert "writer@example.com" in touched.emails
    assert touched.everyone is None
    # a sentiment correction refines the model that scores every message: everyone
    _pulled(store, touched, "Case", [{"Id": "500A", "ContactId": "003CASE", OVERRIDE: "Negative"}])
    assert touched.everyone is not None
    assert "sentiment correction" in touched.everyone
    # a Case without a Contact: its values belong to no person's run
    orphan = Touched()
    _pulled(store, orphan, "Case", [{"Id": "500B", "ContactId": None}])
    assert orphan.everyone == "a Case with no Contact changed"


def test_entries_booked_by_others_are_the_next_runs_people(tmp_path: Path) -> None:
    store = Store(store_location(tmp_path))
    start = store.loyalty.position("club")
    entries = pd.DataFrame(
        [
            {"key": "mine", "program": "club", "member": "Contact:003A"},
            {"key": "api", "program": "club", "member": "Account:001B"},
        ]
    )
    store.loyalty.append(_journal(entries))
    touched, positions = booked_by_others(store, {"club": start}, {"club": ["mine"]})
    assert touched.contacts == set()
    assert touched.accounts == {"001B"}
    assert positions == {"club": store.loyalty.position("club")} != {"club": start}


@sqlite_only("counts the SQLite virtual machine's steps of each read")
def test_reads_by_position_do_not_read_the_entries_before_it(tmp_path: Path) -> None:
    """An incremental run reads the journal by position (the members booked since its last
    compute, twice a run; the last position): the work of those reads follows the entries
    after the position, not the journal's size. Counted in SQLite's steps, on a journal of
    200 entries before the position and one of 20,000, each with the same 3 after it."""

    def steps(before: int) -> dict[str, int]:
        store = Store(tmp_path / f"journal-{before}.sqlite")
        old = pd.DataFrame(
            {"key": [f"k{i}" for i in range(before)], "program": "club",
             "member": [f"Contact:003{i % 500:04d}" for i in range(before)]}
        )  # fmt: skip
        store.loyalty.append(_journal(old))
        start = store.loyalty.position("club")
        new = pd.DataFrame(
            {"key": ["n1", "n2", "n3"], "program": "club", "member": ["Contact:003NEW"] * 3}
        )
        store.loyalty.append(_journal(new))
        counted = {"n": 0}

        def step() -> int:
            counted["n"] += 1
            return 0

        conn = store.db.conn
        out: dict[str, int] = {}
        conn.set_progress_handler(step, 10)
        for name, read in (
            ("members_after", lambda: store.loyalty.members_after("club", start)),
            ("entries_after", lambda: store.loyalty.entries_after("club", start)),
            ("count_after", lambda: store.loyalty.count_after("club", start)),
            ("position", lambda: store.loyalty.position("club")),
        ):
            counted["n"] = 0
            got: Any = read()
            out[name] = counted["n"]
            if name == "members_after":
                assert got == ([("n1", "Contact:003NEW"), ("n2", "Contact:003NEW"),
                                ("n3", "Contact:003NEW")], start + 3)  # fmt: skip
            elif name == "count_after":
                assert got == 3
            elif name == "position":
                assert got == start + 3
        conn.set_progress_handler(None, 10)
        return out

    small, big = steps(200), steps(20_000)
    for name, n in small.items():
        # a read of the 20,000 entries takes thousands of steps; of 3, a few dozen either way
        assert big[name] <= n + 20, (name, small, big)


def _journal(entries: pd.DataFrame) -> pd.DataFrame:
    from connector.loyalty.ledger import JOURNAL_COLUMNS

    full = entries.reindex(columns=list(JOURNAL_COLUMNS))
    full["kind"] = "earn"
    full["currency"] = "points"
    full["points"] = 10
    full["at"] = "2026-11-01T00:00:00+00:00"
    return full


def test_the_baseline_of_some_records_is_theirs_past_a_chunk(store: Store) -> None:
    """A run of some people reads the written values of their records (and their Orders) by
    the primary key, 5,000 ids a statement, on both backends."""
    outbox = store.outbox
    run = store.runs.start("incremental")
    changes = [("Contact", f"003{i:05d}", f, float(i)) for i in range(6_000) for f in ("F", "G")]
    changes += [("Order", f"801{i:05d}", "Risk", i) for i in range(300)]
    outbox.enqueue(run, changes)
    outbox.mark_in_flight(run, sorted({(o, r) for o, r, _, _ in changes}))
    outbox.record_results(run, outbox.in_flight(), [], [])
    outbox.enqueue(run, [("Contact", "00300007", "F", 99.0)])  # waiting, not yet written
    records = [("Contact", f"003{i:05d}") for i in range(5_500)]
    records += [("Order", "80100010"), ("Lead", "00Qnone")]
    written, waiting = outbox.baseline_for(records)
    everything = outbox.written_values()
    keys = set(records)
    assert written == {k: v for k, v in everything.items() if (k[0], k[1]) in keys}
    assert len(written) == 5_500 * 2 + 1
    assert waiting == {("Contact", "00300007", "F"): ("99.0", "pending")}


def test_a_run_of_some_people_books_only_for_the_members_whose_journal_it_read(
    tmp_path: Path,
) -> None:
    """Ada's run reads her business Account's orders, Bob's too (an order resolves through
    its Account); it read Ada's journal only, so it must book nothing for Bob."""
    store = Store(store_location(tmp_path))
    config = LoyaltyConfig.model_validate(
        {
            "programs": [
                {
                    "id": "club",
                    "name": "Club",
                    "type": "tiered",
                    "rounding": "floor",
                    "earning": [{"id": "base", "kind": "spend", "points_per_unit": 1}],
                    "tiers": {"levels": [{"name": "Bronze", "min_points": 0}]},
                    "expiry": {"mode": "never"},
                }
            ]
        }
    )
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    contacts = pd.DataFrame({"Id": ["003ADA", "003BOB"], "Email": ["ada@x.com", "bob@x.com"]})
    orders = pd.DataFrame(
        {
            "Id": ["801ADA", "801BOB"],
            "AccountId": ["001SHOP", "001SHOP"],
            "BillToContactId": ["003ADA", "003BOB"],
            "ShipToContactId": [None, None],
            "CustomerAuthorizedById": [None, None],
            "EffectiveDate": ["2026-11-01", "2026-11-02"],
            "TotalAmount": [120.0, 80.0],
            "IsReductionOrder": [False, False],
            "OriginalOrderId": [None, None],
        }
    )
    resolved = resolve_run(
        now=now,
        contacts=contacts,
        leads=pd.DataFrame(columns=["Id", "Email", "IsConverted", "ConvertedContactId"]),
        accounts=pd.DataFrame({"Id": ["001SHOP"], "PersonContactId": [None]}),
        orders=orders,
        events=pd.DataFrame(columns=["name", "occurred_at", "email", "anonymous_id"]),
        shop_keys=store.events.shop_order_keys(),
        reference_field="OrderReferenceNumber",
        orders_are_events=False,
        people=frozenset({("Contact", "003ADA")}),
    )
    values, effects, _ = loyalty_values(config, resolved, load_inputs(store, config, resolved))
    booked = effects.journal["club"]
    assert set(booked["member"]) == {"Contact:003ADA"}
    assert set(booked["source_id"]) == {"801ADA"}
    assert [key for key in values.index if key[1] == "003BOB"] == []
