"""Benchmark: how fast each admin page answers over a medium seed's synced database.

A seeded localorg runs in a process of its own; one full sync fills the database (runs, the
value log, the baseline, the loyalty journal). The admin app is then served by a real threaded
WSGI server and each page is asked for 30 times by a signed-in requests session: p50 and p95
per page against the 300 ms target, and against ``/healthz`` (which reads nothing) measured in
the same run, so the ratio says what a page adds over the bare request on this (noisy)
machine. The mapping preview (a dry run of 5 sample people: it signs in to the org) is an
action, not a page: timed the same way for a value of each kind (it computes only what the
value needs), printed apart.

    .venv/bin/python bench/admin.py --size medium
    .venv/bin/python bench/admin.py --database /tmp/l2l-bench-admin-XXXX/l2l.sqlite

``--database`` measures the pages again over a database an earlier run synced (its folder is
kept), without seeding or syncing; no preview then (no org to sign in to), unless ``--org SIZE``
serves a seeded org of that size (fields deployed) for the preview to sign in to: a preview
reads the org's describe only, never its records.

    .venv/bin/python bench/admin.py --database /tmp/l2l-bench-admin-XXXX/l2l.sqlite --org small
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import tempfile
import threading
import time
from pathlib import Path

import requests
import yaml
from served import deployed, served, served_settings
from werkzeug.security import generate_password_hash
from werkzeug.serving import make_server

from connector.config import Settings, load_settings
from connector.loyalty.wiring import load_config, open_service
from connector.store import Store
from connector.web import create_app

PASSWORD = "bench password, long enough"
TIMES = 30
BOOKINGS = 10
TARGET_MS = 300.0
#: The values whose field's rounding the mapping preview is timed for (contact.yaml).
PREVIEWED = ("rfm.revenue", "predictions.clv", "loyalty.points_balance", "intent.score")
ADMIN = {
    "admin_users": f"bench:{generate_password_hash(PASSWORD)}",
    # Plain HTTP on localhost for the bench: requests keeps a Secure cookie for HTTPS only.
    "admin_cookie_secure": False,
}


#: url -> CPU milliseconds per request (this process: the server's threads and the client).
CPU_MS: dict[str, float] = {}


def timed(session: requests.Session, method: str, url: str, **kw: object) -> list[float]:
    """Milliseconds of each of ``TIMES`` requests (each must answer 200)."""
    spent = []
    c0 = time.process_time()
    for _ in range(TIMES):
        t0 = time.perf_counter()
        answer = session.request(method, url, **kw)  # type: ignore[arg-type]
        spent.append((time.perf_counter() - t0) * 1000)
        assert answer.status_code == 200, (url, answer.status_code, answer.text[:300])
    CPU_MS[f"{method} {url}"] = (time.process_time() - c0) * 1000 / TIMES
    return spent


def _position(settings: Settings, value: str) -> int:
    """The position of ``value``'s field in the mappings' contact.yaml (the edit page's URL)."""
    doc = yaml.safe_load((settings.mappings_dir / "contact.yaml").read_text(encoding="utf-8"))
    return next(i for i, f in enumerate(doc["fields"]) if f["value"] == value)


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18]


