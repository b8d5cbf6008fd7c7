"""One registry of computed values, one catalog of event names, and everything that reads them.

The registry test runs the real compute step (a dry-run sync of a small seeded org over HTTPS,
with the seed's events imported) and holds what it produced to what is registered, both ways.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.events import import_file
from connector.events.names import CLICK_CHANNEL, CLICK_EVENTS, ENGAGEMENT_EVENTS, EVENTS
from connector.loyalty.config import LoyaltyConfig, Program
from connector.loyalty.wiring import load_config as load_loyalty_config
from connector.mapping import MapProblem
from connector.mapping.schema import mapping_schema
from connector.mapping.values import KNOWN_VALUES, keys_of, model_of, models, value_table
from connector.predictions import PredictionsConfig
from connector.salesforce import SalesforceClient
from connector.scoring.config import MachineOpens
from connector.store import Store
from connector.sync import SyncEngine, SyncOptions
from connector.sync.compute import model_frame
from connector.sync.intent import ScoringSetup, load_scoring
from connector.sync.orders_intel import load_settings as load_orders_settings
from localorg.ids import IdFactory
from localorg.org import LocalOrg
from localorg.seed import SeedSize, generate
from localorg.server import Running
from tests.support import REPO, load_rows, localorg_settings

# Small enough to seed and sync in seconds; big enough that every model has buyers, clicks and
# opens to work from (the predictions run their stated heuristics at this size).
TINY = SeedSize("registry", leads=150, contacts=400, orders=2_400, products=30)


@pytest.fixture(scope="module")
def seed_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny seed's files (truth, events.jsonl); its rows are loaded per test."""
    out = tmp_path_factory.mktemp("registry-seed")
    rows = generate(TINY, out, IdFactory(), owner_id="005000000000001AAA", now=_now())
    for _ in rows:  # the events file is written as the rows stream by
        pass
    return out


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _small_gate(setup: ScoringSetup) -> ScoringSetup:
    """The repository's scoring models, with the lead model's data gate lowered to what a tiny
    org has (the gate itself is tested in tests/scoring)."""
    assert setup.conversion is not None
    gate = setup.conversion.gate.model_copy(update={"min_leads": 20, "min_converted": 5})
    return ScoringSetup(
        setup.intent, setup.conversion.model_copy(update={"gate": gate}), setup.texts
    )


