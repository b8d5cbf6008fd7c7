"""The events and loyalty pages: deliveries with their secret headers withheld and a replay
that queues them for the worker; a program's liability, a member found by id, an adjustment
that needs a reason and counts once."""

from __future__ import annotations

import csv
import io
import re
import uuid
from pathlib import Path

import pandas as pd

from connector.config import Settings
from connector.store import Store
from connector.sync.realtime import normalise_pending
from connector.web import create_app
from connector.web.admin.events import WITHHELD, shown_headers
from tests.web_admin.conftest import Synced
from tests.web_admin.helpers import BASE, csrf, signed_in
from tests.webhooks.helpers import SHOPIFY_SECRETS, encode, fixture, shopify_headers


def test_secret_headers_are_withheld_whole() -> None:
    shown = dict(
        shown_headers(
            {
                "X-Shopify-Topic": "orders/create",
                "X-Shopify-Hmac-Sha256": "c2lnbmF0dXJl",
                "Authorization": "Bearer abc",
                "X-Auth-Token": "tok",
                "X-WC-Webhook-Signature": "sig",
                "User-Agent": "Shopify-Captain-Hook",
            }
        )
    )
    assert shown["X-Shopify-Topic"] == "orders/create"
    assert shown["User-Agent"] == "Shopify-Captain-Hook"
    for name in (
        "X-Shopify-Hmac-Sha256",
        "Authorization",
        "X-Auth-Token",
        "X-WC-Webhook-Signature",
    ):
        assert shown[name] == WITHHELD


def test_events_list_deliveries_and_replay_queues_them(
    admin_settings: Settings, tmp_path: Path
) -> None:
    settings = admin_settings.model_copy(
        update={
            "shopify_webhook_secrets": type(admin_settings.shopify_webhook_secrets)(
                ",".join(SHOPIFY_SECRETS)
            )
        }
    )
    app = create_app(settings)
    order = fixture("shopify_orders_create.json")
    order["id"] = int(uuid.uuid4().int % 10**13)
    body = encode(order)
    headers = shopify_headers(body, "orders/create")
    delivered = app.test_client().post("/webhooks/shopify", data=body, headers=headers)
    assert delivered.status_code == 200, delivered.text

    client = signed_in(app)
    page = client.get(f"{BASE}/admin/events").text
    assert "orders/create" in page
    assert "trail-goods.myshopify.com" in page
    for secret in (*SHOPIFY_SECRETS, headers["X-Shopify-Hmac-Sha256"]):
        assert secret not in page
    store = Store(settings.store_location)
    try:
        assert normalise_pending(store, limit=10) == (1, 0)  # the worker's part
        assert store.events.stats()["sources"]["shopify"]["pending"] == 0
        token = csrf(page)
        replayed = client.post(
            f"{BASE}/admin/events/replay", data={"csrf_token": token}, follow_redirects=True
        )
        assert "1 deliveries queued again" in replayed.text
        assert store.events.stats()["sources"]["shopify"]["pending"] == 1
    finally:
        store.close()


def test_loyalty_shows_the_liability_and_a_members_page_adjusts_once(synced: Synced) -> None:
    client = signed_in(synced.app)
    page = client.get(f"{BASE}/admin/loyalty").text
    assert "Liability (points outstanding)" in page
    members = re.search(r"<dt>Members</dt><dd>(\d+)</dd>", page)
    assert members is not None
    assert int(members.group(1)) == len(synced.contacts)  # every buyer is a member

    who = synced.contacts[0]
    member = client.get(f"{BASE}/admin/loyalty/member", query_string={"who": who})
    assert member.status_code == 200
    assert f"Contact:{who}" in member.text
    balance = int(
        re.search(r"<dt>Points balance</dt><dd>([\d,]+)", member.text).group(1).replace(",", "")
    )  # type: ignore[union-attr]
    token = csrf(member.text)
    key = re.search(r'name="key" value="([^"]+)"', member.text).group(1)  # type: ignore[union-attr]
    form = {"csrf_token": token, "who": who, "key": key, "points": "25"}
    no_reason = client.post(f"{BASE}/admin/loyalty/member/adjust", data=form, follow_redirects=True)
    assert "A reason is required" in no_reason.text
    form["reason"] = "goodwill: late parcel"
    for _ in range(2):  # the same form sent twice
        client.post(f"{BASE}/admin/loyalty/member/adjust", data=form)
    after = client.get(f"{BASE}/admin/loyalty/member", query_string={"who": who}).text
    assert f"{balance + 25:,}" in after
    assert "goodwill: late parcel" in after
    journal = after.split('id="journal"', 1)[1]
    # journaled once, under a key that names the admin (and a lot of 25 points made)
    assert [r for r in re.findall(r"<tr>(.*?)</tr>", journal) if key in r and ">25<" in r]
    assert len([r for r in re.findall(r"<tr>(.*?)</tr>", journal) if key in r]) == 1
    assert key.startswith("admin-ana-")

    missing = client.get(
        f"{BASE}/admin/loyalty/member",
        query_string={"who": "nobody@example.com"},
        follow_redirects=True,
    )
    assert "nobody@example.com" in missing.text


