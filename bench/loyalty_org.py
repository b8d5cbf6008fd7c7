"""Loyalty on a seeded org, end to end: the books through real syncs, checked and timed.

Issue 12's "done when" on the seeded ``medium`` org (the test suite checks the same on
``small``; this is the size a test cannot afford). A localorg serves the seed in a process of
its own (``lead2loyalty localorg serve --seed SIZE``), the repository's mappings and
``models/loyalty.yaml`` are deployed and used as they are, and then:

1. a full sync writes every member's standing: each member the journal holds has its
   ``L2L_*`` loyalty fields set on its Contact (or pooled Account);
2. a second sync and a ``sync --full`` book nothing and write nothing (and the loyalty fields,
   read back from the org, are the same value by value);
3. a new order for one member and a refund (a reduction Order) of another member's order,
   then a sync: only those two members' loyalty fields change;
4. the outstanding liability (``report loyalty``) equals the sum of the points balances the
   org now holds.

Prints the seconds and API calls of each sync and exits 1 when a check fails.

    .venv/bin/python bench/loyalty_org.py --size medium     # 50,000 Contacts, ~300,000 orders
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from served import deployed, served, served_settings
from simple_salesforce.api import Salesforce

from connector.config import Settings
from connector.loyalty.wiring import open_service
from connector.mapping import load_mappings
from connector.mapping.values import KNOWN_VALUES
from connector.store import Store
from connector.sync import SyncEngine, SyncOptions
from localorg.server import client_credentials_token

Snapshot = dict[tuple[str, str], tuple[Any, ...]]


def loyalty_fields(settings: Settings) -> dict[str, list[str]]:
    """Object -> the fields the mappings fill from ``loyalty.*`` values."""
    out: dict[str, list[str]] = {}
    for mf in load_mappings(settings.mappings_dir, set(KNOWN_VALUES)):
        names = [m.field for m in mf.fields if m.value.startswith("loyalty.")]
        if names:
            out.setdefault(mf.object, []).extend(names)
    return out


def snapshot(sf: Salesforce, fields: dict[str, list[str]]) -> Snapshot:
    """(object, Id) -> the loyalty fields' values, for every record holding one."""
    out: Snapshot = {}
    for obj, names in fields.items():
        rows = sf.query_all(f"SELECT Id, {', '.join(names)} FROM {obj}")["records"]
        for row in rows:
            values = tuple(row[n] for n in names)
            if any(v is not None for v in values):
                out[(obj, row["Id"])] = values
    return out


def changed(before: Snapshot, after: Snapshot) -> set[tuple[str, str]]:
    return {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}


def timed_sync(engine: SyncEngine, label: str, **options: Any) -> dict[str, Any]:
    t0 = time.perf_counter()
    report = engine.run(SyncOptions(**options))
    seconds = time.perf_counter() - t0
    data = report.as_json()
    programs = data["models"].get("loyalty", {}).values()
    booked = sum(p.get("booked", 0) for p in programs if isinstance(p, dict))
    print(
        f"{label:<22} {seconds:7.1f} s  {data['api_calls'].get('total', 0):>6} API calls  "
        f"status {data['status']}  booked {booked:,}  fields changed "
        f"{data['writes']['fields_changed']:,}  compute {data['compute']}"
    )
    data["booked"] = booked
    return data


