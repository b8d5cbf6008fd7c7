"""One local org: its data, its connected app, its sessions, its limits and its faults.

:class:`LocalOrg` is what the Flask app serves and what tests hold on to: they reset data,
change faults or expire sessions on it directly, while the connector under test only ever
reaches it over HTTPS.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localorg.faults import Faults
from localorg.flows import FlowEngine
from localorg.store import OrgStore

API_VERSIONS = ("58.0", "59.0", "60.0", "61.0", "62.0")


@dataclass
class Session:
    """An issued access token."""

    token: str
    issued: float
    ttl: float | None

    def expired(self, now: float) -> bool:
        """True once the token's time to live has passed."""
        return self.ttl is not None and now - self.issued > self.ttl


@dataclass
class Cursor:
    """A query's result set, kept for queryMore like Salesforce's query locators."""

    rows: list[dict[str, Any]]
    batch: int
    created: float = field(default_factory=time.monotonic)


@dataclass
class OrgConfig:
    """The connected app and user of this org, and its daily API limit."""

    client_id: str = field(default_factory=lambda: "3MVG9" + secrets.token_urlsafe(24))
    client_secret: str = field(default_factory=lambda: secrets.token_hex(32))
    username: str = "integration@localorg.test"
    password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    daily_limit: int = 1_000_000
    jwt_certificate_pem: bytes | None = None
    # A sandbox's JWT audience is https://test.salesforce.com, a production org's
    # https://login.salesforce.com; an Experience Cloud site's own URL is accepted too.
    sandbox: bool = False
    site_urls: tuple[str, ...] = ()

    def jwt_audiences(self) -> list[str]:
        """The ``aud`` values this org's token endpoint accepts in a JWT bearer assertion."""
        login = "https://test.salesforce.com" if self.sandbox else "https://login.salesforce.com"
        bases = [login, *(u.rstrip("/") for u in self.site_urls)]
        return [form for base in bases for form in (base, base + "/")]


class LocalOrg:
    """The state behind one localorg server."""

    def __init__(
        self,
        data_dir: Path | None = None,
        *,
        config: OrgConfig | None = None,
        faults: Faults | None = None,
        flows: FlowEngine | None = None,
    ) -> None:
        self.data_dir = data_dir
        db_path = data_dir / "org.sqlite" if data_dir else ":memory:"
        if data_dir:
            data_dir.mkdir(parents=True, exist_ok=True)
        self.store = OrgStore(db_path)
        if flows is not None:
            self.store.flows = flows
        self.config = config or OrgConfig()
        self.faults = faults or Faults()
        self.instance_url = ""  # set by the server once it knows its port
        self._sessions: dict[str, Session] = {}
        self._refresh_tokens: dict[str, str] = {}
        self._cursors: OrderedDict[str, Cursor] = OrderedDict()
        self._lock = threading.Lock()
        self.api_calls = 0
        self.calls_by_kind: dict[str, int] = {}
        self._busy = 0
        self._idle = threading.Condition(self._lock)

    # ------------------------------------------------------------------ sessions
    def issue_session(self) -> str:
        """A new access token (with the org-id prefix real tokens carry)."""
        token = "00D5g000000LOCAL!" + secrets.token_urlsafe(48)
        with self._lock:
            self._sessions[token] = Session(token, time.monotonic(), self.faults.session_ttl_s)
        return token

    def issue_refresh_token(self) -> str:
        """A refresh token bound to this org's connected app."""
        token = "5Aep" + secrets.token_urlsafe(40)
        with self._lock:
            self._refresh_tokens[token] = self.config.client_id
        return token

    def refresh_token_valid(self, token: str) -> bool:
        """True for a refresh token this org issued and did not revoke."""
        with self._lock:
            return self._refresh_tokens.get(token) == self.config.client_id

    def session_valid(self, token: str) -> bool:
        """True for a live access token."""
        with self._lock:
            session = self._sessions.get(token)
            return session is not None and not session.expired(time.monotonic())

    def expire_sessions(self) -> None:
        """Invalidate every access token, as a session timeout or a password reset does."""
        with self._lock:
            self._sessions.clear()

    # ------------------------------------------------------------------ requests in progress
    def request_started(self) -> None:
        """One more HTTP request is being served."""
        with self._lock:
            self._busy += 1

    def request_finished(self) -> None:
        """A request has been answered (or its client went away) and its writes are done."""
        with self._lock:
            self._busy -= 1
            self._idle.notify_all()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until no request is being served; False if still busy after ``timeout``."""
        with self._lock:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)

    # ------------------------------------------------------------------ limits
    def count_call(self, kind: str) -> bool:
        """Count one API call; False when the daily limit is already spent."""
        with self._lock:
            if self.api_calls >= self.config.daily_limit:
                return False
            self.api_calls += 1
            self.calls_by_kind[kind] = self.calls_by_kind.get(kind, 0) + 1
            return True

    def reset_limits(self, daily_limit: int | None = None) -> None:
        """Start a new day of API calls, optionally with another limit."""
        with self._lock:
            self.api_calls = 0
            self.calls_by_kind = {}
            if daily_limit is not None:
                self.config.daily_limit = daily_limit

    # ------------------------------------------------------------------ cursors
    def open_cursor(self, rows: list[dict[str, Any]], batch: int) -> str:
        """Keep a result set for queryMore; returns its locator."""
        locator = "01g5g" + secrets.token_hex(7)[:13]
        with self._lock:
            self._cursors[locator] = Cursor(rows, batch)
            # Salesforce keeps a limited number of open cursors per user; so do we.
            while len(self._cursors) > 50:
                self._cursors.popitem(last=False)
        return locator

    def cursor(self, locator: str) -> Cursor | None:
        """The result set behind a locator, or None when it expired."""
        with self._lock:
            return self._cursors.get(locator)

    def connection_info(self, ca_cert: Path | None = None) -> dict[str, Any]:
        """What a client needs to connect: the one JSON line ``localorg serve`` prints."""
        return {
            "instance_url": self.instance_url,
            "login_url": self.instance_url,
            "client_id": self.config.client_id,
            "client_secret": self.config.client_secret,
            "username": self.config.username,
            "password": self.config.password,
            "ca_cert": str(ca_cert) if ca_cert else None,
        }


def load_seed(
    org: LocalOrg,
    size: str,
    out_dir: Path,
    *,
    rng_seed: int = 7,
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Fill ``org`` with a generated store; ground truth and events go to ``out_dir``.

    Returns the number of rows loaded per object; ``progress`` hears ``"seeding <size>: <rows>"``.
    """
    from datetime import UTC, datetime

    from localorg.seed import generate

    counts: dict[str, int] = {}
    now = datetime.now(UTC).replace(microsecond=0)
    for object_name, rows in generate(
        size,
        out_dir,
        org.store.ids,
        owner_id=org.store.integration_user_id,
        now=now,
        rng_seed=rng_seed,
    ):
        org.store.load_rows(object_name, rows)
        counts[object_name] = counts.get(object_name, 0) + len(rows)
        if progress is not None:
            progress(f"seeding {size}: {sum(counts.values()):,} rows")
    org.store.save_counter()
    return counts