@pytest.mark.slow
def test_every_registered_value_is_produced_and_nothing_else(
    org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    out = tmp_path / "seed"
    for name, rows in generate(
        TINY, out, org.store.ids, owner_id=org.store.integration_user_id, now=_now()
    ):
        org.store.load_rows(name, rows)
    # a tiny seed may plant no Case: one, so the Case values (texts.case_*) have a record, and
    # it names an order, so the entities values (texts.*entities) have one too
    customer = org.store.execute('SELECT "Id" FROM "Contact" LIMIT 1')[0][0]
    load_rows(
        org,
        "Case",
        [
            {
                "Subject": "Refund",
                "Description": "Terrible. I want a refund for order #10045.",
                "ContactId": customer,
            }
        ],
    )
    settings = localorg_settings(org, localorg_server, tmp_path)
    store = Store(settings.store_location)
    assert import_file(store, out / "events.jsonl", source="seed").rejected == []
    seen: list[pd.DataFrame] = []

    def capture(
        computed: pd.DataFrame, problems: list[MapProblem] | None = None
    ) -> dict[tuple[str, str], dict[str, Any]]:
        seen.append(computed)
        return {}

    def produced_with(loyalty: LoyaltyConfig) -> set[str]:
        engine = SyncEngine(
            settings,
            SalesforceClient.from_settings(settings),
            store,
            capture,
            predictions=PredictionsConfig(),
            loyalty=loyalty,
            scoring=_small_gate(load_scoring(settings)),
            orders=load_orders_settings(REPO / "models" / "orders.yaml"),
        )
        report = engine.run(SyncOptions(dry_run=True))
        assert report.status == "succeeded", report.errors
        computed = seen.pop()
        assert set(computed.columns) <= set(KNOWN_VALUES), "produced but not registered"
        return {c for c in computed.columns if computed[c].notna().any()}

    shipped = load_loyalty_config(settings)  # the repository's models/loyalty.yaml
    produced = produced_with(shipped)
    assert produced == set(KNOWN_VALUES) - SPEND_ONLY, (
        f"registered but never produced: {sorted(set(KNOWN_VALUES) - produced - SPEND_ONLY)}"
    )
    # The shipped program takes its discount from tiers; the same program with its discount
    # from spend (the commented example in models/loyalty.yaml) produces the rest.
    assert produced_with(_by_spend(shipped)) >= SPEND_ONLY


#: Values only a program whose discount comes from spend produces.
SPEND_ONLY = {"loyalty.spend_to_next_discount"}


def _by_spend(config: LoyaltyConfig) -> LoyaltyConfig:
    """``config`` with its first program's discount from net spend instead of its tiers."""
    first = config.programs[0].model_dump()
    assert first["tiers"] is not None
    first["type"] = "progressive_discount"
    first["tiers"]["levels"] = [{**t, "discount_percent": 0} for t in first["tiers"]["levels"]]
    first["discounts"] = {
        "basis": "spend",
        "window": "rolling_12_months",
        "levels": [{"min_spend": 0, "percent": 0}, {"min_spend": 10**9, "percent": 10}],
    }
    programs = [Program.model_validate(first), *config.programs[1:]]
    return LoyaltyConfig(programs=programs)


def test_a_model_frame_refuses_an_unregistered_value() -> None:
    index = pd.MultiIndex.from_arrays([["Contact"], ["003x"]], names=["object", "record_id"])
    good = pd.DataFrame({"rfm.order_count": [3]}, index=index)
    framed = model_frame("rfm", good)
    assert list(framed.columns) == list(keys_of("rfm"))  # missing ones become empty columns
    assert framed.loc[("Contact", "003x"), "rfm.order_count"] == 3
    with pytest.raises(KeyError, match=r"rfm\.order_cnt"):
        model_frame("rfm", good.rename(columns={"rfm.order_count": "rfm.order_cnt"}))
    with pytest.raises(KeyError, match="not registered for it"):
        model_frame("predictions", good)  # registered, but under another model


def test_every_value_has_a_description_type_and_model() -> None:
    assert {"rfm", "predictions"} <= set(models())  # later issues add their own
    for key, value in KNOWN_VALUES.items():
        assert re.fullmatch(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)+", key), key
        assert value.description.endswith("."), key
        assert "\n" not in value.description, key
        assert isinstance(value.kind, type), key
        assert key in keys_of(model_of(key))


def test_the_schema_offers_exactly_the_registered_values() -> None:
    value = mapping_schema()["$defs"]["FieldMapping"]["properties"]["value"]
    assert value["enum"] == list(KNOWN_VALUES)


def test_the_readme_table_is_the_registry() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- values:start -->\n(.*?)<!-- values:end -->", readme, re.S)
    assert found is not None, "README.md lacks the <!-- values:start/end --> markers"
    assert found.group(1) == value_table(), (
        "README.md's value table is stale; paste `lead2loyalty values` between its markers"
    )


def test_values_command_prints_the_table_and_json() -> None:
    runner = CliRunner()
    table = runner.invoke(main, ["values"])
    assert table.exit_code == 0
    assert table.output == value_table()
    listed = json.loads(runner.invoke(main, ["values", "--json"]).output)
    assert [row["key"] for row in listed] == list(KNOWN_VALUES)
    assert listed[0] == {
        "key": "rfm.order_count",
        "type": "integer",
        "unit": "orders",
        "model": "rfm",
        "description": KNOWN_VALUES["rfm.order_count"].description,
    }


def test_the_seed_emits_only_catalogued_event_names(seed_dir: Path) -> None:
    names: set[str] = set()
    with (seed_dir / "events.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            message = json.loads(line)
            if message["type"] == "track":
                names.add(message["event"])
    assert names, "the seed wrote no track events"
    assert names <= set(EVENTS), f"not in connector/events/names.py: {names - set(EVENTS)}"
    # and the compute step has clicks and opens of the seed to work from
    assert set(CLICK_EVENTS) & names
    assert set(ENGAGEMENT_EVENTS) & names


def test_click_events_each_belong_to_one_channel() -> None:
    assert set(CLICK_CHANNEL) == set(CLICK_EVENTS)
    assert set(CLICK_EVENTS) <= set(ENGAGEMENT_EVENTS)
    assert set(CLICK_CHANNEL.values()) == {"email", "sms", "push"}


def test_the_models_default_event_names_are_catalogued() -> None:
    # Every event name a model reads by default comes from connector/events/names.py.
    machine = MachineOpens()
    for names in (machine.send_events, machine.open_events, machine.click_events):
        assert names, "an email act without a default event"
        assert set(names) <= set(EVENTS)
    assert set(machine.send_events).isdisjoint(machine.open_events)
    assert set(machine.open_events).isdisjoint(machine.click_events)
    # an email provider's click name counts as a click, never as a channel click for orders
    assert "Email Link Clicked" in machine.click_events
    assert "Email Link Clicked" not in CLICK_EVENTS
