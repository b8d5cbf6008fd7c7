"""The admin page in a real browser: Playwright drives Debian's chromium (the system binary, no
browser download) against the app served by a real WSGI server over a database synced from
localorg. Screenshots of each page go to ``L2L_ADMIN_SCREENSHOTS`` (default
``tests/.artifacts/admin/``); axe-core (npm, ``tests/web_admin/package.json``) checks each page.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from connector.cli import main
from tests.support import REPO, sync_env
from tests.web_admin.conftest import Synced
from tests.web_admin.helpers import CHROMIUM, NAME, PASSWORD, serving

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="no playwright package: pip install -e '.[dev]'"
)
AXE = REPO / "tests" / "web_admin" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = Path(os.environ.get("L2L_ADMIN_SCREENSHOTS", REPO / "tests" / ".artifacts" / "admin"))
REVENUE = "L2L_Revenue__c"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="no /usr/bin/chromium: apt-get install -y chromium (Debian's; no browser download)",
)


@pytest.fixture
def served(synced: Synced) -> Iterator[str]:
    """The admin app of ``synced`` behind a real threaded WSGI server; yields its base URL.

    The session cookie stays Secure: chromium treats http://localhost as a secure context and
    keeps Secure cookies there, as it would behind HTTPS."""
    with serving(synced.app) as base:
        yield base


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _sign_in(page: Any, base: str) -> None:
    page.goto(f"{base}/admin/runs")
    assert "/admin/sign-in" in page.url  # signed out: redirected
    page.get_by_label("Name").fill(NAME)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    assert page.url.endswith("/admin/runs")


def _preview_cells(page: Any) -> list[str]:
    return page.locator("#preview tbody tr td:nth-child(3)").all_inner_texts()


def test_an_admin_tunes_a_rounding_and_syncs_it_from_the_page(
    served: str, synced: Synced, browser: Any
) -> None:
    context = browser.new_context()
    page = context.new_page()
    _sign_in(page, served)
    _shot(page, "runs")
    assert page.get_by_role("link", name=f"Run {synced.run_id}").is_visible()

    # the first run's value log, then filtered to one field
    page.get_by_role("link", name=f"Run {synced.run_id}").click()
    assert page.locator("#values tbody tr").count() == 20  # 4 Contacts x 5 fields
    page.get_by_label("Field").select_option(REVENUE)
    page.get_by_role("button", name="Filter").click()
    assert f"field={REVENUE}" in page.url
    assert page.locator("#values tbody tr").count() == 4
    _shot(page, "run-value-log")

    # a mapping's rounding: preview, change, preview again, save
    page.get_by_role("link", name="Mappings").click()
    _shot(page, "mappings")
    page.get_by_role("link", name=f"Edit Contact.{REVENUE}").click()
    page.get_by_label("Round to this many decimals").fill("0")
    page.get_by_role("button", name="Preview").click()
    assert set(_preview_cells(page)) == {"31.0"}
    page.get_by_label("Round to this many decimals").fill("1")
    page.get_by_role("button", name="Preview").click()
    one_decimal = set(_preview_cells(page))
    assert len(one_decimal) == 1
    assert one_decimal != {"31.0"}
    assert abs(float(one_decimal.pop()) - 30.85) <= 0.05 + 1e-9
    _shot(page, "mapping-preview")
    page.get_by_role("button", name="Save to contact.yaml").click()
    assert page.url.endswith("/admin/mappings")
    assert "validation passed" in page.locator(".flash.ok").inner_text()
    env = {**sync_env(synced.settings.store_location, synced.mappings), "L2L_ADMIN_USERS": ""}
    assert CliRunner().invoke(main, ["validate", "--offline"], env=env).exit_code == 0

    # a bad edit: file:line in the page, the file byte for byte as it was
    yaml_path = synced.mappings / "contact.yaml"
    saved = yaml_path.read_bytes()
    page.get_by_role("link", name=f"Edit Contact.{REVENUE}").click()
    page.get_by_label("Round to this many decimals").fill("40")
    page.get_by_role("button", name="Save to contact.yaml").click()
    problem = page.locator(".problems").inner_text()
    assert f"{yaml_path}:" in problem
    assert "round" in problem
    assert yaml_path.read_bytes() == saved
    _shot(page, "mapping-bad-edit")

    # sync now: the new run appears, and its value log holds the rounded revenue
    page.get_by_role("link", name="Runs").click()
    before = _newest(page)[0]  # the previews are runs too (mode preview)
    page.get_by_role("button", name="Sync now").click()
    assert "A sync started" in page.locator(".flash.ok").inner_text()
    deadline = time.monotonic() + 120  # waiting for the run, not timing it
    while _newest(page)[0] == before or _newest(page)[2] == "running":
        assert time.monotonic() < deadline, "the run never finished"
        time.sleep(0.3)
        page.reload()
    newer, mode, status = _newest(page)
    assert (mode, status) == ("incremental", "succeeded")
    _shot(page, "runs-after-sync")
    page.get_by_role("link", name=f"Run {newer}", exact=True).click()
    page.get_by_label("Field").select_option(REVENUE)
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("#values tbody tr")
    assert rows.count() == 4
    olds = page.locator("#values tbody tr td:nth-child(4)").all_inner_texts()
    assert {float(o) for o in olds} == {30.85}
    _shot(page, "new-run-value-log")

    # a POST without the form's CSRF token, in the signed-in session: refused
    refused = page.request.post(f"{served}/admin/runs/start", form={"retry_failed": "1"})
    assert refused.status == 400
    context.close()

    # a signed-out browser is sent to the sign-in form
    stranger = browser.new_context().new_page()
    stranger.goto(f"{served}/admin/runs/{newer}")
    assert "/admin/sign-in" in stranger.url
    _shot(stranger, "sign-in")


def _newest(page: Any) -> tuple[int, str, str]:
    """(id, mode, status) of the newest run in the runs table."""
    cells = page.locator("table").first.locator("tbody tr").first.locator("td").all_inner_texts()
    return int(cells[0].split()[-1]), cells[2].strip(), cells[3].strip()


@pytest.mark.skipif(
    not AXE.exists(), reason="axe-core missing: run `npm ci` in tests/web_admin (the CI does)"
)
def test_every_page_has_no_serious_accessibility_violation(
    served: str, synced: Synced, browser: Any
) -> None:
    # bypass_csp: the page's Content-Security-Policy (rightly) refuses injected scripts
    page = browser.new_context(bypass_csp=True).new_page()
    # the check itself finds what it should: a form field nobody named
    page.set_content('<!doctype html><html lang="en"><title>t</title><main><input></main>')
    assert any(v.startswith("label:") for v in _axe(page))
    page.goto(f"{served}/admin/sign-in")
    found = {"sign-in": _axe(page)}
    _sign_in(page, served)
    # the mappings' deploy state comes from the last doctor run: check the org once
    from connector.doctor import run_doctor, save_report
    from connector.mapping import load_registered_mappings

    settings = synced.settings
    save_report(settings, run_doctor(settings, load_registered_mappings(settings.mappings_dir)))
    # the second part's pieces, as a reader (and a screen reader) finds them on each page
    shown: dict[str, Any] = {
        "mappings": lambda: page.get_by_role("columnheader", name="Deploy state").first,
        "loyalty": lambda: page.get_by_role("img", name=re.compile("^Liability over time")),
        "member": lambda: page.get_by_role("table", name=re.compile("^Vouchers")),
        "scores": lambda: page.get_by_role("table", name="Leads and conversions per intent band"),
    }
    for name, path in (
        ("runs", "/admin/runs"),
        ("run", f"/admin/runs/{synced.run_id}"),
        ("mappings", "/admin/mappings"),
        ("mapping-edit", "/admin/mappings/contact.yaml/1"),
        ("loyalty", "/admin/loyalty"),
        ("member", f"/admin/loyalty/member?who={synced.contacts[0]}"),
        ("events", "/admin/events"),
        ("kpi", "/admin/kpi"),
        ("scores", "/admin/scores"),
    ):
        page.goto(f"{served}{path}")
        if name in shown:
            assert shown[name]().is_visible(), name
        _shot(page, name)
        found[name] = _axe(page)
    page.goto(f"{served}/admin/loyalty")
    assert page.get_by_role(
        "table", name=re.compile("^Points expiring, per month ahead")
    ).is_visible()
    page.goto(f"{served}/admin/mappings")
    assert page.get_by_text("visible and editable").first.is_visible()
    page.goto(f"{served}/admin/loyalty/member?who={synced.contacts[0]}")
    assert page.get_by_text("Expiring within 90 days").is_visible()
    page.goto(f"{served}/admin/mappings/contact.yaml/1")
    page.get_by_label("Round to this many decimals").fill("0")
    page.get_by_role("button", name="Preview").click()
    found["mapping-preview"] = _axe(page)
    assert {k: v for k, v in found.items() if v} == {}


def _axe(page: Any) -> list[str]:
    """The serious and critical axe-core violations of the page (rule id: first target)."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document)")
    return [
        f"{v['id']}: {v['nodes'][0]['target']}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
