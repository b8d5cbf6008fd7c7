"""One sync run and the pieces it is built from; :func:`build_engine` wires them from settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from connector.config import Settings
from connector.errors import MappingError
from connector.loyalty.config import LoyaltyConfig
from connector.loyalty.wiring import load_config as load_loyalty_config
from connector.mapping import MapProblem, load_registered_mappings, load_yaml_model, map_frame
from connector.mapping.models import MappingFile
from connector.orders_intel.settings import OrdersSettings
from connector.predictions import PredictionsConfig
from connector.salesforce.port import SalesforcePort
from connector.store import Store
from connector.sync.engine import Mapper, RunReport, SyncEngine, SyncOptions
from connector.sync.inputs import fingerprint
from connector.sync.intent import load_scoring
from connector.sync.orders_intel import load_settings as load_orders_settings
from connector.sync.resolve import PERSON_KIND
from connector.sync.runstate import RunStatus, WriteCounts, exit_code

__all__ = [
    "RunReport",
    "RunStatus",
    "SyncEngine",
    "SyncOptions",
    "WriteCounts",
    "build_engine",
    "check_programs",
    "exit_code",
    "load_files",
    "load_predictions_config",
    "mapper_for",
]


def mapper_for(mappings: list[MappingFile]) -> Mapper:
    """The map step: computed values per (object, record) -> field values per record; values
    that cannot be written are skipped and appended to ``problems``."""

    def mapper(
        computed: pd.DataFrame, problems: list[MapProblem] | None = None
    ) -> dict[tuple[str, str], dict[str, Any]]:
        # A hole in the frame (NaN, NaT: a person one model has no value for) is None, which
        # clears the field, never a float NaN that a date or picklist field cannot take; each
        # field is mapped a column at a time (map_frame).
        return map_frame(mappings, computed, PERSON_KIND, problems=problems)

    return mapper


@dataclass(frozen=True)
class Files:
    """The mapping and model files a sync reads, each loaded and checked (file:line errors)."""

    mappings: list[MappingFile]
    predictions: PredictionsConfig
    loyalty: LoyaltyConfig
    scoring: Any
    orders: OrdersSettings | None
    mapped_programs: frozenset[str]


def load_files(settings: Settings) -> Files:
    """Every mapping and model file a sync reads, checked; a broken one raises (a
    :class:`~connector.errors.Lead2LoyaltyError` naming its line) before anything is opened or
    sent. The clock checks them so before it queues a sync on PostgreSQL."""
    mappings = load_registered_mappings(settings.mappings_dir)
    loyalty = load_loyalty_config(settings)
    return Files(
        mappings=mappings,
        predictions=load_predictions_config(settings),
        loyalty=loyalty,
        scoring=load_scoring(settings),
        orders=load_orders_settings(settings.models_dir / "orders.yaml"),
        mapped_programs=check_programs(mappings, loyalty),
    )


def build_engine(
    settings: Settings,
    *,
    progress: Callable[[str], None] | None = None,
    client: SalesforcePort | None = None,
    clock: Callable[[], datetime] | None = None,
) -> SyncEngine:
    """A sync engine for the configured org, database and mappings; the files are checked
    first, so a broken mapping or model setting is reported before any sign-in."""
    from connector.salesforce import SalesforceClient

    files = load_files(settings)
    store = Store(settings.store_location)
    # Signed in lazily, by the run's first call: a refused sign-in is then a failed run on
    # record, with its reason, not an error before any run exists.
    client = client or SalesforceClient(settings)
    min_change = {
        (m.object, f.field): f.min_change for m in files.mappings for f in m.fields if f.min_change
    }
    return SyncEngine(
        settings,
        client,
        store,
        mapper_for(files.mappings),
        progress=progress,
        predictions=files.predictions,
        loyalty=files.loyalty,
        min_change=min_change,
        scoring=files.scoring,
        inputs_key=fingerprint([settings.mappings_dir, settings.models_dir]),
        clock=clock,
        mapped_programs=files.mapped_programs,
        orders=files.orders,
    )


def check_programs(mappings: list[MappingFile], loyalty: LoyaltyConfig) -> frozenset[str]:
    """The loyalty programs the mappings name (``program:``); a name that is not a program of
    ``models/loyalty.yaml`` raises :class:`~connector.errors.MappingError` at its line."""
    ids = [p.id for p in loyalty.programs]
    problems = [
        f"{f._where or mf.source}: program '{f.program}' is not in models/loyalty.yaml "
        f"(programs: {', '.join(ids) or 'none'})"
        for mf in mappings
        for f in mf.fields
        if f.program is not None and f.program not in ids
    ]
    if problems:
        raise MappingError(problems)
    return frozenset(f.program for mf in mappings for f in mf.fields if f.program is not None)


def load_predictions_config(settings: Settings) -> PredictionsConfig:
    """``models/predictions.yaml`` validated (file:line errors), or the defaults without it.

    A models folder that does not exist is an error (a mistyped L2L_MODELS_DIR), not defaults.
    """
    if not settings.models_dir.is_dir():
        raise MappingError(
            [f"{settings.models_dir}: no such directory (L2L_MODELS_DIR); create it or unset it"]
        )
    path = settings.models_dir / "predictions.yaml"
    if not path.exists():
        return PredictionsConfig()
    return load_yaml_model(path, PredictionsConfig)
