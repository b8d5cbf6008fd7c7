"""Settings, from the environment (``L2L_`` prefix) or a ``.env`` file, validated once at start.

Secrets are ``SecretStr``: they print as ``**********`` in logs, errors and ``lead2loyalty
config``. Every number has a documented range (its ``Field`` bounds, shown by ``lead2loyalty
config``), no decimal may be NaN or infinite, and no whole number leaves 64 bits
(:mod:`connector.bounds`), so a typo fails here with the setting's name, never deep in a run.
The ``.env`` file is read as UTF-8; another encoding is refused naming the line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from connector.api_tokens import parse_tokens
from connector.bounds import INT64_MAX, INT64_MIN
from connector.errors import ConfigError
from connector.project import project_dir

REPO_ROOT = Path(__file__).resolve().parent.parent
ENV_FILE = ".env"
DAY = 86_400
# Object Reference, OrderStatus.StatusCode: every Order Status value is Draft or Activated.
ORDER_STATUS_CATEGORIES = ("Draft", "Activated")


class Settings(BaseSettings):
    """Every setting of lead2loyalty; ``lead2loyalty config`` lists them with their variables."""

    model_config = SettingsConfigDict(
        env_prefix="L2L_",
        env_file=ENV_FILE,
        env_file_encoding="utf-8",
        extra="ignore",
        allow_inf_nan=False,
    )

    salesforce_login_url: str = Field(
        "https://login.salesforce.com",
        description="OAuth login URL: your My Domain URL in production, localorg's URL here.",
    )
    salesforce_jwt_audience: str = Field(
        "https://login.salesforce.com",
        description="JWT bearer flow: the assertion's aud; https://test.salesforce.com for a "
        "sandbox. The token request still goes to L2L_SALESFORCE_LOGIN_URL.",
    )
    salesforce_client_id: str = Field("", description="Connected app consumer key.")
    salesforce_client_secret: SecretStr = Field(
        SecretStr(""), description="Connected app consumer secret."
    )
    salesforce_username: str = Field("", description="Integration user (JWT bearer flow).")
    salesforce_private_key_file: Path | None = Field(
        None, description="PEM key whose certificate the connected app holds (JWT bearer flow)."
    )
    salesforce_refresh_token: SecretStr = Field(
        SecretStr(""), description="Refresh token (refresh-token flow)."
    )
    salesforce_auth: Literal["auto", "client_credentials", "jwt", "refresh_token"] = Field(
        "auto",
        description="OAuth flow; auto picks jwt with a key, refresh_token with a token, "
        "else client_credentials.",
    )
    salesforce_ca_bundle: Path | None = Field(
        None, description="CA file to trust for Salesforce (e.g. localorg's certificate)."
    )
    salesforce_api_version: str = Field("59.0", description="REST API version.")
    database: Path = Field(Path("lead2loyalty.sqlite"), description="SQLite database file.")
    # The platform convention (Heroku, Render, Fly: the add-on sets it), hence no L2L_ prefix.
    database_url: SecretStr = Field(
        SecretStr(""),
        validation_alias="DATABASE_URL",
        description="PostgreSQL database (postgresql://user:password@host:5432/name) instead of "
        "the SQLite file: several processes on several hosts share it. Not with L2L_DATABASE.",
    )
    # A project folder's own (``lead2loyalty init``) when run inside it, else the shipped ones.
    mappings_dir: Path = Field(
        default_factory=lambda: project_dir("mappings"),
        description="Field mappings (YAML): ./mappings when the working folder has one, else "
        "the defaults shipped with lead2loyalty.",
    )
    models_dir: Path = Field(
        default_factory=lambda: project_dir("models"),
        description="Model settings (YAML): ./models when the working folder has one, else the "
        "defaults shipped with lead2loyalty.",
    )
    quota_share: float = Field(
        0.8, gt=0, le=1, description="Stop a run once this share of the daily API limit is used."
    )
    pull_lookback_seconds: int = Field(
        300, ge=0, le=30 * DAY, description="Re-read this much before the watermark (late commits)."
    )
    pull_lag_seconds: int = Field(
        5, ge=0, le=3_600, description="Do not read the last seconds (rows still being committed)."
    )
    pull_echo_sweep_minutes: int = Field(
        60,
        ge=0,
        le=7 * 24 * 60,
        description="Read back our own writes this long after them, for changes they hid "
        "(0: every run).",
    )
    pull_bulk_threshold: int = Field(
        50_000,
        ge=1,
        le=100_000_000,
        description="Pull with a Bulk API 2.0 query above this many rows.",
    )
    push_bulk_threshold: int = Field(
        10_000,
        ge=1,
        le=100_000_000,
        description="Write back with Bulk API 2.0 above this many records.",
    )
    max_retries: int = Field(4, ge=0, le=20, description="Retries of a retryable Salesforce call.")
    retry_base_seconds: float = Field(
        0.5, ge=0, le=60, description="First backoff (jittered, doubling)."
    )
    sync_interval_minutes: int = Field(
        15, ge=1, le=7 * 24 * 60, description="Clock: incremental sync period."
    )
    value_log_days: int = Field(
        90, ge=1, le=36_500, description="Keep the per-field value log of runs this many days old."
    )
    # Webhooks and the events API (connector/webhooks, connector/web): comma-separated lists,
    # so a secret can be rotated (old and new both accepted) and several shops share one URL.
    shopify_webhook_secrets: SecretStr = Field(
        SecretStr(""),
        description="Shopify app client secrets that sign webhooks (comma separated).",
    )
    woocommerce_webhook_secrets: SecretStr = Field(
        SecretStr(""), description="WooCommerce webhook secrets (comma separated, one per store)."
    )
    bigcommerce_webhook_token: SecretStr = Field(
        SecretStr(""),
        description="Shared tokens BigCommerce sends in the X-L2L-Webhook-Token header "
        "(comma separated, one per store).",
    )
    bigcommerce_api_tokens: SecretStr = Field(
        SecretStr(""),
        description="Store API tokens as store_hash:token (comma separated): the worker reads "
        "each webhook's order in full.",
    )
    bigcommerce_api_url: str = Field(
        "https://api.bigcommerce.com", description="BigCommerce API base URL."
    )
    events_write_keys: SecretStr = Field(
        SecretStr(""),
        description="Write keys of POST /v1/* (HTTP Basic username; comma separated).",
    )
    webhook_max_bytes: int = Field(
        512_000,
        ge=1024,
        le=100_000_000,
        description="Largest accepted request body, after gunzip (else 413).",
    )
    webhook_fsync: bool = Field(
        False,
        description="fsync each delivery before its 2xx (survives power loss, not only crashes; "
        "slower: see bench/webhooks.py).",
    )
    webhook_max_age_seconds: int = Field(
        172_800,
        ge=60,
        le=30 * DAY,
        description="Refuse deliveries whose platform timestamp is older than this.",
    )
    order_reference_field: str = Field(
        "OrderReferenceNumber",
        description="Order field holding the shop's order id or name: a Salesforce Order with "
        "it is the same order as the webhook's, counted once.",
    )
    org_currency: str = Field(
        "USD",
        description="A single-currency org's currency (ISO 4217): shop orders in another "
        "currency are held and named, never counted as is. A multi-currency org's corporate "
        "currency and rates are read from CurrencyType.",
    )
    realtime_create_leads: bool = Field(
        False,
        description="Worker: create a Lead for a shopper with an order but no Contact or Lead "
        "(LastName from the email, Company the shop).",
    )
    # 1 s: on the medium seed a webhook reached its field in p95 2.47 s at 1 s and 3.74 s at
    # 2 s (bench/webhooks_e2e.py); an idle pass is one indexed read of the marks
    realtime_interval_seconds: float = Field(
        1.0,
        gt=0,
        le=3_600,
        description="Worker: seconds between real-time passes over dirty people.",
    )
    queue_stalled_seconds: float = Field(
        30.0,
        ge=1,
        le=3_600,
        description="Worker (PostgreSQL): seconds without a worker's heartbeat before its job "
        "is given to another worker.",
    )
    order_statuses: str = Field(
        "",
        description="Comma-separated Order Status values that count; empty: the status "
        "categories below decide.",
    )
    order_status_categories: str = Field(
        "Activated",
        description="Comma-separated Order status categories (StatusCode: Draft, Activated) "
        "whose orders count.",
    )
    reconcile_interval_hours: int = Field(
        24,
        ge=0,
        le=24 * 366,
        description="Forget records the org no longer has (purged, hard-deleted) this often; "
        "every sync --full does it too; 0: on every run.",
    )

    @field_validator("database_url")
    @classmethod
    def _postgresql_url(cls, value: SecretStr) -> SecretStr:
        url = value.get_secret_value()
        if url and not url.startswith(("postgresql://", "postgres://")):
            raise ValueError(
                f"{redacted_url(url)} is not a PostgreSQL URL (postgresql://user@host:5432/name)"
            )
        return value

    @model_validator(mode="after")
    def _one_database(self) -> Settings:
        # An empty L2L_DATABASE counts as unset: the image sets it (Dockerfile), and a compose
        # file can only empty a variable, not remove it (compose.yaml).
        chosen = "database" in self.model_fields_set and str(self.database) not in ("", ".")
        if self.database_url.get_secret_value() and chosen:
            raise ValueError(
                "DATABASE_URL and L2L_DATABASE are both set: the store lives in one database; "
                "unset L2L_DATABASE to use PostgreSQL, or DATABASE_URL to use the SQLite file"
            )
        return self

    @property
    def store_location(self) -> Path | str:
        """Where the store lives: the PostgreSQL URL when ``DATABASE_URL`` is set, else the
        SQLite file (``L2L_DATABASE``)."""
        return self.database_url.get_secret_value() or self.database

    @property
    def database_label(self) -> str:
        """The store's location for messages and logs: the file, or the URL without password."""
        url = self.database_url.get_secret_value()
        return redacted_url(url) if url else str(self.database)

    @field_validator("order_status_categories")
    @classmethod
    def _categories(cls, value: str) -> str:
        unknown = [c for c in split_list(value) if c not in ORDER_STATUS_CATEGORIES]
        if unknown or not split_list(value):
            raise ValueError(
                f"use Draft and/or Activated (Salesforce's Order status categories), got {value!r}"
            )
        return value

    loyalty_api_tokens: SecretStr = Field(
        SecretStr(""),
        description="Bearer tokens of the loyalty API, comma separated, each "
        "name:scope1+scope2[:partner]=secret (scopes read, redeem, accrue, adjust; a bare "
        "secret is a token with every scope); empty turns the API off.",
    )

    @field_validator("loyalty_api_tokens")
    @classmethod
    def _loyalty_tokens(cls, value: SecretStr) -> SecretStr:
        parse_tokens(value.get_secret_value())  # its errors name entries, never a secret
        return value

    alert_webhook_url: SecretStr = Field(
        SecretStr(""),
        description='POST a JSON {"text": ...} here (e.g. a Slack incoming webhook) when a '
        "run fails, crashes, or is partial twice in a row.",
    )

    admin_users: SecretStr = Field(
        SecretStr(""),
        description="Admin page accounts, comma separated, each name:password-hash (make one "
        "with `lead2loyalty admin hash-password`); empty: the admin page is off.",
    )
    admin_session_key: SecretStr = Field(
        SecretStr(""),
        description="Signs the admin page's session cookies; empty: derived from "
        "L2L_ADMIN_USERS (so every web worker agrees, and a password change signs everyone out).",
    )
    admin_cookie_secure: bool = Field(
        True,
        description="Send the admin session cookie over HTTPS only (turn off only for a "
        "plain-HTTP test on localhost).",
    )
    admin_salesforce_users: str = Field(
        "",
        description="Salesforce usernames (comma separated) that may sign in to the admin page "
        "with the org's own login (OAuth web server flow with PKCE at L2L_SALESFORCE_LOGIN_URL, "
        "the connected app of L2L_SALESFORCE_CLIENT_ID, whose Callback URL must be this "
        "site's /admin/sign-in/salesforce/callback); empty: that way is off.",
    )
    admin_lockout_failures: int = Field(
        5,
        ge=1,
        le=1000,
        description="Failed admin sign-ins per account and address before a lockout.",
    )
    admin_lockout_minutes: int = Field(
        15,
        ge=1,
        le=24 * 60,
        description="How long a lockout lasts, and the window its failures are counted in.",
    )

    @field_validator("admin_users")
    @classmethod
    def _admin_users(cls, value: SecretStr) -> SecretStr:
        for number, entry in enumerate(secret_list(value), start=1):
            name, _, hashed = entry.partition(":")
            if not name.strip() or "$" not in hashed:
                # the entry's number, never its text: it holds a password hash
                raise ValueError(
                    f"entry {number} is not name:password-hash; make the hash with "
                    "`lead2loyalty admin hash-password`"
                )
        return value

    @field_validator("org_currency")
    @classmethod
    def _iso_currency(cls, value: str) -> str:
        code = value.strip().upper()
        if len(code) != 3 or not code.isascii() or not code.isalpha():
            raise ValueError(f"use a three-letter ISO 4217 code such as USD or EUR, got {value!r}")
        return code

    @field_validator("salesforce_login_url", "salesforce_jwt_audience")
    @classmethod
    def _https_url(cls, value: str) -> str:
        # Salesforce serves OAuth only over HTTPS; a bare host or http:// would otherwise fail
        # deep inside requests with a traceback instead of here with the setting's name.
        parts = urlsplit(value.strip())
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError(
                f"'{value}' is not an https:// URL; write it in full, e.g. "
                "https://yourcompany.my.salesforce.com"
            )
        return value.strip().rstrip("/")

    @field_validator("salesforce_ca_bundle")
    @classmethod
    def _readable_file(cls, value: Path | None) -> Path | None:
        if value is not None and not Path(value).is_file():
            raise ValueError(f"{value} is not a file; point it at a PEM certificate bundle")
        return value


