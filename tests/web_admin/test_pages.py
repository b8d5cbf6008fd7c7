"""The admin pages over a database synced from localorg: the runs, a run's value log and its
filters, a mapping edit's preview and save, and "sync now" through the engine's lock."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from connector.cli import main
from connector.store import Store
from connector.web.admin import runs as admin_runs
from tests.support import sync_env
from tests.web_admin.conftest import Synced
from tests.web_admin.helpers import BASE, COMMENT, cells, csrf, signed_in

REVENUE = "L2L_Revenue__c"
EDIT = "/admin/mappings/contact.yaml/1"  # the second field of contact.yaml: rfm.revenue


def _logged(synced: Synced, run_id: int) -> list[dict[str, object]]:
    store = Store(synced.settings.store_location)
    try:
        return store.outbox.value_log(run_id)
    finally:
        store.close()


def test_runs_list_the_sync_with_its_figures(synced: Synced) -> None:
    client = signed_in(synced.app)
    page = client.get(f"{BASE}/admin/runs").text
    assert f"Run {synced.run_id}</a>" in page
    assert "succeeded" in page
    assert "Sync now" in page
    assert "Retry failed values" in page


def test_a_runs_value_log_shows_old_and_new_and_filters(synced: Synced) -> None:
    client = signed_in(synced.app)
    page = client.get(f"{BASE}/admin/runs/{synced.run_id}").text
    rows = cells(page, "values")
    assert len(rows) == len(_logged(synced, synced.run_id)) > 0
    first = synced.contacts[0]
    narrowed = client.get(
        f"{BASE}/admin/runs/{synced.run_id}",
        query_string={"object": "Contact", "field": REVENUE, "record": first},
    ).text
    only = cells(narrowed, "values")
    assert len(only) == 1
    obj, record, field, old, new, status, _ = only[0]
    assert (obj, record, field, old, status) == ("Contact", first, REVENUE, "(none)", "written")
    assert float(new) == round(10.55 + 20.3, 2)
    by_field = cells(
        client.get(f"{BASE}/admin/runs/{synced.run_id}", query_string={"field": REVENUE}).text,
        "values",
    )
    assert {r[1] for r in by_field} == set(synced.contacts)
    assert {r[2] for r in by_field} == {REVENUE}
    none = client.get(
        f"{BASE}/admin/runs/{synced.run_id}", query_string={"record": "003000000000000AAA"}
    ).text
    assert "No value matches." in none
    assert client.get(f"{BASE}/admin/runs/999999").status_code == 404


def test_mappings_list_every_field_with_its_type_and_transform(synced: Synced) -> None:
    page = signed_in(synced.app).get(f"{BASE}/admin/mappings").text
    for field in (REVENUE, "L2L_Order_Count__c", "L2L_Last_Order_Date__c"):
        assert f"<code>{field}</code>" in page
    assert "currency" in page
    assert f'href="{EDIT}"' in page


def test_a_rounding_preview_shows_the_values_it_would_write_and_writes_nothing(
    synced: Synced,
) -> None:
    client = signed_in(synced.app)
    yaml_before = (synced.mappings / "contact.yaml").read_bytes()
    token = csrf(client.get(f"{BASE}{EDIT}").text)
    asked = {"round": "0", "action": "preview", "csrf_token": token}
    page = client.post(f"{BASE}{EDIT}", data=asked)
    assert page.status_code == 200, page.text
    rows = cells(page.text, "preview")
    assert sorted(r[0] for r in rows) == sorted(synced.contacts)
    for _, now, after in rows:
        assert float(now) == 30.85
        assert after == "31.0"  # rounded to no decimals, shown as the dry run computed it
    assert (synced.mappings / "contact.yaml").read_bytes() == yaml_before
    # a dry run: nothing queued, nothing logged beyond the first run
    store = Store(synced.settings.store_location)
    try:
        assert store.outbox.counts() == {}
        assert {r["run_id"] for r in store.outbox.value_log()} == {synced.run_id}
        preview_run = store.runs.latest(1)[0]
        assert preview_run["mode"] == "preview"
        assert preview_run["stats"]["writes"]["succeeded"] == 0
    finally:
        store.close()


def test_saving_a_rounding_keeps_the_file_and_validate_passes(synced: Synced) -> None:
    client = signed_in(synced.app)
    path = synced.mappings / "contact.yaml"
    before = path.read_text(encoding="utf-8")
    token = csrf(client.get(f"{BASE}{EDIT}").text)
    saved = client.post(f"{BASE}{EDIT}", data={"round": "1", "action": "save", "csrf_token": token})
    assert saved.status_code == 302
    after = path.read_text(encoding="utf-8")
    assert after.startswith(COMMENT)  # the comment and the order of the keys kept
    added = [line for line in after.splitlines() if line not in before.splitlines()]
    assert [a.strip() for a in added] == ["transform:", "- round: 1"]
    assert "round: 1" in client.get(f"{BASE}/admin/mappings").text
    env = {**sync_env(synced.settings.store_location, synced.mappings), "L2L_ADMIN_USERS": ""}
    done = CliRunner().invoke(main, ["validate", "--offline"], env=env)
    assert done.exit_code == 0, done.output


def test_a_bad_edit_shows_file_and_line_and_leaves_the_file_byte_identical(
    synced: Synced,
) -> None:
    client = signed_in(synced.app)
    path = synced.mappings / "contact.yaml"
    before = path.read_bytes()
    token = csrf(client.get(f"{BASE}{EDIT}").text)
    for action in ("save", "preview"):
        page = client.post(
            f"{BASE}{EDIT}", data={"round": "40", "action": action, "csrf_token": token}
        )
        assert page.status_code == 422
        where = rf"{re.escape(str(path))}:\d+: fields\[1\]\.transform\[0\]\.round"
        assert re.search(where, page.text)
        assert path.read_bytes() == before
    asked = {"round": "two", "action": "save", "csrf_token": token}
    words = client.post(f"{BASE}{EDIT}", data=asked)
    assert words.status_code == 422
    assert "not a whole number" in words.text
    assert path.read_bytes() == before


def test_sync_now_runs_through_the_engine_and_its_lock(synced: Synced) -> None:
    client = signed_in(synced.app)
    token = csrf(client.get(f"{BASE}/admin/runs").text)
    holder = Store(synced.settings.store_location)
    try:
        with holder.runs.lock():  # as if the clock's run held it
            busy = client.post(
                f"{BASE}/admin/runs/start", data={"csrf_token": token}, follow_redirects=True
            )
            assert "Not started: another sync is running" in busy.text
        before = {t.ident for t in threading.enumerate()}
        started = client.post(
            f"{BASE}/admin/runs/start", data={"csrf_token": token}, follow_redirects=True
        )
        assert "A sync started" in started.text
        for thread in threading.enumerate():
            if thread.name == "admin-sync" and thread.ident not in before:
                thread.join(timeout=120)
        runs = holder.runs.latest()
    finally:
        holder.close()
    assert runs[0]["id"] > synced.run_id
    assert runs[0]["status"] == "succeeded", runs[0]["stats"].get("errors")
    assert runs[0]["mode"] == "incremental"


def test_the_value_log_pages_through_a_long_run(
    synced: Synced, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(admin_runs, "PAGE", 7)
    client = signed_in(synced.app)
    url = f"{BASE}/admin/runs/{synced.run_id}"
    seen: list[list[str]] = []
    for page in (1, 2, 3):
        html = client.get(url, query_string={"page": page}).text
        rows = cells(html, "values")
        seen.extend(rows)
        assert ("Next page" in html) == (page < 3)
        assert ("Previous page" in html) == (page > 1)
    logged = _logged(synced, synced.run_id)
    assert [(r[1], r[2]) for r in seen] == [(v["record_id"], v["field"]) for v in logged]


def test_a_preview_leaves_out_only_the_stages_its_value_never_reads(synced: Synced) -> None:
    """Rule 6 of connector/admin/console.py: the same values as a preview with every stage,
    without the order, texts, predictions, loyalty and score stages for an ``rfm`` value; each
    kept for a value of its own or one that reads it (tests/web_admin/test_preview_seed.py
    compares each kind of value with a dry run of the whole org)."""
    from connector.admin.console import narrowed, preview_edit, with_rounding
    from connector.sync import build_engine

    def engine() -> Any:
        built = build_engine(synced.settings)
        built.store.close()
        return built

    whole = engine()
    assert whole.orders is not None  # the shipped models configure both stages
    assert whole.scoring is not None
    assert whole.scoring.texts is not None
    assert whole.predictions is not None
    assert whole.loyalty is not None
    rfm = narrowed(engine(), "rfm.revenue")
    assert rfm.orders is None
    assert rfm.scoring.texts is None
    assert rfm.scoring.intent is None
    assert rfm.scoring.conversion is None
    assert rfm.predictions is None
    assert rfm.loyalty is None
    risk = narrowed(engine(), "risk.score")
    assert risk.orders is not None
    assert risk.scoring.texts is not None  # the order stage reads the texts' events
    assert risk.scoring.intent == whole.scoring.intent  # and every event the others read
    assert risk.predictions is not None
    assert risk.loyalty is not None
    intent = narrowed(engine(), "intent.score")
    assert intent.orders is None
    assert intent.scoring.texts is not None
    assert intent.scoring.intent == whole.scoring.intent
    assert intent.scoring.conversion == whole.scoring.conversion
    assert intent.predictions is None
    assert intent.loyalty is None
    loyalty = narrowed(engine(), "loyalty.points_balance")
    assert loyalty.loyalty is not None
    assert loyalty.predictions is not None  # promotions limited to segments read them
    assert loyalty.scoring.intent is None
    assert narrowed(engine(), None).orders is not None

    path = synced.mappings / "contact.yaml"
    text = with_rounding(path.read_text(encoding="utf-8"), 1, 0)
    args = (synced.settings, "contact.yaml", text, "Contact", REVENUE)
    full = preview_edit(*args)
    narrow = preview_edit(*args, value="rfm.revenue")
    assert narrow == full
    assert {r.after for r in narrow} == {31.0}


def test_a_preview_keeps_its_parts_per_worker_and_sees_every_edit(
    synced: Synced, tmp_path: Path
) -> None:
    """Rule 7 of connector/admin/console.py: two previews of one edit give the same rows from
    the same kept parts (settings, client); saving a mapping edit, a changed setting or secret
    and a touched model file each build the parts again, and a preview after a save shows
    what was saved."""
    import os
    import shutil

    from connector.admin import console
    from connector.admin.console import preview_edit, save_edit, with_rounding

    settings = synced.settings
    path = synced.mappings / "contact.yaml"
    original = path.read_text(encoding="utf-8")

    def preview(text: str) -> list[Any]:
        return preview_edit(settings, "contact.yaml", text, "Contact", REVENUE, value="rfm.revenue")

    bare = with_rounding(original, 1, None)
    raw = {r.record_id: r.after for r in preview(bare)}
    assert raw
    zero = with_rounding(original, 1, 0)
    first = preview(zero)
    parts = console._engine_parts(settings)
    again = preview(zero)
    assert again == first  # the same rows
    assert console._engine_parts(settings) is parts  # from the same kept parts
    assert {r.record_id: r.after for r in first} == {k: round(v, 0) for k, v in raw.items()}

    # saved on disk: the folder's stamp moves, the parts are built again, and a preview of
    # the page's next edit starts from the saved file
    save_edit(settings, "contact.yaml", with_rounding(original, 1, 2))
    assert console._engine_parts(settings) is not parts
    parts = console._engine_parts(settings)
    saved = path.read_text(encoding="utf-8")
    assert "round: 2" in saved
    two = preview(saved)
    assert {r.record_id: r.after for r in two} == {k: round(v, 2) for k, v in raw.items()}
    assert all(r.now == r.after or r.changes for r in two)

    # a changed setting, a changed secret, a touched model file: built again each time
    other = settings.model_copy(update={"retry_base_seconds": settings.retry_base_seconds + 1})
    assert console._engine_parts(other) is not console._engine_parts(settings)
    parts = console._engine_parts(settings)
    rekeyed = settings.model_copy(update={"salesforce_client_secret": SecretStr("another")})
    assert console._engine_parts(rekeyed) is not parts
    models = shutil.copytree(settings.models_dir, tmp_path / "models")
    settings = settings.model_copy(update={"models_dir": models})
    parts = console._engine_parts(settings)
    assert console._engine_parts(settings) is parts
    model = sorted(models.glob("*.yaml"))[0]
    st = model.stat()
    os.utime(model, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert console._engine_parts(settings) is not parts
    assert preview(zero) == first  # and the rebuilt parts preview the same rows
