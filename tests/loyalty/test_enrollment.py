"""Enrollment: by a Contact checkbox, or buyers with at least N orders; non-members book
nothing and get no standing. The pure rule, then the loyalty step over a real SQLite store."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from pydantic import ValidationError

from connector.loyalty.config import LoyaltyConfig, Program
from connector.loyalty.enrollment import enrolled, enrollment_fields
from connector.store import Store
from connector.sync.loyalty import with_enrollment_fields
from connector.sync.streams import STREAMS
from tests.backends import store_location
from tests.support import loyalty_pass

ANN, BOB, CAT = "003A", "003B", "003C"
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _program(**extra: object) -> Program:
    return Program.model_validate(
        {
            "id": "club",
            "name": "Club",
            "type": "points",
            "earning": [{"id": "base", "kind": "spend", "points_per_unit": 1}],
            **extra,
        }
    )


def _orders(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Id": [r[0] for r in rows],
            "AccountId": [None] * len(rows),
            "BillToContactId": [r[1] for r in rows],
            "EffectiveDate": ["2026-05-01"] * len(rows),
            "TotalAmount": [r[2] for r in rows],
            "IsReductionOrder": [False] * len(rows),
            "OriginalOrderId": [None] * len(rows),
        }
    )


def _contacts(flags: dict[str, object]) -> pd.DataFrame:
    return pd.DataFrame(
        {"Id": list(flags), "Email": None, "L2L_Loyalty_Member__c": list(flags.values())}
    )


def test_field_enrollment_takes_only_checked_contacts_in_any_stored_spelling() -> None:
    program = _program(enrollment="field", enrollment_field="L2L_Loyalty_Member__c")
    contacts = _contacts({ANN: True, BOB: 0, CAT: "true"})
    assert enrolled(program, pd.DataFrame(), contacts) == {f"Contact:{ANN}", f"Contact:{CAT}"}


def test_field_enrollment_without_the_column_enrolls_nobody() -> None:
    program = _program(enrollment="field", enrollment_field="L2L_Loyalty_Member__c")
    assert enrolled(program, pd.DataFrame(), pd.DataFrame({"Id": [ANN]})) == set()


def test_min_orders_counts_purchases_not_refunds() -> None:
    program = _program(enrollment_min_orders=2)
    orders = pd.DataFrame(
        {
            "member": [f"Contact:{ANN}", f"Contact:{ANN}", f"Contact:{BOB}", f"Contact:{BOB}"],
            "original_order_id": [None, None, None, "801X"],
        }
    )
    assert enrolled(program, orders, pd.DataFrame()) == {f"Contact:{ANN}"}


def test_plain_buyers_enroll_everyone_the_orders_name() -> None:
    assert enrolled(_program(), pd.DataFrame({"member": ["Contact:x"]}), pd.DataFrame()) is None


@pytest.mark.parametrize(
    "extra",
    [
        {"enrollment": "field"},
        {"enrollment_field": "L2L_Loyalty_Member__c"},
        {"enrollment": "everyone", "enrollment_min_orders": 2},
        {"enrollment": "field", "enrollment_field": "bad field"},
    ],
)
def test_inconsistent_enrollment_settings_are_refused(extra: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        _program(**extra)


def _step(
    tmp_path: Path, program: Program, orders: pd.DataFrame, contacts: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, Any], pd.DataFrame]:
    store = Store(store_location(tmp_path))
    try:
        values, record = loyalty_pass(
            store,
            LoyaltyConfig(programs=[program]),
            orders=orders,
            accounts=pd.DataFrame(columns=["Id", "PersonContactId"]),
            contacts=contacts,
            leads=pd.DataFrame(columns=["Id", "Email", "ConvertedContactId"]),
            now=NOW,
        )
        journal = store.loyalty.journal(program.id)
    finally:
        store.close()
    return values, record, journal


def test_a_non_member_orders_book_nothing_and_get_no_standing(tmp_path: Path) -> None:
    program = _program(enrollment="field", enrollment_field="L2L_Loyalty_Member__c")
    orders = _orders([("801A", ANN, 100.0), ("801B", BOB, 50.0)])
    values, record, journal = _step(tmp_path, program, orders, _contacts({ANN: True, BOB: False}))
    assert set(journal["member"]) == {f"Contact:{ANN}"}
    assert list(values.index.get_level_values("record_id")) == [ANN]
    assert record["club"]["members"] == 1


def test_min_orders_enrolls_the_repeat_buyer_only(tmp_path: Path) -> None:
    program = _program(enrollment_min_orders=2)
    orders = _orders([("801A", ANN, 10.0), ("801B", ANN, 20.0), ("801C", BOB, 500.0)])
    values, _, journal = _step(tmp_path, program, orders, _contacts({ANN: None, BOB: None}))
    assert set(journal["member"]) == {f"Contact:{ANN}"}
    assert int(journal.loc[journal["currency"] == "points", "points"].sum()) == 30
    assert list(values.index.get_level_values("record_id")) == [ANN]


def test_the_contact_stream_pulls_the_enrollment_field_and_no_other_stream_changes() -> None:
    config = LoyaltyConfig(
        programs=[_program(enrollment="field", enrollment_field="L2L_Loyalty_Member__c")]
    )
    contact = with_enrollment_fields(STREAMS["Contact"], config)
    assert "L2L_Loyalty_Member__c" in contact.all_fields()
    assert set(STREAMS["Contact"].fields) <= set(contact.fields)
    assert with_enrollment_fields(STREAMS["Order"], config) == STREAMS["Order"]
    assert with_enrollment_fields(STREAMS["Contact"], None) == STREAMS["Contact"]
    assert enrollment_fields(LoyaltyConfig(programs=[_program()])) == []
