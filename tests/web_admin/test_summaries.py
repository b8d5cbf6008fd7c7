"""The totals the admin page reads (migrations ``_v16_admin_summaries``, ``_v18``): caught up
from the journal when a page reads them, they say what adding up the whole journal says (the
loyalty service's report), an entry booked twice counts once, the journal's append leaves them
alone, and the migration's backfill of an existing journal gives the same totals."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from connector.loyalty.config import LoyaltyConfig, Program
from connector.loyalty.service import LoyaltyService
from connector.store import Store
from connector.store.schema import SUMS_POSITION, _v16_admin_summaries
from connector.web.admin.loyalty import HEIGHT, WIDTH, liability_chart
from tests.backends import store_location

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
ANN, BOB, CY = "Contact:003A", "Contact:003B", "Contact:003C"


def _program() -> Program:
    return Program.model_validate(
        {
            "id": "club",
            "name": "Club",
            "type": "points",
            "earning": [{"id": "base", "kind": "spend", "points_per_unit": 1}],
            "promotions": [
                {
                    "id": "hotels",
                    "start": "2026-05-01",
                    "end": "2026-06-30",
                    "multiplier": 1.5,
                    "partners": ["hotel_co"],
                }
            ],
        }
    )


def _without_tiers(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k != "tiers"}


def _booked(store: Store) -> LoyaltyService:
    service = LoyaltyService(store, LoyaltyConfig(programs=[_program()]), clock=lambda: NOW)
    service.partner_accrual(ANN, 101, "hotel_co", "stay-1")
    service.partner_accrual(ANN, 101, "hotel_co", "stay-1")  # the same request again
    service.partner_accrual(BOB, 240, "airline", "flight-1")
    service.partner_accrual(CY, 80, "hotel_co", "stay-2")
    service.adjust(BOB, -15, "goodwill taken back", "adj-1")
    service.adjust(BOB, -15, "goodwill taken back", "adj-1")  # once
    service.redeem(ANN, "redeem-1", points=30)
    return service


def test_the_kept_totals_say_what_the_whole_journal_says(tmp_path: Path) -> None:
    store = Store(store_location(tmp_path))
    try:
        service = _booked(store)
        full = service.report("club")
        kept = store.admin.loyalty_report("club")
        days = store.admin.liability_by_day("club")
    finally:
        store.close()
    assert _without_tiers(kept) == _without_tiers(full)
    assert kept["members"] == 3
    assert kept["points"]["redeemed"] == 30
    assert kept["partners"]  # partner points are counted, per partner
    # the running sum of the days ends at the liability
    assert days[-1][1] == full["points"]["outstanding"]


def test_the_migrations_backfill_equals_what_the_writer_kept(tmp_path: Path) -> None:
    store = Store(store_location(tmp_path))
    try:
        _booked(store)
        kept = store.admin.loyalty_report("club")
        days = store.admin.liability_by_day("club")
        conn = store.db.conn
        # a database that had the journal before the migration: no totals
        for table in ("loyalty_sums", "loyalty_member_sums", "loyalty_days"):
            conn.execute(f"DROP TABLE {table}")
        conn.execute("DROP INDEX written_values_by_field")
        conn.execute("DROP INDEX loyalty_tiers_by_tier")
        _v16_admin_summaries(store.db)
        assert store.admin.loyalty_report("club") == kept
        assert store.admin.liability_by_day("club") == days
        # and a new entry moves the totals on from there
        LoyaltyService(store, LoyaltyConfig(programs=[_program()]), clock=lambda: NOW).adjust(
            CY, 7, "welcome back", "adj-2"
        )
        after = store.admin.loyalty_report("club")
    finally:
        store.close()
    assert after["points"]["adjusted"] == kept["points"]["adjusted"] + 7
    assert after["points"]["outstanding"] == kept["points"]["outstanding"] + 7


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _recount(store: Store, program: str) -> tuple[Any, ...]:
    """The three totals counted again from the whole journal, by hand in Python."""
    journal = store.loyalty.journal(program)
    sums: dict[tuple[str, str, str, str], list[int]] = {}
    members: dict[str, list[Any]] = {}
    days: dict[tuple[str, str], int] = {}
    for e in journal.to_dict("records"):
        key = (e["currency"], e["kind"], _text(e["rule_id"]), _text(e["partner"]))
        got = sums.setdefault(key, [0, 0])
        got[0] += int(e["points"])
        got[1] += 1
        m = members.setdefault(e["member"], [0, 0, e["at"]])
        if e["currency"] in ("points", "cashback"):  # a tier's qualifying currency: neither
            m[0 if e["currency"] == "points" else 1] += int(e["points"])
        m[2] = min(m[2], e["at"])
        day = (e["currency"], e["at"].strftime("%Y-%m-%d"))
        days[day] = days.get(day, 0) + int(e["points"])
    return (
        sorted((*k, *v) for k, v in sums.items()),
        sorted((k, v[0], v[1]) for k, v in members.items()),
        sorted((*k, v) for k, v in days.items()),
    )


def _kept(store: Store, program: str) -> tuple[Any, ...]:
    conn = store.db.conn
    return (
        sorted(
            tuple(r)
            for r in conn.execute(
                "SELECT currency, kind, rule_id, partner, points, entries FROM loyalty_sums "
                "WHERE program = ?",
                [program],
            ).fetchall()
        ),
        sorted(
            tuple(r)
            for r in conn.execute(
                "SELECT member, points, cashback FROM loyalty_member_sums WHERE program = ?",
                [program],
            ).fetchall()
        ),
        sorted(
            tuple(r)
            for r in conn.execute(
                "SELECT currency, day, points FROM loyalty_days WHERE program = ?", [program]
            ).fetchall()
        ),
    )


def test_the_append_leaves_the_totals_and_a_read_catches_them_up(store: Store) -> None:
    """Appends, adjustments, a redemption and expiries booked; the totals move only when read,
    and then equal a full recount of the journal; a second catch-up adds nothing twice."""
    program = Program.model_validate(
        {**_program().model_dump(exclude_defaults=True), "expiry": {"mode": "lot", "months": 1}}
    )
    config = LoyaltyConfig(programs=[program])
    service = LoyaltyService(store, config, clock=lambda: NOW)
    _booked(store)
    assert store.admin.sums_position()[0] == 0  # the append added nothing to the totals
    assert _kept(store, "club") == ([], [], [])
    store.admin.loyalty_report("club")  # a read catches up
    assert _kept(store, "club") == _recount(store, "club")
    done, newest = store.admin.sums_position()
    assert done == newest > 0
    # more entries: an adjustment, then a month and more later every lot expires
    service.adjust(CY, 12, "welcome back", "adj-9")
    later = LoyaltyService(store, config, clock=lambda: datetime(2026, 8, 1, tzinfo=UTC))
    assert later.expire("club") > 0
    assert store.admin.sums_position() == (done, store.admin.sums_position()[1])
    assert store.admin.sums_position()[1] > done
    # caught up in chunks of 2 entries: each chunk its own transaction, the same totals
    moved = store.admin.catch_up(chunk=2)
    assert moved == store.admin.sums_position()[1] - done
    assert store.admin.catch_up() == 0  # nothing new: nothing added twice
    assert _kept(store, "club") == _recount(store, "club")
    assert _without_tiers(store.admin.loyalty_report("club")) == _without_tiers(
        later.report("club")
    )
    assert (
        store.admin.liability_by_day("club")[-1][1] == later.report("club")["points"]["outstanding"]
    )


def test_the_position_migration_counts_what_the_writer_kept(tmp_path: Path) -> None:
    """A database whose totals its writer kept (before v18) starts catching up from its
    newest entry: nothing is counted twice."""
    from connector.store.schema import _v18_admin_sums_position

    store = Store(store_location(tmp_path))
    try:
        _booked(store)
        store.admin.catch_up()
        kept = _kept(store, "club")
        store.db.conn.execute("DELETE FROM sync_state WHERE key = ?", [SUMS_POSITION])
        _v18_admin_sums_position(store.db)
        assert store.admin.catch_up() == 0
        assert _kept(store, "club") == kept
    finally:
        store.close()


def test_the_liability_chart_fits_its_box_and_keeps_the_last_day() -> None:
    days = [(f"2026-01-{d:02d}", 100 * d) for d in range(1, 32)] * 10  # 310 points
    chart = liability_chart(days)
    coords = [tuple(map(float, p.split(","))) for p in chart["points"].split()]
    assert len(coords) <= 201
    assert all(0 <= x <= WIDTH and 0 <= y <= HEIGHT for x, y in coords)
    assert coords[-1][0] == WIDTH
    assert chart["now"] == days[-1][1]
    assert liability_chart([])["points"] == ""


def test_conversion_per_intent_band_counts_the_pulled_leads_state(tmp_path: Path) -> None:
    store = Store(store_location(tmp_path))
    try:
        scores = [0.5, 1.2, 3.9, 4.0, 4.5, 5.0, 5.0, 2.2]
        converted = [False, False, True, False, True, True, False, False]
        ids = [f"00Q{i:015d}" for i in range(len(scores))]
        store.records.upsert(
            "Lead", [{"Id": i, "IsConverted": c} for i, c in zip(ids, converted, strict=True)]
        )
        field = "L2L_Intent_Score__c"
        # one Lead's score cleared: not in any band
        store.outbox.enqueue(1, [("Lead", i, field, s) for i, s in zip(ids, scores, strict=True)])
        store.outbox.enqueue(1, [("Lead", "00Q999999999999999", field, None)])
        run = store.runs.start("incremental")
        _written(store, run)
        bands = store.admin.conversion_by_band(field)
        none = store.admin.conversion_by_band("L2L_Not_Written__c")
    finally:
        store.close()
    assert [b["band"] for b in bands] == ["0-1", "1-2", "2-3", "3-4", "4-5"]
    assert [b["rows"] for b in bands] == [1, 1, 1, 1, 4]  # 5.0 falls in the last band
    assert [b["converted"] for b in bands] == [0, 0, 0, 1, 2]
    assert bands[4]["rate"] == 0.5
    assert all(b["rows"] == 0 and b["rate"] is None for b in none)


def test_model_health_is_said_in_words() -> None:
    from connector.web.admin.scores import health

    good = health({"method": "learned", "holdout_auc": 0.83, "holdout_rows": 1200})
    assert "Made by: learned." in good
    assert "0.83 on 1,200 held-out rows: it ranks well" in good
    assert "barely better than chance" in health({"method": "learned", "holdout_auc": 0.52})
    assert "is weak" in health({"holdout_auc": 0.65})
    unmeasured = health({"method": "decayed signals"})
    assert "Not measured on held-out people" in unmeasured
    assert "How it was made is not recorded." in health({})


def test_points_expiring_add_up_the_lots_within_each_horizon() -> None:
    from connector.web.admin.loyalty import expiring

    lots = [
        {"remaining": 10, "expires_at": "2026-06-20T00:00:00+00:00"},  # in 19 days
        {"remaining": 20, "expires_at": "2026-07-25T00:00:00+00:00"},  # in 54
        {"remaining": 40, "expires_at": "2026-08-25T00:00:00+00:00"},  # in 85
        {"remaining": 80, "expires_at": "2027-01-01T00:00:00+00:00"},  # later
        {"remaining": 160, "expires_at": None},  # never
    ]
    assert expiring(lots, NOW) == [(30, 10), (60, 30), (90, 70)]


def test_a_vouchers_code_is_cut_to_its_last_four() -> None:
    from connector.web.admin.loyalty import shown_voucher

    shown = shown_voucher({"code": "L2L-SECRET-7QX9", "uses_left": 1})
    assert shown["code"] == "...7QX9"
    assert "SECRET" not in str(shown)
    assert shown_voucher({"code": "AB"})["code"] == "(short code withheld)"


def test_the_histogram_counted_by_sqlite_matches_one_counted_by_hand(tmp_path: Path) -> None:
    store = Store(store_location(tmp_path))
    values = [0.0, 0.5, 3.3, 9.99, 10.0, -2.5, 7.25, 7.25, 100.0, 42.0, 1e-9]
    field = "L2L_Predicted_CLV__c"
    try:
        store.outbox.enqueue(
            1, [("Contact", f"003{i:015d}", field, v) for i, v in enumerate(values)]
        )
        store.outbox.enqueue(1, [("Contact", "003999999999999999", field, None)])  # cleared
        run = store.runs.start("incremental")
        _written(store, run)
        low, width, counts = store.admin.written_histogram("Contact", field, 10)
        empty = store.admin.written_histogram("Contact", "L2L_Nothing__c", 10)
    finally:
        store.close()
    assert (low, width) == (-2.5, (100.0 - -2.5) / 10)
    by_hand = [0] * 10
    for v in values:
        by_hand[min(int((v - low) / width), 9)] += 1
    assert counts == by_hand
    assert sum(counts) == len(values)  # the cleared one is not counted
    assert empty == (0.0, 1.0, [0] * 10)


def _written(store: Store, run: int) -> None:
    """Every pending value sent by ``run`` and written, as a push records it (marked in flight
    before the call, then its answer)."""
    pending = store.outbox.pending()
    store.outbox.mark_in_flight(run, {(w.object, w.record_id) for w in pending})
    store.outbox.record_results(run, store.outbox.in_flight(), [], [])


def test_points_expiring_per_month_count_the_held_lots_in_the_programs_zone() -> None:
    from zoneinfo import ZoneInfo

    from connector.web.admin.loyalty import expiring_by_month

    zone = ZoneInfo("America/New_York")
    at = pd.Timestamp
    lots = pd.DataFrame(
        {
            "member": ["A", "B", "A", "C", "C", "D", "E", "F"],
            "expires_at": [
                # the end of 30 June in New York is 1 July in UTC: June's points
                at("2026-07-01T03:59:59.999+00:00"),
                at("2026-06-15T03:59:59.999+00:00"),
                at("2026-05-20T03:59:59.999+00:00"),  # past due: taken at the next run
                at("2026-08-01T03:59:59.999+00:00"),  # July in New York
                at("2027-06-01T03:59:59.999+00:00"),  # May 2027: the twelfth month
                at("2027-06-02T03:59:59.999+00:00"),  # June 2027: later
                pd.NaT,  # never expires
                at("2026-06-20T03:59:59.999+00:00"),  # nothing left in it
            ],
            "remaining": [10, 20, 5, 40, 80, 160, 320, 0],
        }
    )
    lots["expires_at"] = pd.to_datetime(lots["expires_at"], utc=True)
    rows = expiring_by_month(lots, NOW, zone)
    by_month = {r["month"]: (r["points"], r["members"]) for r in rows}
    assert [r["month"] for r in rows][:3] == ["2026-06", "2026-07", "2026-08"]
    assert len(rows) == 13
    assert rows[-1]["month"] == "later"
    assert by_month["2026-06"] == (35, 2)  # A twice (one member), B
    assert by_month["2026-07"] == (40, 1)
    assert by_month["2027-05"] == (80, 1)
    assert by_month["later"] == (160, 1)
    assert sum(p for p, _ in by_month.values()) == 10 + 20 + 5 + 40 + 80 + 160
    empty = expiring_by_month(pd.DataFrame(), NOW, zone)
    assert len(empty) == 13
    assert all(r["points"] == r["members"] == 0 for r in empty)


def _expiring_rows(store: Store, program: str) -> list[tuple[str, str, int]]:
    rows = store.db.conn.execute(
        "SELECT member, month, points FROM loyalty_expiring WHERE program = ? "
        "ORDER BY member, month",
        [program],
    ).fetchall()
    return [(str(m), str(mo), int(p)) for m, mo, p in rows]


def _recomputed(store: Store, program: str, zone: Any) -> list[tuple[str, str, int]]:
    from connector.web.admin.loyalty import held_by_month

    held = held_by_month(store.admin.points_lot_entries(program), zone)
    return sorted(
        (str(m), str(mo), int(p))
        for m, mo, p in zip(held["member"], held["month"], held["points"], strict=True)
    )


def _page_months(store: Store, program: str, zone: Any, now: datetime) -> list[Any]:
    from connector.web.admin.loyalty import month_labels

    labels = month_labels(now, zone)
    counted = store.admin.expiring_by_month(program, labels[0], labels[-1])
    return [(m, *counted.get(m, (0, 0))) for m in [*labels, "later"]]


def _pure_months(store: Store, program: str, zone: Any, now: datetime) -> list[Any]:
    from connector.loyalty.ledger import lot_state
    from connector.web.admin.loyalty import expiring_by_month

    lots = lot_state(store.admin.points_lot_entries(program)).lots
    return [(r["month"], r["points"], r["members"]) for r in expiring_by_month(lots, now, zone)]


def test_the_points_expiring_table_equals_the_lots_of_the_whole_journal(store: Store) -> None:
    """Migration ``_v20``: the per-(member, month) table the catch-up keeps says what the
    lots of the whole journal say (``lot_state`` then :func:`expiring_by_month`), after
    appends, a redemption, an adjustment and expiries; a catch-up recomputes only the members
    booked since its position, and a new time zone rebuilds the program."""
    from zoneinfo import ZoneInfo

    from connector.web.admin.loyalty import held_by_month

    program = Program.model_validate(
        {**_program().model_dump(exclude_defaults=True), "expiry": {"mode": "lot", "months": 1}}
    )
    config = LoyaltyConfig(programs=[program])
    service = LoyaltyService(store, config, clock=lambda: NOW)
    zone = ZoneInfo("America/New_York")
    computed: list[int] = []

    def held(entries: pd.DataFrame) -> pd.DataFrame:
        computed.append(entries["member"].nunique())
        return held_by_month(entries, zone)

    _booked(store)  # accruals of three members, an adjustment, a redemption
    assert store.admin.catch_up_expiring("club", zone.key, held) == 3
    assert _expiring_rows(store, "club") == _recomputed(store, "club", zone)
    assert sum(p for *_, p in _expiring_rows(store, "club")) > 0
    assert _page_months(store, "club", zone, NOW) == _pure_months(store, "club", zone, NOW)
    assert store.admin.catch_up_expiring("club", zone.key, held) == 0  # nothing new
    assert computed == [3]

    # one member booked: only that member is recomputed
    service.partner_accrual(CY, 55, "hotel_co", "stay-3")
    assert store.admin.catch_up_expiring("club", zone.key, held) == 1
    assert computed[-1] == 1
    assert _expiring_rows(store, "club") == _recomputed(store, "club", zone)
    # a redemption takes from the oldest lot: the rows move with it
    before = _expiring_rows(store, "club")
    service.redeem(BOB, "redeem-2", points=100)
    assert store.admin.catch_up_expiring("club", zone.key, held) == 1
    assert _expiring_rows(store, "club") == _recomputed(store, "club", zone)
    assert _expiring_rows(store, "club") != before

    # a month and more later the lots of a month expire: their rows go as the lots do
    before = _expiring_rows(store, "club")
    assert any(month < "2026-08" for _, month, _ in before)
    later_at = datetime(2026, 8, 1, tzinfo=UTC)
    later = LoyaltyService(store, config, clock=lambda: later_at)
    assert later.expire("club") > 0
    store.admin.catch_up_expiring("club", zone.key, held)
    assert _expiring_rows(store, "club") == _recomputed(store, "club", zone)
    assert not any(month < "2026-08" for _, month, _ in _expiring_rows(store, "club"))
    assert _page_months(store, "club", zone, later_at) == _pure_months(
        store, "club", zone, later_at
    )
    # new points after the expiry, then the program's zone changes: a rebuild in the new zone
    service.adjust(ANN, 70, "welcome back", "adj-10")
    tokyo = ZoneInfo("Asia/Tokyo")
    assert store.admin.catch_up_expiring("club", tokyo.key, lambda e: held_by_month(e, tokyo))
    assert store.admin.expiring_position("club") == (
        store.admin.sums_position()[1],
        "Asia/Tokyo",
    )
    assert _expiring_rows(store, "club") == _recomputed(store, "club", tokyo)
    assert _page_months(store, "club", tokyo, later_at) == _pure_months(
        store, "club", tokyo, later_at
    )