class Checks:
    """The checks of one run; each prints ok/FAIL with what was found."""

    def __init__(self) -> None:
        self.failed = 0

    def __call__(self, ok: bool, what: str) -> None:
        print(f"  [{'ok' if ok else 'FAIL'}] {what}")
        self.failed += not ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="medium", choices=["small", "medium", "large"])
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="l2l-loyalty-org-"))
    t0 = time.perf_counter()
    check = Checks()
    with served(args.size) as info:
        print(f"localorg serve --seed {args.size}: ready in {time.perf_counter() - t0:.1f}s")
        settings = served_settings(info, work, pull_lag_seconds=0)
        engine = deployed(settings)
        token = client_credentials_token(
            engine.client.session, info["login_url"], info["client_id"], info["client_secret"]
        )
        sf = Salesforce(
            instance_url=token["instance_url"],
            session_id=token["access_token"],
            session=engine.client.session,
        )
        fields = loyalty_fields(settings)
        books = Store(settings.database).loyalty

        print("1. a full sync writes every member's standing")
        first = timed_sync(engine, "first sync")
        written = snapshot(sf, fields)
        program = next(k for k, v in first["models"]["loyalty"].items() if isinstance(v, dict))
        members = set(books.members(program))
        holders = {f"{obj}:{rid}" for obj, rid in written}
        check(bool(members), f"{len(members):,} members in the journal of {program}")
        check(members <= holders, f"all {len(members):,} have their standing in Salesforce")

        print("2. a second sync and a sync --full book and change nothing")
        second = timed_sync(engine, "second sync")
        full = timed_sync(engine, "sync --full", full=True)
        again = snapshot(sf, fields)
        check(second["booked"] == 0 and full["booked"] == 0, "nothing booked again")
        written_again = second["writes"]["fields_changed"] + full["writes"]["fields_changed"]
        check(written_again == 0, f"no field written at all ({written_again} values)")
        moved = changed(written, again)
        check(not moved, f"no loyalty field changed ({len(moved)} records differ)")

        print("3. a new order and a refund change only their members' fields")
        journal = books.journal(program)
        people = sorted(m for m in members if m.startswith("Contact:"))
        buyer, refunded = people[0].split(":", 1)[1], people[1].split(":", 1)[1]
        account = sf.query(f"SELECT AccountId FROM Contact WHERE Id = '{buyer}'")["records"][0]
        today = datetime.now(UTC).date().isoformat()
        order = sf.Order.create(
            {
                "AccountId": account["AccountId"],
                "BillToContactId": buyer,
                "Status": "Draft",
                "EffectiveDate": today,
            }
        )["id"]
        sf.OrderItem.create({"OrderId": order, "Quantity": 1, "UnitPrice": 300.0})
        sf.Order.update(order, {"Status": "Activated"})
        theirs = journal[
            (journal["member"] == f"Contact:{refunded}")
            & (journal["kind"] == "accrual")
            & (journal["source_type"] == "order")
        ]
        original = str(theirs.iloc[-1]["source_id"])
        source = sf.query(f"SELECT AccountId FROM Order WHERE Id = '{original}'")["records"][0]
        line = sf.query(
            f"SELECT Id, UnitPrice FROM OrderItem WHERE OrderId = '{original}' LIMIT 1"
        )["records"][0]
        reduction = sf.Order.create(
            {
                "AccountId": source["AccountId"],
                "BillToContactId": refunded,
                "Status": "Draft",
                "EffectiveDate": today,
                "IsReductionOrder": True,
                "OriginalOrderId": original,
            }
        )["id"]
        sf.OrderItem.create(
            {
                "OrderId": reduction,
                "Quantity": -1,
                "UnitPrice": line["UnitPrice"],
                "OriginalOrderItemId": line["Id"],
            }
        )
        sf.Order.update(reduction, {"Status": "Activated"})
        time.sleep(1.1)  # the pull window ends on the last whole second
        third = timed_sync(engine, "after order + refund")
        after = snapshot(sf, fields)
        moved = changed(again, after)
        expected = {("Contact", buyer), ("Contact", refunded)}
        check(third["booked"] > 0, f"{third['booked']} entries booked for the two")
        check(moved == expected, f"fields changed on {sorted(moved)} (expected the two members)")

        print("4. the outstanding liability equals the balances in Salesforce")
        with open_service(settings) as service:
            outstanding = service.report()["points"]["outstanding"]
        balances = {
            obj: sum(
                int(r["L2L_Points_Balance__c"] or 0)
                for r in sf.query_all(
                    f"SELECT L2L_Points_Balance__c FROM {obj} WHERE L2L_Points_Balance__c != null"
                )["records"]
            )
            for obj in fields
        }
        held = sum(balances.values())
        check(outstanding == held, f"outstanding {outstanding:,} == held in Salesforce {held:,}")
    print("all checks passed" if not check.failed else f"{check.failed} checks FAILED")
    sys.exit(1 if check.failed else 0)


if __name__ == "__main__":
    main()
