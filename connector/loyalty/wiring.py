"""Settings -> the loyalty programs and a :class:`LoyaltyService`: what the CLI and the web
API share.

:func:`load_config` is the one place that reads ``models/loyalty.yaml``; the sync's own loader
(``connector.sync.loyalty.load_loyalty_config``) can replace it without touching the callers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from connector.config import Settings
from connector.loyalty.config import LoyaltyConfig
from connector.loyalty.service import LoyaltyService
from connector.mapping import load_yaml_model
from connector.store import Store


def load_config(settings: Settings) -> LoyaltyConfig:
    """The programs of ``<models_dir>/loyalty.yaml``; none when the file does not exist.

    An invalid file raises :class:`~connector.errors.MappingError` with every problem as
    ``file:line``.
    """
    path = settings.models_dir / "loyalty.yaml"
    if not path.exists():
        return LoyaltyConfig()
    return load_yaml_model(path, LoyaltyConfig)


@contextmanager
def open_service(
    settings: Settings, clock: Callable[[], datetime] | None = None
) -> Iterator[LoyaltyService]:
    """A :class:`LoyaltyService` over the settings' database, closed afterwards."""
    config = load_config(settings)
    store = Store(settings.store_location)
    try:
        yield LoyaltyService(store, config, clock or (lambda: datetime.now(UTC)))
    finally:
        store.close()


def run_expiry(settings: Settings, program_id: str | None = None) -> dict[str, int]:
    """Post the expiry due now in every program (or one): program id -> points expired.

    What ``lead2loyalty loyalty expire`` runs, and what the clock's daily job calls.
    """
    with open_service(settings) as service:
        ids = [program_id] if program_id else [p.id for p in service.config.programs]
        if not ids:
            service.program()  # raises the "no loyalty program is configured" error
        return {pid: service.expire(pid) for pid in ids}
