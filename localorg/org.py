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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from localorg.access import ADMIN_USERNAME, install
from localorg.faults import Faults
from localorg.features import OrgFeatures
from localorg.flows import FlowEngine
from localorg.store import OrgStore

API_VERSIONS = ("58.0", "59.0", "60.0", "61.0", "62.0")


@dataclass
class Session:
    """An issued access token."""

    token: str
    issued: float
    ttl: float | None
    user_id: str = ""  # whose token it is: every call runs with that user's access

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
    # Days a deleted row stays in the Recycle Bin (queryAll and getDeleted still list it);
    # Salesforce keeps them 15 days ("Results are returned for no more than 15 days",
    # REST API Developer Guide, sObject Get Deleted).
    recycle_bin_days: int = 15
    features: OrgFeatures = field(default_factory=OrgFeatures)
    # The API user's profile (localorg.access.install): "admin" (System Administrator),
    # "minimal" (a custom profile with API Enabled and nothing else) or "integration" (the
    # Salesforce Integration license and its Minimum Access - API Only Integrations profile).
    api_user: str = "admin"
    # A second connected app whose client credentials flow runs as an administrator, so
    # tests and people can grant the API user what it needs through the real API.
    admin_client_id: str = field(default_factory=lambda: "3MVG9" + secrets.token_urlsafe(24))
    admin_client_secret: str = field(default_factory=lambda: secrets.token_hex(32))

    # A sandbox's JWT audience is https://test.salesforce.com, a production org's
    # https://login.salesforce.com; an Experience Cloud site's own URL is accepted too.
    sandbox: bool = False
    site_urls: tuple[str, ...] = ()
    # The connected app's Callback URLs: the web server flow's redirect_uri must be one of
    # them exactly (localorg.web_login). Empty: the web server flow is refused.
    callback_urls: tuple[str, ...] = ()
    # The org administrator's password at the web server flow's login page.
    admin_password: str = field(default_factory=lambda: secrets.token_urlsafe(12))

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
        self.config = config or OrgConfig()
        self.store = OrgStore(db_path, features=self.config.features)
        if flows is not None:
            self.store.flows = flows
        users = install(self.store, self.config.api_user)
        self.admin_user_id = users.admin_user_id
        self.faults = faults or Faults()
        self.instance_url = ""  # set by the server once it knows its port
        self._sessions: dict[str, Session] = {}
        self._refresh_tokens: dict[str, str] = {}
        # Authorization codes of the web server flow, single use (localorg.web_login).
        self.auth_codes: dict[str, Any] = {}
        self._cursors: OrderedDict[str, Cursor] = OrderedDict()
        self._lock = threading.Lock()
        self.api_calls = 0
        self.calls_by_kind: dict[str, int] = {}
        self._purged_at = 0.0  # monotonic time of the last automatic Recycle Bin purge
        self._busy = 0
        self._idle = threading.Condition(self._lock)

    # ------------------------------------------------------------------ sessions
    def issue_session(self, user_id: str | None = None) -> str:
        """A new access token for ``user_id`` (default: the API user), with the org-id prefix
        real tokens carry."""
        token = "00D5g000000LOCAL!" + secrets.token_urlsafe(48)
        user = user_id or self.store.integration_user_id
        with self._lock:
            self._sessions[token] = Session(
                token, time.monotonic(), self.faults.session_ttl_s, user
            )
        return token

    def session_user(self, token: str) -> str | None:
        """The user of a live access token; None when the token is unknown or expired."""
        with self._lock:
            session = self._sessions.get(token)
            if session is None or session.expired(time.monotonic()):
                return None
            return session.user_id

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

    # ------------------------------------------------------------------ recycle bin
    def purge_recycle_bin(self, now: datetime | None = None) -> dict[str, int]:
        """Purge rows deleted more than ``recycle_bin_days`` before ``now``; rows per object.

        Tests pass ``now`` to move time; the server calls :meth:`purge_due` on its own.
        """
        moment = now or datetime.now(UTC)
        return self.store.purge_deleted(moment - timedelta(days=self.config.recycle_bin_days))

    def purge_due(self, every_s: float = 60.0) -> None:
        """Purge the Recycle Bin at most once per ``every_s`` seconds (called per request)."""
        started = time.monotonic()
        with self._lock:
            if started - self._purged_at < every_s:
                return
            self._purged_at = started
        self.purge_recycle_bin()

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
            "api_user": self.config.api_user,
            "admin_username": ADMIN_USERNAME,
            "admin_password": self.config.admin_password,
            "admin_client_id": self.config.admin_client_id,
            "admin_client_secret": self.config.admin_client_secret,
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
        info = org.store.objects.get(object_name)
        if info is None:
            continue  # an object this org's features turned off (Orders)
        dropped = set(rows[0]) - set(info.fields) if rows else set()
        if dropped:  # fields this org's features turned off (person accounts)
            rows = [{k: v for k, v in row.items() if k not in dropped} for row in rows]
        org.store.load_rows(object_name, rows)
        counts[object_name] = counts.get(object_name, 0) + len(rows)
        if progress is not None:
            progress(f"seeding {size}: {sum(counts.values()):,} rows")
    org.store.save_counter()
    if org.store.features.multi_currency:
        org.store.fill_currency()
    return counts
