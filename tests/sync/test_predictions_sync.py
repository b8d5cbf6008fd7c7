"""Predictions through the whole pipeline: a seeded org, its event file, the repo's mappings."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sklearn.metrics import roc_auc_score

from connector.admin.deploy import deploy
from connector.events import import_file
from connector.mapping import field_definitions, load_mappings
from connector.mapping.values import KNOWN_VALUES
from connector.sync import build_engine
from localorg.org import LocalOrg, load_seed
from localorg.server import Running
from tests.support import localorg_settings


@pytest.fixture
def seeded(org: LocalOrg, localorg_server: Running, tmp_path: Path) -> tuple[LocalOrg, Path]:
    """The fresh org filled with the `small` synthetic store; returns it and the seed folder."""
    load_seed(org, "small", tmp_path / "seed")
    return org, tmp_path / "seed"


def _plant_tokyo_opens(org: LocalOrg, folder: Path) -> str:
    """Twelve opens, each a Wednesday 09:00 in Tokyo, by a German repeat buyer whose app tells
    Segment's ``context.timezone``; returns the Contact's Id."""
    [(contact_id, email)] = org.store.execute(
        'SELECT "Id", "Email" FROM "Contact" c WHERE "MailingCountry" = \'Germany\' AND '
        '(SELECT COUNT(*) FROM "Order" o WHERE o."BillToContactId" = c."Id") >= 3 '
        'ORDER BY "Id" LIMIT 1'
    )
    now = datetime.now(UTC)
    wednesday = (now - timedelta(days=(now.weekday() - 2) % 7 + 7)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )  # 00:00 UTC is 09:00 in Tokyo (no daylight saving there)
    with (folder / "tokyo.jsonl").open("w", encoding="utf-8") as out:
        for week in range(12):
            moment = (wednesday - timedelta(weeks=week)).astimezone().isoformat()
            message = {
                "type": "track",
                "messageId": f"tokyo-{week}",
                "event": "Email Opened",
                "timestamp": moment,
                "context": {"timezone": "Asia/Tokyo", "traits": {"email": email}},
            }
            out.write(json.dumps(message) + "\n")
    return str(contact_id)


@pytest.mark.slow
def test_seeded_store_gets_every_prediction_field(
    seeded: tuple[LocalOrg, Path], localorg_server: Running, tmp_path: Path
) -> None:
    org, seed_dir = seeded
    settings = localorg_settings(org, localorg_server, tmp_path)  # the repository's mappings
    engine = build_engine(settings)
    mappings = load_mappings(settings.mappings_dir, set(KNOWN_VALUES))
    # The org as a deploy before the send time grew to 64 characters left it: Text(20). The
    # deploy widens it; else "Sat 10:00 America/Chicago" (25) would be refused.
    [send_time] = [
        d for d in field_definitions(mappings) if d["FullName"] == "Contact.L2L_Best_Send_Time__c"
    ]
    engine.client.create_tooling(
        "CustomField", {**send_time, "Metadata": {**send_time["Metadata"], "length": 20}}
    )
    done = deploy(engine.client, mappings)  # type: ignore[arg-type]
    assert done.widened == ["Contact.L2L_Best_Send_Time__c (20 -> 64)"]
    imported = import_file(engine.store, seed_dir / "events.jsonl", source="seed")
    assert imported.rejected == []
    assert imported.stored == imported.read > 10_000
    again = import_file(engine.store, seed_dir / "events.jsonl", source="seed")
    assert again.stored == 0  # idempotent on (source, messageId)
    traveller = _plant_tokyo_opens(org, tmp_path)
    assert import_file(engine.store, tmp_path / "tokyo.jsonl", source="app").stored == 12

    report = engine.run()
    assert report.status == "succeeded", report.errors
    assert report.models["predictions"]["method"] == "learned"
    fields = [f.field for m in mappings if m.object == "Contact" for f in m.fields]
    columns = ", ".join(f'"{f}"' for f in fields)
    rows = org.store.execute(
        f'SELECT "Id", {columns} FROM "Contact" WHERE "L2L_Order_Count__c" >= 3'
    )
    assert len(rows) > 200
    filled = {f: sum(r[i + 1] is not None for r in rows) / len(rows) for i, f in enumerate(fields)}
    # A buyer whose points have all expired has no expiry date to show (the loyalty tests).
    # Fulfilment reasons are written only for a flagged person (tests/sync/test_orders_sync.py).
    sometimes = (
        "L2L_Best_Channel__c",
        "L2L_Best_Send_Time__c",
        "L2L_Points_Expiry_Date__c",
        "L2L_Fulfilment_Reasons__c",
    )
    # What people wrote lands only on those who wrote (the seed: about 2% reply).
    texts = tuple(f.field for m in mappings for f in m.fields if f.value.startswith("texts."))
    always = [f for f in fields if f not in sometimes and f not in texts]
    assert all(filled[f] == 1.0 for f in always), {f: filled[f] for f in always if filled[f] < 1}
    # Channel and send time need the person's clicks; most repeat buyers have some.
    assert filled["L2L_Best_Channel__c"] > 0.8
    assert filled["L2L_Best_Send_Time__c"] > 0.8
    # Said on each person's clock (connector.predictions.timezones): the events' zone first,
    # then the mailing address (a US state picks its zone), then the org default (UTC).
    [(planted,)] = org.store.execute(
        'SELECT "L2L_Best_Send_Time__c" FROM "Contact" WHERE "Id" = ?', [traveller]
    )
    assert planted == "Wed 09:00 Asia/Tokyo"  # a Germany address, but opens sent from Tokyo
    by_place = org.store.execute(
        'SELECT "MailingCountry", "MailingState", "L2L_Best_Send_Time__c" FROM "Contact" '
        'WHERE "L2L_Best_Send_Time__c" IS NOT NULL AND "Id" != ?',
        [traveller],
    )
    zones = {(c, st): {t.split(" ", 2)[2] for (c2, st2, t) in by_place if (c2, st2) == (c, st)}
             for (c, st, _) in by_place}  # fmt: skip
    assert zones[("Germany", None)] == {"Europe/Berlin"}
    assert zones[("United States", "TX")] == {"America/Chicago"}
    assert zones[("Canada", "ON")] == {"America/Toronto"}
    assert zones[("Ireland", None)] == {"Europe/Dublin"}

    # Scored against the seed's truth: who buys in the held-out window after `now`.
    with (seed_dir / "truth" / "customers.csv").open(encoding="utf-8") as rows_file:
        truth = {r["contact_id"]: int(r["n_orders_holdout"]) > 0 for r in csv.DictReader(rows_file)}
    scored = org.store.execute(
        'SELECT "Id", "L2L_Buy_Probability_90d__c" FROM "Contact" '
        'WHERE "L2L_Buy_Probability_90d__c" IS NOT NULL'
    )
    auc = roc_auc_score([truth[r[0]] for r in scored], [r[1] for r in scored])
    print(f"AUC of the written 90-day buy probability against held-out truth: {auc:.3f}")
    assert auc > 0.75

    second = engine.run()
    assert second.writes["fields_changed"] == 0
