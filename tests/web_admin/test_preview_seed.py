"""The mapping preview on the small seed, over the real app: for its sample records it shows
what a dry run of the whole org with the same edit would write (the preview computes only its
few people, against the kept population parameters and their own journal entries)."""

from __future__ import annotations

import html
import shutil
from pathlib import Path

import pytest
import yaml
from flask import Flask

from connector.admin.console import with_rounding
from connector.events import import_file
from connector.store import Store
from connector.sync import SyncOptions, build_engine
from connector.web import create_app
from localorg.flows import FlowEngine
from localorg.org import LocalOrg, load_seed
from localorg.server import Running
from tests.support import deployed_engine, localorg_settings
from tests.web_admin.helpers import BASE, HASH, NAME, cells, csrf, signed_in

REPO = Path(__file__).resolve().parents[2]
#: (mapping file, the value of the field edited): a value of each model a preview computes,
#: on each kind of record its sample can be.
EDITS = (
    ("contact.yaml", "rfm.revenue"),
    ("contact.yaml", "predictions.clv"),
    ("contact.yaml", "predictions.p_buy_30d"),
    ("contact.yaml", "intent.score"),
    ("contact.yaml", "texts.sentiment"),
    ("contact.yaml", "loyalty.points_balance"),
    ("contact.yaml", "loyalty.points_to_next_tier"),
    ("lead.yaml", "intent.score"),
)


def _where(mappings: Path, name: str, value: str) -> tuple[str, int, str]:
    """The object, the field's position and its API name of ``value`` in mapping ``name``."""
    doc = yaml.safe_load((mappings / name).read_text(encoding="utf-8"))
    [index] = [i for i, f in enumerate(doc["fields"]) if f["value"] == value]
    return doc["object"], index, doc["fields"][index]["field"]


def _previewed(app: Flask, name: str, index: int) -> list[tuple[str, str, str]]:
    """(record, now, after) of the page's preview of rounding field ``index`` to no decimals."""
    client = signed_in(app)
    edit = f"{BASE}/admin/mappings/{name}/{index}"
    asked = {"round": "0", "action": "preview", "csrf_token": csrf(client.get(edit).text)}
    page = client.post(edit, data=asked)
    assert page.status_code == 200, page.text
    if 'id="preview"' not in page.text:
        return []  # no sample record holds a value of the field
    rows = cells(page.text, "preview")
    return [(r, html.unescape(now), html.unescape(after)) for r, now, after in rows]


# a seeded sync, eight previews and a dry run of the whole org: minutes on a loaded machine
@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_a_preview_shows_what_a_dry_run_of_the_whole_org_computes_for_its_records(
    org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    load_seed(org, "small", tmp_path / "seed")
    org.store.flows = FlowEngine.from_file(None, REPO / "salesforce")  # the Flows it calls
    mappings = tmp_path / "mappings"
    shutil.copytree(REPO / "mappings", mappings)
    settings = localorg_settings(
        org, localorg_server, tmp_path, mappings_dir=mappings, admin_users=f"{NAME}:{HASH}"
    )
    engine = deployed_engine(settings)
    import_file(engine.store, tmp_path / "seed" / "events.jsonl", source="seed")
    first = engine.run()
    engine.store.close()
    assert first.status == "succeeded", first.errors

    app = create_app(settings)
    shown = {}
    for name, value in EDITS:
        obj, index, field = _where(mappings, name, value)
        rows = _previewed(app, name, index)
        assert rows, f"{obj}.{field} ({value}) has no sample record"
        shown[obj, field] = rows

    # The whole org, dry, with every edit at once (each touches another field).
    edited = tmp_path / "edited"
    shutil.copytree(mappings, edited)
    for name, value in EDITS:
        _, index, _ = _where(mappings, name, value)
        path = edited / name
        path.write_text(with_rounding(path.read_text(encoding="utf-8"), index, 0), "utf-8")
    whole = build_engine(settings.model_copy(update={"mappings_dir": edited}))
    try:
        dry = whole.run(SyncOptions(dry_run=True, whole_org=True))
    finally:
        whole.store.close()
    assert dry.status == "succeeded", dry.errors
    assert dry.scope["people"] == "all"
    planned = {(o, r, f): v for o, r, f, v in dry.planned_changes}

    changed = 0
    for (obj, field), rows in shown.items():
        for record, now, after in rows:
            if (obj, record, field) in planned:
                assert after == str(planned[obj, record, field]), (obj, field, record)
                changed += 1
            else:  # the dry run writes nothing new there: the preview shows the value kept
                assert after == f"{now} (unchanged)", (obj, field, record, now, after)
    # the rounding moved values (not a comparison of unchanged rows only)
    assert changed >= 10, shown
    # dry runs only: no value waits to be sent
    store = Store(settings.store_location)
    try:
        assert store.outbox.counts() == {}
    finally:
        store.close()