def _token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def measure(settings: Settings, *, preview: bool) -> None:
    """Serve the admin app over ``settings``' database and time every page."""
    store = Store(settings.database)
    # the newest sync (earlier benches over this database left many preview runs after it)
    syncs = [r for r in store.runs.latest(10_000) if r["mode"] in ("full", "incremental")]
    run = max(r["id"] for r in syncs)
    # a record from the middle of the log: its lookup cannot stop at the first rows
    rows, _ = store.outbox.value_log_page(run, limit=1, offset=500_000)
    rows = rows or store.outbox.value_log_page(run, limit=1)[0]
    record = rows[0]["record_id"]
    programs = load_config(settings).programs
    members = store.loyalty.members(programs[0].id) if programs else []
    member = members[len(members) // 2] if members else ""
    store.close()

    server = make_server("127.0.0.1", 0, create_app(settings), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://localhost:{server.server_port}"
    http = requests.Session()
    http.trust_env = False
    signed = http.post(
        f"{base}/admin/sign-in",
        data={
            "name": "bench",
            "password": PASSWORD,
            "csrf_token": _token(http.get(f"{base}/admin/sign-in").text),
        },
        allow_redirects=False,
    )
    assert signed.status_code == 302, signed.text[:300]
    pages = {
        "/healthz (baseline)": "/healthz",
        "runs": "/admin/runs",
        "run value log, page 1": f"/admin/runs/{run}",
        "run value log, page 50": f"/admin/runs/{run}?page=50",
        "value log by field": f"/admin/runs/{run}?field=L2L_Revenue__c",
        "value log by record": f"/admin/runs/{run}?record={record}",
        "mappings": "/admin/mappings",
        "mapping edit": "/admin/mappings/contact.yaml/1",
        "loyalty": "/admin/loyalty",
        "loyalty CSV": "/admin/loyalty.csv",
        "member": f"/admin/loyalty/member?who={member}",
        "events": "/admin/events",
        "kpi": "/admin/kpi",
        "scores": "/admin/scores",
    }
    # The loyalty page's first view after an upgrade builds its points-expiring table from the
    # whole journal (migration _v20, once); timed apart, then the first view after each of
    # BOOKINGS bookings of one member (the catch-up recomputes that member only).
    c0, t0 = time.process_time(), time.perf_counter()
    assert http.get(base + "/admin/loyalty").status_code == 200
    first_view = ((time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000)
    booked: list[float] = []
    booking_cpu = view_cpu = 0.0
    if member:
        with open_service(settings) as service:
            for i in range(BOOKINGS):
                c0 = time.process_time()
                service.adjust(member, 1, "bench booking", f"bench-{os.getpid()}-{time.time()}-{i}")
                c1, t0 = time.process_time(), time.perf_counter()
                assert http.get(base + "/admin/loyalty").status_code == 200
                booked.append((time.perf_counter() - t0) * 1000)
                booking_cpu += c1 - c0
                view_cpu += time.process_time() - c1
    booked_cpu = (booking_cpu * 1000 / max(len(booked), 1), view_cpu * 1000 / max(len(booked), 1))
    results = {name: timed(http, "GET", base + path) for name, path in pages.items()}
    # The preview computes what the edited value needs (connector/admin/console.py, rule 6):
    # one value of each kind of stage, the rfm one first (the figure of the issue).
    previews: dict[str, list[float]] = {}
    for value in PREVIEWED if preview else ():
        url = f"{base}/admin/mappings/contact.yaml/{_position(settings, value)}"
        edit = http.get(url).text
        asked = {"round": "0", "action": "preview", "csrf_token": _token(edit)}
        previews[value] = timed(http, "POST", url, data=asked)
    server.shutdown()

    base_p95 = p95(results["/healthz (baseline)"])
    header = f"{'page':<26} {'p50 ms':>8} {'p95 ms':>8} {'x healthz':>10} {'CPU ms':>7}"
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\n{header}  target {TARGET_MS:.0f} ms; load average {load}")
    for name, spent in results.items():
        mark = "ok" if p95(spent) < TARGET_MS else "SLOW"
        print(
            f"{name:<26} {statistics.median(spent):8.1f} {p95(spent):8.1f} "
            f"{p95(spent) / base_p95:10.1f} {CPU_MS['GET ' + base + pages[name]]:7.1f}  {mark}"
        )
    print(
        f"\nloyalty, first view (builds the expiring table when new): {first_view[0]:.0f} ms"
        f" wall, {first_view[1]:.0f} ms CPU"
    )
    if booked:
        print(
            f"loyalty, first view after each of {len(booked)} bookings: p50 "
            f"{statistics.median(booked):.0f} ms, p95 {p95(booked):.0f} ms; CPU per view "
            f"{booked_cpu[1]:.0f} ms (the booking itself, not in the view: {booked_cpu[0]:.0f} ms)"
        )
    if previews:
        print(f"\nmapping preview (dry run of 5 people)   p50 ms   p95 ms   CPU ms; load {load}")
    for value, spent in previews.items():
        cpu = CPU_MS[f"POST {base}/admin/mappings/contact.yaml/{_position(settings, value)}"]
        mark = "ok" if p95(spent) < TARGET_MS else "SLOW"
        print(f"  {value:<36} {statistics.median(spent):8.1f} {p95(spent):8.1f} {cpu:8.1f}  {mark}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="medium", choices=["small", "medium", "large"])
    parser.add_argument("--database", type=Path, help="measure over this synced database")
    parser.add_argument(
        "--org", choices=["small", "medium", "large"], help="with --database: an org to preview"
    )
    args = parser.parse_args()
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.database and args.org:
        with served(args.org) as info:
            settings = served_settings(info, args.database.parent, **ADMIN)
            settings = settings.model_copy(update={"database": args.database})
            deployed(settings).store.close()
            measure(settings, preview=True)
        return
    if args.database:
        measure(load_settings(database=args.database, **ADMIN), preview=False)
        return
    work = Path(tempfile.mkdtemp(prefix="l2l-bench-admin-"))
    with served(args.size) as info:
        settings = served_settings(info, work, **ADMIN)
        t0 = time.perf_counter()
        report = deployed(settings).run()
        print(
            f"seed {args.size}: sync run {report.run_id} {report.status} in "
            f"{time.perf_counter() - t0:.1f}s, {report.writes.succeeded:,} records written, "
            f"{report.writes.fields_changed:,} values in its log; database {settings.database}"
        )
        measure(settings, preview=True)


if __name__ == "__main__":
    main()
