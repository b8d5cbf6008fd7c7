"""Settings, from the environment (``L2L_`` prefix) or a ``.env`` file, validated once at start.

Secrets are ``SecretStr``: they print as ``**********`` in logs, errors and ``lead2loyalty
config``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from connector.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Every setting of lead2loyalty; ``lead2loyalty config`` lists them with their variables."""

    model_config = SettingsConfigDict(env_prefix="L2L_", env_file=".env", extra="ignore")

    salesforce_login_url: str = Field(
        "https://login.salesforce.com",
        description="OAuth login URL: your My Domain URL in production, localorg's URL here.",
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
    mappings_dir: Path = Field(REPO_ROOT / "mappings", description="Field mappings (YAML).")
    models_dir: Path = Field(REPO_ROOT / "models", description="Model settings (YAML).")
    quota_share: float = Field(
        0.8, gt=0, le=1, description="Stop a run once this share of the daily API limit is used."
    )
    pull_lookback_seconds: int = Field(
        300, ge=0, description="Re-read this much before the watermark (late commits)."
    )
    pull_lag_seconds: int = Field(
        5, ge=0, description="Do not read the last seconds (rows still being committed)."
    )
    pull_echo_sweep_minutes: int = Field(
        60,
        ge=0,
        description="Read back our own writes this long after them, for changes they hid "
        "(0: every run).",
    )
    pull_bulk_threshold: int = Field(
        50_000, ge=1, description="Pull with a Bulk API 2.0 query above this many rows."
    )
    push_bulk_threshold: int = Field(
        10_000, ge=1, description="Write back with Bulk API 2.0 above this many records."
    )
    max_retries: int = Field(4, ge=0, description="Retries of a retryable Salesforce call.")
    retry_base_seconds: float = Field(0.5, ge=0, description="First backoff (jittered, doubling).")
    sync_interval_minutes: int = Field(15, ge=1, description="Clock: incremental sync period.")
    value_log_days: int = Field(
        90, ge=1, description="Keep the per-field value log of runs this many days old."
    )


def load_settings(**overrides: Any) -> Settings:
    """Load and validate settings; every problem is reported in one :class:`ConfigError`."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = [
            f"L2L_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        ]
        raise ConfigError("invalid settings:\n  " + "\n  ".join(problems)) from None


def describe_settings(settings: Settings) -> list[tuple[str, str, str, str]]:
    """(variable, value, default, description) per setting; secrets masked."""
    rows = []
    for name, field in Settings.model_fields.items():
        value = getattr(settings, name)
        default = field.default
        shown = (
            "**********"
            if isinstance(value, SecretStr) and value.get_secret_value()
            else ("" if isinstance(value, SecretStr) else str(value))
        )
        default_shown = "" if isinstance(default, SecretStr) else str(default)
        rows.append((f"L2L_{name.upper()}", shown, default_shown, field.description or ""))
    return rows
