"""/openapi.json is valid OpenAPI 3.1 and describes exactly the routes the app serves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from connector.config import load_settings
from connector.web import create_app


def test_openapi_matches_the_real_routes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = create_app(load_settings(database=tmp_path / "l2l.sqlite"))
    response = app.test_client().get("/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"] == "3.1.0"
    validate(spec)  # the OpenAPI 3.1 meta-schema: raises on any structural mistake
    served = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
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