def split_list(value: str) -> list[str]:
    """A comma-separated setting as its items (blanks dropped)."""
    return [item.strip() for item in value.split(",") if item.strip()]


def _variable(loc: tuple[int | str, ...]) -> str:
    """The environment variable a validation error is about, as its message's prefix."""
    if not loc:  # a rule across settings (DATABASE_URL with L2L_DATABASE): the message names them
        return ""
    name = "_".join(str(p) for p in loc).upper()
    return f"{name}: " if name == "DATABASE_URL" else f"L2L_{name}: "


def redacted_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (for messages; secrets never in logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user, host = parts.netloc.rsplit("@", 1)
    return parts._replace(netloc=f"{user.split(':', 1)[0]}:***@{host}").geturl()


def load_settings(**overrides: Any) -> Settings:
    """Load and validate settings; every problem is reported in one :class:`ConfigError`."""
    check_env_file(Path(ENV_FILE))
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        problems = [
            _variable(err["loc"]) + str(err["msg"]).removeprefix("Value error, ")
            for err in exc.errors()
        ]
        if len(problems) == 1:  # the usual case: one clear line
            raise ConfigError(f"invalid setting {problems[0]}") from None
        raise ConfigError("invalid settings:\n  " + "\n  ".join(problems)) from None
    wide = [
        f"L2L_{name.upper()}"
        for name in Settings.model_fields
        if isinstance(value := getattr(settings, name), int)
        and not isinstance(value, bool)
        and not INT64_MIN <= value <= INT64_MAX
    ]
    if wide:  # a setting without its own bound still never reaches SQLite past 64 bits
        raise ConfigError(f"invalid setting {', '.join(wide)}: the number does not fit 64 bits")
    return settings


def check_env_file(path: Path) -> None:
    """Refuse a ``.env`` file that is not UTF-8 text, naming its first bad line (pydantic would
    raise a bare ``UnicodeDecodeError`` from deep inside)."""
    try:
        raw = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return
    for number, line in enumerate(raw.splitlines(), start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"{path}:{number}: not UTF-8 text (byte {line[exc.start]:#04x} at column "
                f"{exc.start + 1}); save the file as UTF-8"
            ) from None


def secret_list(value: SecretStr) -> list[str]:
    """The non-empty, trimmed entries of a comma-separated secret setting."""
    return [part.strip() for part in value.get_secret_value().split(",") if part.strip()]


def describe_settings(settings: Settings) -> list[tuple[str, str, str, str]]:
    """(variable, value, default, description) per setting; secrets masked."""
    rows = []
    for name, field in Settings.model_fields.items():
        value = getattr(settings, name)
        default = field.get_default(call_default_factory=True)
        shown = (
            "**********"
            if isinstance(value, SecretStr) and value.get_secret_value()
            else ("" if isinstance(value, SecretStr) else str(value))
        )
        default_shown = "" if isinstance(default, SecretStr) else str(default)
        variable = field.validation_alias if isinstance(field.validation_alias, str) else None
        rows.append(
            (variable or f"L2L_{name.upper()}", shown, default_shown, field.description or "")
        )
    return rows