def test_points_expiring_per_month_on_the_page_and_in_the_csv(synced: Synced) -> None:
    """Every point of the liability is in a lot that expires (the program expires lots): the
    months ahead and "later" add up to it, the CSV says what the page says."""
    client = signed_in(synced.app)
    page = client.get(f"{BASE}/admin/loyalty").text
    table = page.split("Points expiring, per month ahead", 1)[1].split("</table>", 1)[0]
    shown = [
        (m, int(p.replace(",", "")), int(n))
        for m, p, n in re.findall(
            r'<tr><td>([\d-]+|later)</td><td class="num">([\d,]+)</td>'
            r'<td class="num">(\d+)</td></tr>',
            table,
        )
    ]
    assert len(shown) == 13
    liability = re.search(r"Liability \(points outstanding\)</dt><dd>([\d,]+)", page)
    assert liability is not None
    outstanding = int(liability.group(1).replace(",", ""))
    assert outstanding > 0
    assert sum(p for _, p, _ in shown) == outstanding
    assert 0 < max(n for *_, n in shown) <= len(synced.contacts)

    answer = client.get(f"{BASE}/admin/loyalty.csv")
    assert answer.status_code == 200
    assert answer.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    in_csv = [
        (r["month"], int(r["value"]), int(r["members"]))
        for r in rows
        if r["figure"] == "points expiring"
    ]
    assert in_csv == shown
    assert {r["figure"]: int(r["value"]) for r in rows}["points outstanding"] == outstanding


def test_kpi_counts_the_funnel_and_exports_the_same_figures(synced: Synced) -> None:
    client = signed_in(synced.app)
    page = client.get(f"{BASE}/admin/kpi")
    assert page.status_code == 200
    assert "<svg" in page.text
    exported = client.get(f"{BASE}/admin/kpi.csv")
    assert exported.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    figures = {r["figure"]: r["value"] for r in rows}
    people = len(synced.contacts)  # each with two orders of 10.55 and 20.30
    assert figures["Leads"] == "0"
    assert figures["Buyers"] == str(people)
    assert figures["Repeat buyers"] == str(people)
    assert figures["Loyalty members"] == str(people)
    assert float(figures["Revenue from members"]) == round(people * 30.85, 2)
    assert float(figures["Revenue from everyone else"]) == 0
    assert all(r["means"] for r in rows)  # every figure explained
    for name, value in figures.items():  # the page shows what the CSV exports
        assert name in page.text
        assert f"{float(value):,}".removesuffix(".0") in page.text.replace(".0<", "<")


def test_scores_draw_the_written_values_and_the_model_fits(synced: Synced) -> None:
    page = signed_in(synced.app).get(f"{BASE}/admin/scores")
    assert page.status_code == 200
    # the tests' mappings write RFM values only: no score is mapped, so none is drawn
    assert "Intent score of Leads" not in page.text
    assert "No intent score written on a Lead yet." in page.text
    store = Store(synced.settings.store_location)
    try:
        fitted = store.admin.fitted_models()
    finally:
        store.close()
    for model in fitted:
        assert f"<h3>{model['name']}</h3>" in page.text


