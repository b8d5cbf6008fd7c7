"""Promotions limited to purchase x churn segments (orders) or to partners (partner accruals)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from pydantic import ValidationError

from connector.loyalty.config import LoyaltyConfig, Program
from connector.loyalty.earning import accruals
from connector.loyalty.ledger import empty_journal
from connector.loyalty.service import LoyaltyService
from connector.store import Store
from connector.sync.loyalty import member_segments
from tests.backends import store_location
from tests.support import loyalty_pass

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
ANN, BOB = "Contact:003A", "Contact:003B"


def _program(*promotions: dict[str, object]) -> Program:
    return Program.model_validate(
        {
            "id": "club",
            "name": "Club",
            "type": "points",
            "earning": [{"id": "base", "kind": "spend", "points_per_unit": 1}],
            "promotions": [{"start": "2026-05-01", "end": "2026-06-30", **p} for p in promotions],
        }
    )


def _points(program: Program, segments: pd.Series | None) -> dict[str, int]:
    orders = pd.DataFrame(
        {
            "order_id": ["801A", "801B"],
            "member": [ANN, BOB],
            "at": pd.to_datetime([NOW, NOW], utc=True),
            "amount": [100.0, 100.0],
            "original_order_id": [None, None],
        }
    )
    out = accruals(program, orders, None, None, empty_journal(), segments=segments)
    pts = out[out["currency"] == "points"]
    return {str(k): int(v) for k, v in pts.groupby("member")["points"].sum().items()}


@pytest.mark.parametrize("named", ["Champions", "P4-C1"])
def test_a_segment_promotion_doubles_only_members_in_the_segment(named: str) -> None:
    program = _program({"id": "champs", "multiplier": 2, "segments": [named]})
    segments = pd.Series({ANN: "Champions", BOB: "Lost"})
    assert _points(program, segments) == {ANN: 200, BOB: 100}
    # nobody's segment is known: nobody qualifies
    assert _points(program, None) == {ANN: 100, BOB: 100}


def test_a_partner_promotion_does_not_touch_orders() -> None:
    program = _program({"id": "hotels", "bonus_points": 50, "partners": ["hotel_co"]})
    assert _points(program, None) == {ANN: 100, BOB: 100}


@pytest.mark.parametrize(
    "promo",
    [
        {"id": "x", "multiplier": 2, "segments": ["Nobody"]},
        {"id": "x", "multiplier": 2, "partners": [" hotel"]},
        {"id": "x", "multiplier": 2, "partners": ["hotel"], "segments": ["Lost"]},
    ],
)
def test_unknown_segments_and_bad_partner_promotions_are_refused(
    promo: dict[str, object],
) -> None:
    with pytest.raises(ValidationError):
        _program(promo)


def test_member_segments_reads_the_predictions_values() -> None:
    frame = pd.DataFrame(
        {"predictions.segment_name": ["Champions", None]},
        index=pd.MultiIndex.from_tuples(
            [("Contact", "003A"), ("Contact", "003B")], names=["object", "record_id"]
        ),
    )
    found = member_segments([pd.DataFrame(), frame])
    assert found is not None
    assert found.to_dict() == {ANN: "Champions"}
    assert member_segments([]) is None


def test_a_partner_promotion_adds_program_points_to_that_partners_accruals(
    tmp_path: Path,
) -> None:
    program = _program(
        {"id": "hotels", "multiplier": 1.5, "partners": ["hotel_co"]},
        {"id": "welcome", "bonus_points": 25, "partners": ["hotel_co"]},
    )
    store = Store(store_location(tmp_path))
    try:
        service = LoyaltyService(store, LoyaltyConfig(programs=[program]), clock=lambda: NOW)
        first = service.partner_accrual(ANN, 101, "hotel_co", "stay-1")
        again = service.partner_accrual(ANN, 101, "hotel_co", "stay-1")
        other = service.partner_accrual(BOB, 100, "airline", "flight-1")
        journal = service.books.journal("club")
    finally:
        store.close()
    # 101 x 0.5 = 50.5, floored: 50; plus the 25 bonus
    assert first["promotion_points"] == 75
    assert again["repeated"] is True
    assert "promotion_points" not in again
    assert "promotion_points" not in other
    pts = journal[journal["currency"] == "points"]
    assert int(pts[pts["member"] == ANN]["points"].sum()) == 176
    assert int(pts[pts["member"] == BOB]["points"].sum()) == 100
    # the partner's settlement counts only the partner's own points
    assert int(pts[pts["partner"] == "hotel_co"]["points"].sum()) == 101
    promo = journal[journal["source_type"] == "promotion"]
    assert set(zip(promo["rule_id"], promo["currency"], promo["points"], strict=True)) == {
        ("hotels", "points", 50),
        ("hotels", "qualifying", 50),
        ("welcome", "points", 25),
        ("welcome", "qualifying", 25),
    }


def _sync(store: Store, program: Program, orders: pd.DataFrame) -> dict[str, object]:
    _, record = loyalty_pass(
        store,
        LoyaltyConfig(programs=[program]),
        orders=orders,
        accounts=pd.DataFrame(columns=["Id", "PersonContactId"]),
        contacts=pd.DataFrame({"Id": ["003A", "003B"], "Email": [None, None]}),
        leads=pd.DataFrame(columns=["Id", "Email", "ConvertedContactId"]),
        now=NOW,
    )
    club: dict[str, object] = record["club"]
    return club


def test_a_voucher_promotion_gives_its_voucher_once_per_qualifying_order(
    tmp_path: Path,
) -> None:
    program = Program.model_validate(
        {
            "id": "club",
            "name": "Club",
            "type": "points",
            "earning": [{"id": "base", "kind": "spend", "points_per_unit": 1}],
            "vouchers": [{"id": "coffee", "kind": "free_item", "value": 3, "uses": 2}],
            "promotions": [
                {"id": "june", "start": "2026-06-01", "end": "2026-06-30", "voucher": "coffee"}
            ],
        }
    )
    orders = pd.DataFrame(
        {
            "Id": ["801A", "801B", "801C"],
            "AccountId": [None] * 3,
            "BillToContactId": ["003A", "003A", "003B"],
            "EffectiveDate": ["2026-06-01", "2026-06-01", "2026-05-31"],  # 801C before it
            "TotalAmount": [10.0, 20.0, 30.0],
            "IsReductionOrder": [False] * 3,
            "OriginalOrderId": [None] * 3,
        }
    )
    store = Store(store_location(tmp_path))
    try:
        first = _sync(store, program, orders)
        second = _sync(store, program, orders)
        vouchers = list(store.db.query("SELECT * FROM loyalty_vouchers ORDER BY source_key"))
        booked = LoyaltyService(store, LoyaltyConfig(programs=[program])).books.journal("club")
    finally:
        store.close()
    assert first["vouchers_given"] == 2
    assert "vouchers_given" not in second
    assert [(v["member"], v["source_key"], v["uses_left"]) for v in vouchers] == [
        (ANN, "club:promotion:june:801A", 2),
        (ANN, "club:promotion:june:801B", 2),
    ]
    assert len({v["code"] for v in vouchers}) == 2
    # a voucher-only promotion gives no points: the orders earn their spend points only
    assert int(booked[booked["currency"] == "points"]["points"].sum()) == 60


def test_a_promotion_naming_an_unknown_voucher_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown voucher"):
        _program({"id": "x", "voucher": "nope"})
