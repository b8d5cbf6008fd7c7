"""A Lead field an admin names among the conversion model's ``categorical`` fields is pulled
and read, not only the default ones the Lead stream lists."""

from __future__ import annotations

import shutil
from pathlib import Path

from connector.scoring import LeadConversionConfig
from connector.store import Store
from connector.sync import build_engine
from connector.sync.intent import LEAD_BASE, ScoringSetup, lead_columns, with_lead_fields
from connector.sync.streams import STREAMS
from localorg.org import LocalOrg
from localorg.server import Running
from tests.support import REPO, load_rows, localorg_settings, rfm_mappings


def test_a_configured_lead_field_is_pulled_and_read(
    org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    shutil.copytree(REPO / "models", models)
    path = models / "lead_conversion.yaml"
    text = path.read_text(encoding="utf-8")
    default = "categorical: [LeadSource, Industry, Rating, Country, Title, NumberOfEmployees, "
    assert default in text
    path.write_text(text.replace(default, default + "Street, ", 1), encoding="utf-8")
    load_rows(org, "Lead", [{"LastName": "Lee", "Company": "Acme", "Street": "1 Main St"}])
    settings = localorg_settings(
        org,
        localorg_server,
        tmp_path,
        models_dir=models,
        mappings_dir=rfm_mappings(tmp_path / "mappings"),
    )
    engine = build_engine(settings)
    assert "Street" not in STREAMS["Lead"].fields  # not a field the stream pulls by itself
    run = engine.run()
    assert run.status == "succeeded", run.errors
    conversion = engine.scoring.conversion if engine.scoring else None
    assert conversion is not None
    leads = Store(settings.store_location).records.frame("Lead", lead_columns(conversion))
    assert leads["Street"].tolist() == ["1 Main St"]


def test_without_the_conversion_model_the_lead_stream_is_as_listed() -> None:
    stream = STREAMS["Lead"]
    assert with_lead_fields(stream, None) is stream
    assert with_lead_fields(stream, ScoringSetup()) is stream
    assert (
        with_lead_fields(STREAMS["Contact"], ScoringSetup(None, LeadConversionConfig()))
        is (STREAMS["Contact"])
    )
    assert lead_columns(None) == list(LEAD_BASE)
