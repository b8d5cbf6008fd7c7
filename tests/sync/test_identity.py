"""Identity resolution: which Contact (or Lead) an order or an email belongs to.

Unit tests of ``connector.sync.resolve`` on small frames shaped like the store's, then one
end-to-end sync through localorg for the B2C case: orders that name only a person account.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from connector.sync.resolve import email_index, normalise_email, order_person
from localorg.org import LocalOrg
from localorg.server import Running
from tests.support import (
    RFM_FIELDS,
    deployed_engine,
    field_values,
    load_rows,
    localorg_settings,
    past,
    rfm_mappings,
)

ORDER_COLUMNS = ("Id", "AccountId", "BillToContactId", "ShipToContactId", "CustomerAuthorizedById")


def _orders(*rows: dict[str, Any]) -> pd.DataFrame:
    """Orders as the store returns them: every reference column present, None when unset."""
    return pd.DataFrame(
        [{c: r.get(c) for c in ORDER_COLUMNS} for r in rows], columns=list(ORDER_COLUMNS)
    )


def _accounts(*pairs: tuple[str, str | None]) -> pd.DataFrame:
    return pd.DataFrame(pairs, columns=["Id", "PersonContactId"])


def _contacts(*pairs: tuple[str, str | None]) -> pd.DataFrame:
    return pd.DataFrame(pairs, columns=["Id", "Email"])


def _leads(*rows: tuple[str, str | None, Any, str | None]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["Id", "Email", "IsConverted", "ConvertedContactId"])


def _people(index: pd.DataFrame) -> dict[str, tuple[str, str]]:
    return {
        row.email: (row.kind, row.record_id)
        for row in index.itertuples(index=False)  # type: ignore[attr-defined]
    }


# ---------------------------------------------------------------------- normalise_email


def test_normalise_email_trims_and_lowercases() -> None:
    out = normalise_email(pd.Series([" Ana@Example.COM ", "\tbo@x.io\n", "c@d.e"]))
    assert out.tolist() == ["ana@example.com", "bo@x.io", "c@d.e"]


@pytest.mark.parametrize("blank", ["", "   ", None, float("nan")])
def test_normalise_email_makes_blank_missing(blank: Any) -> None:
    out = normalise_email(pd.Series(["a@b.c", blank]))
    assert out.iloc[0] == "a@b.c"
    assert pd.isna(out.iloc[1])


def test_normalise_email_keeps_the_index() -> None:
    emails = pd.Series(["A@B.C", "d@e.f"], index=[10, 20])
    assert normalise_email(emails).index.tolist() == [10, 20]


# ---------------------------------------------------------------------- order_person

LIVE = {"c_bill", "c_ship", "c_auth", "c_person"}
ACCOUNTS = _accounts(("a_person", "c_person"), ("a_business", None))


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        pytest.param(
            {
                "AccountId": "a_person",
                "BillToContactId": "c_bill",
                "ShipToContactId": "c_ship",
                "CustomerAuthorizedById": "c_auth",
            },
            "c_bill",
            id="bill-to-wins",
        ),
        pytest.param(
            {
                "AccountId": "a_person",
                "ShipToContactId": "c_ship",
                "CustomerAuthorizedById": "c_auth",
            },
            "c_ship",
            id="then-ship-to",
        ),
        pytest.param(
            {"AccountId": "a_person", "CustomerAuthorizedById": "c_auth"},
            "c_auth",
            id="then-customer-authorized-by",
        ),
        pytest.param({"AccountId": "a_person"}, "c_person", id="then-person-account"),
        pytest.param(
            {
                "AccountId": "a_business",
                "BillToContactId": "c_deleted",
                "ShipToContactId": "c_ship",
            },
            "c_ship",
            id="deleted-bill-to-skipped",
        ),
        pytest.param(
            {
                "AccountId": "a_person",
                "BillToContactId": "c_deleted",
                "ShipToContactId": "c_unknown",
                "CustomerAuthorizedById": "c_gone",
            },
            "c_person",
            id="every-dead-reference-skipped",
        ),
        pytest.param({"AccountId": "a_business"}, None, id="business-account-no-person"),
        pytest.param({"AccountId": "a_unknown"}, None, id="unknown-account"),
        pytest.param({"AccountId": None}, None, id="no-account"),
    ],
)
def test_order_person_precedence(order: dict[str, Any], expected: str | None) -> None:
    person = order_person(_orders({"Id": "o1", **order}), ACCOUNTS, LIVE)
    if expected is None:
        assert pd.isna(person.iloc[0])
    else:
        assert person.iloc[0] == expected


def test_order_person_skips_a_person_account_whose_contact_is_deleted() -> None:
    accounts = _accounts(("a1", "c_deleted"))
    person = order_person(_orders({"Id": "o1", "AccountId": "a1"}), accounts, {"c_other"})
    assert pd.isna(person.iloc[0])


def test_order_person_is_index_aligned_over_many_orders() -> None:
    orders = _orders(
        {"Id": "o1", "AccountId": "a_person"},
        {"Id": "o2", "AccountId": "a_business", "ShipToContactId": "c_ship"},
        {"Id": "o3", "AccountId": "a_business"},
        {"Id": "o4", "AccountId": "a_business", "BillToContactId": "c_bill"},
    )
    orders.index = [7, 3, 9, 1]
    person = order_person(orders, ACCOUNTS, LIVE)
    assert person.index.tolist() == [7, 3, 9, 1]
    assert person.where(person.notna(), None).tolist() == ["c_person", "c_ship", None, "c_bill"]


def test_order_person_without_accounts_uses_the_order_references_only() -> None:
    orders = _orders(
        {"Id": "o1", "AccountId": "a1", "BillToContactId": "c_bill"},
        {"Id": "o2", "AccountId": "a1"},
    )
    person = order_person(orders, _accounts(), LIVE)
    assert person.iloc[0] == "c_bill"
    assert pd.isna(person.iloc[1])


# ---------------------------------------------------------------------- email_index


def test_email_index_contact_beats_lead_with_the_same_email() -> None:
    index = email_index(
        _contacts(("003A", "same@example.com")),
        _leads(("00QA", "same@example.com", False, None)),
    )
    assert _people(index) == {"same@example.com": ("contact", "003A")}


def test_email_index_contact_beats_lead_whichever_comes_first_alphabetically() -> None:
    # Lead ids sort before Contact ids here: the rank, not the id, decides.
    index = email_index(
        _contacts(("zzz", "same@example.com")),
        _leads(("aaa", "same@example.com", False, None)),
    )
    assert _people(index) == {"same@example.com": ("contact", "zzz")}


# The store reads booleans back as bool (tests/test_store_types.py); None is a field the org
# does not have. Text or 1.0 never reach here any more, so nothing reads them.
def test_email_index_converted_lead_maps_to_its_contact() -> None:
    index = email_index(_contacts(), _leads(("00QA", "conv@example.com", True, "003X")))
    assert _people(index) == {"conv@example.com": ("contact", "003X")}


@pytest.mark.parametrize("flag", [False, None])
def test_email_index_unconverted_lead_stands_for_itself(flag: Any) -> None:
    index = email_index(_contacts(), _leads(("00QA", "open@example.com", flag, None)))
    assert _people(index) == {"open@example.com": ("lead", "00QA")}


def test_email_index_converted_lead_beats_an_unconverted_one() -> None:
    index = email_index(
        _contacts(),
        _leads(
            ("00QA", "dup@example.com", False, None),
            ("00QB", "dup@example.com", True, "003X"),
        ),
    )
    assert _people(index) == {"dup@example.com": ("contact", "003X")}


def test_email_index_matches_mixed_case_and_whitespace() -> None:
    index = email_index(
        _contacts(("003A", "  Mixed.Case@Example.COM ")),
        _leads(
            ("00QA", "mixed.case@example.com", False, None),
            ("00QB", " Only.Lead@X.io", False, None),
        ),
    )
    assert _people(index) == {
        "mixed.case@example.com": ("contact", "003A"),
        "only.lead@x.io": ("lead", "00QB"),
    }


def test_email_index_drops_people_without_an_email() -> None:
    index = email_index(
        _contacts(("003A", None), ("003B", "  ")),
        _leads(("00QA", "", False, None)),
    )
    assert index.empty
    assert list(index.columns) == ["email", "kind", "record_id"]


def test_email_index_of_nothing_is_empty_with_columns() -> None:
    index = email_index(_contacts(), _leads())
    assert index.empty
    assert list(index.columns) == ["email", "kind", "record_id"]


# ---------------------------------------------------------------------- end to end


def test_orders_naming_only_a_person_account_land_on_its_contact(
    org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    mappings = rfm_mappings(tmp_path / "mappings")
    engine = deployed_engine(
        localorg_settings(org, localorg_server, tmp_path, mappings_dir=mappings)
    )
    # A person account and its contact reference each other, as Salesforce creates them.
    account_id, business_id = org.store.ids.batch("Account", 2)
    person, bystander = load_rows(
        org,
        "Contact",
        [
            {"LastName": "Person", "Email": "p@example.com", "AccountId": account_id},
            {"LastName": "Bystander", "Email": "b@example.com", "AccountId": business_id},
        ],
    )
    stamp = past()
    org.store.load_rows(
        "Account",
        [
            {
                "Id": account_id,
                "IsDeleted": 0,
                "SystemModstamp": stamp,
                "Name": "Pat Person",
                "IsPersonAccount": 1,
                "PersonContactId": person,
            },
            {
                "Id": business_id,
                "IsDeleted": 0,
                "SystemModstamp": stamp,
                "Name": "Acme",
                "IsPersonAccount": 0,
                "PersonContactId": None,
            },
        ],
    )
    load_rows(
        org,
        "Order",
        [
            {
                "AccountId": account_id,
                "Status": "Activated",
                "EffectiveDate": day,
                "TotalAmount": amount,
            }
            for day, amount in (("2026-01-05", 30.0), ("2026-02-10", 50.0), ("2026-03-15", 40.0))
        ]
        # An order of the business account names nobody: it must not land on anyone.
        + [
            {
                "AccountId": business_id,
                "Status": "Activated",
                "EffectiveDate": "2026-04-01",
                "TotalAmount": 999.0,
            }
        ],
    )

    report = engine.run()

    assert report.status == "succeeded", report.errors
    assert report.writes["succeeded"] == 1
    values = field_values(org, [person, bystander], RFM_FIELDS)
    count, revenue, last, aov, days = values[person]
    assert (count, revenue, last, aov) == (3, 120.0, "2026-03-15", 40.0)
    assert days is not None
    assert values[bystander] == (None,) * len(RFM_FIELDS)
