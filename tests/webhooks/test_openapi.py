"""/openapi.json is valid OpenAPI 3.1 and describes exactly the routes the app serves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from connector.config import load_settings
from connector.web import create_app
from tests.backends import database_settings


def test_openapi_matches_the_real_routes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = create_app(load_settings(**database_settings(tmp_path)))
    response = app.test_client().get("/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"] == "3.1.0"
    validate(spec)  # the OpenAPI 3.1 meta-schema: raises on any structural mistake
    served = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        # the admin page's HTML (and `/`, its redirect) is for people, not an API: the README
        # describes it
        if rule.endpoint != "static" and not rule.endpoint.startswith("admin") and rule.rule != "/"
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }
    documented = {(path, method) for path, item in spec["paths"].items() for method in item}
    assert documented == served
    refs = re.findall(r'"\$ref":\s*"#/components/schemas/(\w+)"', response.get_data(as_text=True))
    assert refs
    assert set(refs) <= set(spec["components"]["schemas"])
    for path, item in spec["paths"].items():
        for operation in item.values():
            assert "200" in operation["responses"], path


def test_the_validator_catches_a_broken_document() -> None:
    from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

    from connector.web.openapi import SPEC

    broken = {**SPEC, "paths": {"/v1/batch": {"post": {"responses": "none"}}}}
    with pytest.raises(OpenAPIValidationError):
        validate(broken)


def test_the_platforms_are_listed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Routes, secrets' settings and the OpenAPI paths are all made from PLATFORMS.
    from pydantic import SecretStr

    from connector.config import Settings
    from connector.webhooks import PLATFORMS

    monkeypatch.chdir(tmp_path)
    app = create_app(load_settings(**database_settings(tmp_path)))
    routes = {r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/webhooks/")}
    assert routes == {f"/webhooks/{name}" for name in PLATFORMS}
    paths = app.test_client().get("/openapi.json").get_json()["paths"]
    assert {p for p in paths if p.startswith("/webhooks/")} == routes
    for name, module in PLATFORMS.items():
        assert name == module.SOURCE
        assert Settings.model_fields[module.SECRET_SETTING].annotation is SecretStr
        assert paths[f"/webhooks/{name}"]["post"]["summary"] == module.SUMMARY
    assert app.test_client().post("/webhooks/magento", data=b"{}").status_code == 404
