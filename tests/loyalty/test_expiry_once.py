"""An expiry is booked once, whatever moves later: an Order whose date moves in the org, synced
again by an ordinary run and by ``sync --full``, leaves each member with the expiries of a
fresh booking of the same orders, and no balance below zero.

The repository's program (models/loyalty.yaml): 1 point per unit, lots expire 12 months after
they are earned. The medium seed's bench once left 64 members with a second expiry after its
runs moved Orders' dates (a run of some people booked for members whose journal it had not
read: connector/sync/loyalty.py); this pins the behaviour on a small org, the whole-org runs
included.
"""

from __future__ import annotations

import time
from pathlib import Path

from connector.sync import SyncOptions
from connector.sync.echo import MARGIN
from localorg.org import LocalOrg
from localorg.server import Running
from tests.support import (
    account_contacts,
    day_ago,
    deployed_engine,
    load_rows,
    localorg_settings,
    order_row,
    settle,
)


def test_moving_an_orders_date_books_no_second_expiry(
    org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    account, (ann, bob) = account_contacts(org, ("Ann", "Bob"))

    def order(contact: str, days_ago: int, amount: float) -> dict[str, object]:
        return order_row(account, contact, days_ago, amount)

    # Ann: two lots long expired and one live; Bob: one expired lot, a live one, and a refund
    # of the expired one dated after it expired (its points were gone: nothing to reverse).
    anns = load_rows(
        org, "Order", [order(ann, 800, 120.0), order(ann, 500, 80.0), order(ann, 30, 60.0)]
    )
    bobs = load_rows(org, "Order", [order(bob, 600, 90.0), order(bob, 40, 70.0)])
    [refund] = load_rows(
        org,
        "Order",
        [{**order(bob, 100, -30.0), "IsReductionOrder": True, "OriginalOrderId": bobs[0]}],
    )
    engine = deployed_engine(localorg_settings(org, localorg_server, tmp_path))
    first = engine.run()
    assert first.status == "succeeded", first.errors
    books = engine.store.loyalty

    def expiries() -> dict[str, list[int]]:
        journal = books.journal("rewards")
        expired = journal[journal["kind"] == "expiry"]
        return {m: sorted(g["points"].tolist()) for m, g in expired.groupby("member")}

    def balances() -> dict[str, int]:
        journal = books.journal("rewards")
        points = journal[journal["currency"] == "points"]
        return {str(m): int(p) for m, p in points.groupby("member")["points"].sum().items()}

    assert expiries() == {f"Contact:{ann}": [-200], f"Contact:{bob}": [-90]}
    assert balances() == {f"Contact:{ann}": 60, f"Contact:{bob}": 70}

    # Dates move in the org: Ann's oldest order into the last year (its lot stays as booked:
    # an order earns once), Bob's live order back past its lot's year, and his refund to
    # before his first lot expired (its points were expired and booked so: still nothing to
    # reverse).
    time.sleep(MARGIN.total_seconds() + 1.1)  # past the echo span of the first push
    org.store.update("Order", anns[0], {"EffectiveDate": day_ago(10)})
    org.store.update("Order", bobs[1], {"EffectiveDate": day_ago(700)})
    org.store.update("Order", refund, {"EffectiveDate": day_ago(500)})
    settle()
    for options in (SyncOptions(), SyncOptions(full=True), SyncOptions(whole_org=True)):
        report = engine.run(options)
        assert report.status == "succeeded", report.errors
        assert expiries() == {f"Contact:{ann}": [-200], f"Contact:{bob}": [-90]}, options
        assert balances() == {f"Contact:{ann}": 60, f"Contact:{bob}": 70}, options
