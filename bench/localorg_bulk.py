"""Benchmark: a 100,000-row Bulk API 2.0 Contact job, against a raw SQLite floor in the same run.

Prints seconds for:

- the floor: a bare ``sqlite3`` ``executemany`` of the very rows the job stored, into a table
  with the same DDL and indexes (what no validating loader can beat);
- the job processed directly (``localorg.bulk`` on the uploaded CSV: parse, check, write) for
  insert, upsert that creates every row and upsert that updates every row;
- the same insert through HTTPS with unmodified simple-salesforce (``sf.bulk2.Contact.insert``),
  with the server's own processing time beside the client's wall time;

each with its ratio to the floor, then ids per second for ``IdFactory.batch`` against a loop of
``IdFactory.new`` (the per-id baseline).

    .venv/bin/python bench/localorg_bulk.py --rows 100000
"""

from __future__ import annotations

import argparse
import csv
import io
import sqlite3
import tempfile
import time
from pathlib import Path

from localorg.bulk import IngestJob, _run_ingest
from localorg.ids import IdFactory
from localorg.org import LocalOrg
from localorg.schema import FieldInfo
from localorg.server import start

COLUMNS = [
    "FirstName",
    "LastName",
    "Email",
    "Phone",
    "Title",
    "MailingCity",
    "LeadSource",
    "Birthdate",
    "HasOptedOutOfEmail",
    "AccountId",
    "Ext_Id__c",
]
SOURCES = ["Web", "Phone Inquiry", "Partner Referral", "Email", "Social"]


def new_org(accounts: int) -> tuple[LocalOrg, list[str]]:
    """An empty org with an external id on Contact and ``accounts`` Accounts to point at."""
    org = LocalOrg(None)
    org.store.add_custom_field(
        "Contact",
        FieldInfo("Ext_Id__c", "string", length=64, custom=True, external_id=True, unique=True),
    )
    ids = [org.store.insert("Account", {"Name": f"Account {i}"}) for i in range(accounts)]
    return org, ids


def contact_csv(rows: int, accounts: list[str], suffix: str = "") -> bytes:
    """``rows`` Contacts as Bulk API CSV (a few empty cells, as real exports have)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for i in range(rows):
        writer.writerow(
            [
                f"First{i}",
                f"Last{i}{suffix}",
                f"person{i}@example.com",
                f"+1 555 {i:07d}",
                "" if i % 3 else "Buyer",
                ("Lisbon", "Oslo", "Quito", "Perth")[i % 4],
                SOURCES[i % len(SOURCES)],
                f"19{50 + i % 50}-{1 + i % 12:02d}-{1 + i % 28:02d}",
                "true" if i % 7 == 0 else "false",
                accounts[i % len(accounts)],
                f"EXT-{i:08d}",
            ]
        )
    return out.getvalue().encode()


def run_job(org: LocalOrg, operation: str, data: bytes) -> float:
    """Process one ingest job directly (no HTTP) and return its seconds."""
    job = IngestJob(
        id=org.store.ids.new("Job"),
        operation=operation,
        object_name="Contact",
        api_version="59.0",
        column_delimiter="COMMA",
        line_ending="LF",
        created_by=org.store.integration_user_id,
        external_id="Ext_Id__c" if operation == "upsert" else None,
        uploads=[data],
        state="UploadComplete",
    )
    t0 = time.perf_counter()
    _run_ingest(org, job)
    seconds = time.perf_counter() - t0
    if job.state != "JobComplete" or job.failed:
        raise SystemExit(f"{operation} job: {job.state}, {job.failed} failed: {job.failures[:1]}")
    return seconds


def sqlite_floor(org: LocalOrg) -> float:
    """Seconds for a bare executemany of the org's Contacts into an identical fresh table."""
    ddl = [
        str(sql)
        for (sql,) in org.store.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'Contact' AND sql IS NOT NULL "
            "ORDER BY type DESC"
        )
    ]
    rows = org.store.execute('SELECT * FROM "Contact"')
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("PRAGMA journal_mode=MEMORY")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-200000")
    for statement in ddl:
        conn.execute(statement)
    marks = ", ".join("?" * len(rows[0]))
    t0 = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany(f'INSERT INTO "Contact" VALUES ({marks})', rows)
    conn.execute("COMMIT")
    seconds = time.perf_counter() - t0
    conn.close()
    return seconds


def over_https(rows: int, work: Path) -> tuple[float, float]:
    """Client wall seconds and server processing seconds of an insert via simple-salesforce."""
    org, accounts = new_org(100)
    path = work / "contacts.csv"
    path.write_bytes(contact_csv(rows, accounts))
    running = start(org, work / "certs")
    try:
        sf = running.salesforce()
        t0 = time.perf_counter()
        [result] = sf.bulk2.Contact.insert(csv_file=str(path), wait=0.05)
        wall = time.perf_counter() - t0
        if result["numberRecordsFailed"] or result["numberRecordsProcessed"] != rows:
            raise SystemExit(f"HTTPS insert: {result}")
        info = sf.bulk2.Contact._client.get_job(result["job_id"], False)
        return wall, info["totalProcessingTime"] / 1000
    finally:
        running.stop()


def id_rates(count: int) -> tuple[float, float]:
    """Ids per second from ``IdFactory.batch`` and from a loop of ``IdFactory.new``."""
    factory = IdFactory()
    t0 = time.perf_counter()
    factory.batch("Contact", count)
    batch_rate = count / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for _ in range(count):
        factory.new("Contact")
    loop_rate = count / (time.perf_counter() - t0)
    return batch_rate, loop_rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--no-https", action="store_true", help="skip the HTTPS run")
    args = parser.parse_args()
    n = args.rows

    org, accounts = new_org(100)
    data = contact_csv(n, accounts)
    insert_s = run_job(org, "insert", data)
    floor_s = sqlite_floor(org)

    upsert_org, upsert_accounts = new_org(100)
    upsert_data = contact_csv(n, upsert_accounts)
    create_s = run_job(upsert_org, "upsert", upsert_data)
    update_s = run_job(upsert_org, "upsert", contact_csv(n, upsert_accounts, suffix="b"))

    print(f"{n:,} Contact rows, {len(COLUMNS)} columns")
    print(f"floor: raw sqlite3 executemany into an identical table  {floor_s:6.2f}s")
    for label, seconds in (
        ("bulk insert, processed directly", insert_s),
        ("bulk upsert creating every row", create_s),
        ("bulk upsert updating every row", update_s),
    ):
        print(f"{label:<55}{seconds:6.2f}s  ratio {seconds / floor_s:5.1f}x floor")
    if not args.no_https:
        with tempfile.TemporaryDirectory(prefix="l2l-bench-") as work:
            wall, server = over_https(n, Path(work))
        print(
            f"{'bulk insert over HTTPS (sf.bulk2.Contact.insert)':<55}{wall:6.2f}s  ratio "
            f"{wall / floor_s:5.1f}x floor (server processing {server:.2f}s)"
        )
    batch_rate, loop_rate = id_rates(n)
    print(
        f"ids: IdFactory.batch {batch_rate:,.0f}/s, new() loop {loop_rate:,.0f}/s "
        f"(ratio {batch_rate / loop_rate:.1f}x)"
    )


if __name__ == "__main__":
    main()
