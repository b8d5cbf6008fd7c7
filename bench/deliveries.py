"""The webhook delivery driver the end-to-end benchmarks share (``webhooks_e2e.py``,
``scale.py``): the processes as production runs them (``lead2loyalty web`` and ``worker``),
signed Shopify ``orders/create`` deliveries for existing Contacts, and the org watched until
each Contact's ``L2L_Order_Count__c`` moves.

Imported by the scripts next to it (``bench/`` is on ``sys.path`` when one of them runs).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from simple_salesforce.api import Salesforce

from connector.webhooks.base import hmac_base64
from localorg.server import client_credentials_token

REPO = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "connector.cli"]
COUNT = "L2L_Order_Count__c"
ORDER = json.loads((REPO / "tests/fixtures/webhooks/shopify_orders_create.json").read_text("utf-8"))


def process_env(info: dict[str, Any], secret: str, **extra: str) -> dict[str, str]:
    """The environment of a web or worker process signing in to the served org: this one's
    without its ``L2L_`` settings, plus ``extra`` (``DATABASE_URL`` or ``L2L_DATABASE``...)."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("L2L_")},
        "PYTHONPATH": str(REPO),
        "L2L_SALESFORCE_LOGIN_URL": info["login_url"],
        "L2L_SALESFORCE_CLIENT_ID": info["client_id"],
        "L2L_SALESFORCE_CLIENT_SECRET": info["client_secret"],
        "L2L_SALESFORCE_AUTH": "client_credentials",
        "L2L_SALESFORCE_CA_BUNDLE": info["ca_cert"],
        "L2L_SHOPIFY_WEBHOOK_SECRETS": secret,
        **extra,
    }


def start(args: list[str], env: dict[str, str], work: Path) -> subprocess.Popen[bytes]:
    """``lead2loyalty ARGS`` in a session of its own (stopped with its children), its stderr
    appended to ``work/processes.log``."""
    with (work / "processes.log").open("ab") as log:
        return subprocess.Popen(
            [*CLI, *args],
            env=env,
            cwd=work,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process's session (its job is finished first), SIGKILL after 30 s."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process so far (``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_serving(http: requests.Session, base: str, tries: int = 600) -> None:
    """Until ``base/healthz`` answers (the web process is up)."""
    for _ in range(tries):
        try:
            http.get(base + "/healthz", timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"{base} never answered")


def org_client(session: requests.Session, info: dict[str, Any]) -> Salesforce:
    """simple-salesforce signed in to the served org (to watch the fields as a user would)."""
    token = client_credentials_token(
        session, info["login_url"], info["client_id"], info["client_secret"]
    )
    return Salesforce(
        instance_url=token["instance_url"], session_id=token["access_token"], session=session
    )


def contacts(sf: Salesforce, n: int) -> list[dict[str, Any]]:
    """``n`` Contacts with an email and an order count (Id, Email, the count)."""
    return list(
        sf.query(
            f"SELECT Id, Email, {COUNT} FROM Contact WHERE Email != null "
            f"AND {COUNT} != null LIMIT {n}"
        )["records"]
    )


def signed_order(
    person: dict[str, Any], number: int, secret: str, prefix: str = "B"
) -> tuple[bytes, dict[str, str]]:
    """A Shopify ``orders/create`` delivery for ``person`` (body, signed headers); ``number``
    makes the order (and its id) new."""
    body = json.dumps(
        {
            **ORDER,
            "id": number,
            "name": f"#{prefix}{number}",
            "email": person["Email"],
            "processed_at": datetime.now(UTC).isoformat(),
            "customer": {"id": number, "email": person["Email"]},
        }
    ).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Hmac-Sha256": hmac_base64(secret, body),
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Shop-Domain": "bench.myshopify.com",
        "X-Shopify-Event-Id": str(uuid.uuid4()),
        "X-Shopify-Triggered-At": datetime.now(UTC).isoformat(),
    }
    return body, headers


@dataclass
class Landing:
    """What one batch of deliveries did: when each was sent and landed (perf_counter)."""

    sent: dict[str, float] = field(default_factory=dict)
    landed: dict[str, float] = field(default_factory=dict)
    moved_twice: int = 0
    started: float = 0.0

    def latencies(self) -> list[float]:
        return sorted(self.landed[k] - self.sent[k] for k in self.landed if k in self.sent)

    def elapsed(self) -> float:
        """First send to last landing, seconds."""
        return max(self.landed.values()) - self.started if self.landed else float("nan")


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of sorted ``values`` (nearest rank), NaN when empty."""
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(len(values) * q))]


def _post(client: requests.Session, url: str, delivery: tuple[bytes, dict[str, str]]) -> None:
    body, headers = delivery
    response = client.post(url, data=body, headers=headers, timeout=60)
    assert response.ok, response.status_code


def deliver(
    base: str,
    sf: Salesforce,
    people: list[dict[str, Any]],
    first_number: int,
    secret: str,
    *,
    threads: int = 4,
    timeout: float = 180.0,
    one_by_one: bool = False,
    on_landed: Callable[[str, float], None] | None = None,
) -> Landing:
    """Send one delivery per person to ``base/webhooks/shopify`` and watch the org until each
    person's order count moved (or ``timeout``). ``threads`` clients send at once; with
    ``one_by_one`` each delivery is sent only once the previous one landed (latency alone,
    no queueing). A count that moved by more than one is counted in ``moved_twice``."""
    url = base + "/webhooks/shopify"
    out = Landing()
    before = {p["Id"]: p[COUNT] for p in people}
    deliveries = [signed_order(p, first_number + n, secret) for n, p in enumerate(people)]
    lock = threading.Lock()

    def look(ids: list[str]) -> None:
        quoted = ", ".join(f"'{i}'" for i in ids)
        rows = sf.query_all(f"SELECT Id, {COUNT} FROM Contact WHERE Id IN ({quoted})")
        now = time.perf_counter()
        for r in rows["records"]:
            if r["Id"] not in out.landed and r[COUNT] != before[r["Id"]]:
                out.landed[r["Id"]] = now
                if r[COUNT] > before[r["Id"]] + 1:
                    out.moved_twice += 1
                if on_landed is not None:
                    on_landed(r["Id"], now)

    out.started = time.perf_counter()
    if one_by_one:
        client = requests.Session()
        client.trust_env = False
        for person, delivery in zip(people, deliveries, strict=True):
            out.sent[person["Id"]] = time.perf_counter()
            _post(client, url, delivery)
            while person["Id"] not in out.landed:
                if time.perf_counter() - out.sent[person["Id"]] > timeout:
                    break
                look([person["Id"]])
                time.sleep(0.05)
        client.close()
        return out

    def send(chunk: list[int]) -> None:
        client = requests.Session()
        client.trust_env = False
        for i in chunk:
            at = time.perf_counter()
            _post(client, url, deliveries[i])
            with lock:
                out.sent[people[i]["Id"]] = at
        client.close()

    senders = [
        threading.Thread(target=send, args=(list(range(k, len(people), threads)),))
        for k in range(threads)
    ]
    for t in senders:
        t.start()
    ids = [p["Id"] for p in people]
    while len(out.landed) < len(people) and time.perf_counter() - out.started < timeout:
        look(ids)
        time.sleep(0.05)
    for t in senders:
        t.join()
    return out