def test_scores_count_each_value_and_bin_many_numbers(admin_settings: Settings) -> None:
    from connector.web.admin import scores

    store = Store(admin_settings.store_location)
    written = [("Lead", f"00Q{i:015d}", "L2L_Intent_Score__c", str(i % 3)) for i in range(9)]
    written += [
        ("Contact", f"003{i:015d}", "L2L_Predicted_CLV__c", repr(float(i))) for i in range(100)
    ]
    store.outbox.enqueue(1, [(o, r, f, float(v)) for o, r, f, v in written])
    run = store.runs.start("incremental")
    _written(store, run)
    store.close()
    app = create_app(admin_settings)
    with app.test_request_context():
        assert scores.distribution("Lead", "L2L_Intent_Score__c") == [
            ("0.0", 3),
            ("1.0", 3),
            ("2.0", 3),
        ]
        bins = scores.distribution("Contact", "L2L_Predicted_CLV__c")
    assert len(bins) == scores.BINS
    assert sum(n for _, n in bins) == 100
    assert bins[0] == ("0.0 to 9.9", 10)


def test_mappings_show_each_fields_deploy_state_from_the_last_doctor(synced: Synced) -> None:
    from connector.doctor import run_doctor, save_report
    from connector.mapping import load_registered_mappings

    client = signed_in(synced.app)
    before = client.get(f"{BASE}/admin/mappings").text
    assert "Deploy state not checked yet" in before
    settings = synced.settings
    report = run_doctor(settings, load_registered_mappings(settings.mappings_dir))
    save_report(settings, report)
    page = client.get(f"{BASE}/admin/mappings").text
    mapped = {
        f"{mf.object}.{f.field}"
        for mf in load_registered_mappings(settings.mappings_dir)
        for f in mf.fields
    }
    # (the doctor also checks fields the models need beyond the mappings, such as the
    # sentiment override picklist an admin sets: not rows of this page)
    checked = {
        c.name.removeprefix("field "): c
        for c in report.checks
        if c.name.startswith("field ") and c.name.removeprefix("field ") in mapped
    }
    assert checked  # the doctor checked the mapped fields against the org
    for name, check in checked.items():
        obj, _, field = name.partition(".")
        section = page.split(f"<h2>{obj} ", 1)[1].split("<h2>", 1)[0]  # that object's table
        row = next(
            r for r in re.findall(r"<tr>(.*?)</tr>", section, re.S) if f"<code>{field}</code>" in r
        )
        assert f"<strong>{check.status}</strong>: {check.detail}" in row
    read = next(c for c in report.checks if c.name.endswith("L2L_Read"))
    assert f"<strong>{read.status}</strong>, {read.detail}" in page
    assert "Deploy state not checked yet" not in page


def test_kept_figures_are_computed_again_once_a_write_a_pull_or_a_booking_moves(
    admin_settings: Settings,
) -> None:
    from connector.web.admin.cache import kept

    computed: list[int] = []

    def compute() -> int:
        computed.append(1)
        return len(computed)

    app = create_app(admin_settings)
    store = Store(admin_settings.store_location)
    try:
        with app.test_request_context():
            assert kept("page", compute) == 1
            assert kept("page", compute) == 1  # nothing moved: kept
            assert kept("page", compute, "other mapping") == 2  # what it reads differs
            store.outbox.enqueue(1, [("Contact", "003000000000000001", "L2L_X__c", 1.0)])
            _written(store, store.runs.start("incremental"))
            assert kept("page", compute, "other mapping") == 3  # a value was written
            store.records.upsert("Lead", [{"Id": "00Q000000000000001", "IsConverted": False}])
            assert kept("page", compute, "other mapping") == 4  # a record was pulled
            store.loyalty.append(
                pd.DataFrame(
                    [
                        {
                            "key": "k1",
                            "program": "club",
                            "member": "Contact:003000000000000001",
                            "kind": "adjustment",
                            "currency": "points",
                            "points": 5,
                            "at": "2026-06-01T00:00:00+00:00",
                        }
                    ]
                )
            )
            assert kept("page", compute, "other mapping") == 5  # an entry was booked
            assert kept("page", compute, "other mapping") == 5
    finally:
        store.close()


def _written(store: Store, run: int) -> None:
    """Every pending value sent by ``run`` and written, as a push records it (marked in flight
    before the call, then its answer)."""
    pending = store.outbox.pending()
    store.outbox.mark_in_flight(run, {(w.object, w.record_id) for w in pending})
    store.outbox.record_results(run, store.outbox.in_flight(), [], [])
