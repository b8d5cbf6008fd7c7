"""Bounded numbers and JSON at every edge (connector/bounds.py): the JSON reader, settings and
their .env file, command-line numbers, YAML and the importer, each driven with extremes."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.bounds import (
    INT64_MAX,
    INT64_MIN,
    MAX_AMOUNT,
    MAX_JSON_DEPTH,
    OutOfBounds,
    load_json,
)
from connector.cli import main
from connector.config import Settings, load_settings
from connector.errors import ConfigError, MappingError, WebhookError
from connector.events.importer import MAX_LINE_BYTES, import_file
from connector.loyalty.config import LoyaltyConfig
from connector.mapping.loader import load_yaml_model
from connector.predictions.config import PredictionsConfig
from connector.store import Store
from connector.webhooks import shopify
from connector.webhooks.base import hmac_base64
from tests.backends import database_env, store_location

EXTREME_INTS = st.one_of(
    st.integers(min_value=INT64_MAX - 2, max_value=INT64_MAX + 2),
    st.integers(min_value=INT64_MIN - 2, max_value=INT64_MIN + 2),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.sampled_from([0, -1, 1, 2**63, -(2**63) - 1, 10**400]),
)


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# ---------------------------------------------------------------------- the JSON reader
@given(EXTREME_INTS)
def test_json_whole_numbers_are_read_only_within_64_bits(value: int) -> None:
    text = json.dumps({"points": value})
    if INT64_MIN <= value <= INT64_MAX:
        assert load_json(text) == {"points": value}
    else:
        with pytest.raises(OutOfBounds, match="64 bits"):
            load_json(text)


@given(st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-1e309", "1e308", "5e-324"]))
def test_json_decimals_are_read_only_when_finite(literal: str) -> None:
    text = f'{{"total": {literal}}}'
    if math.isfinite(float(literal)) and literal not in ("NaN", "Infinity", "-Infinity"):
        assert load_json(text) == {"total": float(literal)}
    else:
        with pytest.raises(OutOfBounds):
            load_json(text)


@given(st.integers(min_value=1, max_value=200_000))
@settings(max_examples=40, deadline=None)
def test_json_nesting_is_read_up_to_the_limit_and_refused_past_it(depth: int) -> None:
    text = _nested(depth)
    if depth <= MAX_JSON_DEPTH:
        load_json(text)
    else:
        with pytest.raises(OutOfBounds, match="nested deeper"):
            load_json(text)


def test_json_nesting_at_exactly_the_limit_is_read() -> None:
    assert load_json(_nested(MAX_JSON_DEPTH)) is not None
    nested_objects = '{"a": ' * MAX_JSON_DEPTH + "1" + "}" * MAX_JSON_DEPTH
    load_json(nested_objects)
    with pytest.raises(OutOfBounds):
        load_json('{"a": ' * (MAX_JSON_DEPTH + 1) + "1" + "}" * (MAX_JSON_DEPTH + 1))


# ---------------------------------------------------------------------- settings
NUMERIC_SETTINGS = sorted(
    name
    for name, field in Settings.model_fields.items()
    if field.annotation in (int, float, "int", "float")
)


def test_every_numeric_setting_has_an_upper_bound() -> None:
    assert NUMERIC_SETTINGS, "the settings' annotations changed shape"
    unbounded = [
        name
        for name in NUMERIC_SETTINGS
        if not any(
            getattr(m, "le", None) is not None or getattr(m, "lt", None) is not None
            for m in Settings.model_fields[name].metadata
        )
    ]
    assert unbounded == []


@given(
    name=st.sampled_from(NUMERIC_SETTINGS),
    raw=st.one_of(
        EXTREME_INTS.map(str),
        st.sampled_from(["nan", "inf", "-inf", "1e400", "99999999999999", "-1", "1e-400"]),
    ),
)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_numeric_settings_take_extremes_as_one_named_error_or_a_bounded_value(
    name: str, raw: str
) -> None:
    problem = ""
    try:
        loaded = load_settings(_env_file=None, **{name: raw})
    except ConfigError as exc:
        problem = str(exc)
    if problem:
        assert f"L2L_{name.upper()}" in problem
        assert "\n" not in problem
        return
    value = getattr(loaded, name)
    assert math.isfinite(value)
    assert INT64_MIN <= value <= INT64_MAX


def test_pull_lag_of_a_hundred_trillion_seconds_is_refused_at_start() -> None:
    with pytest.raises(ConfigError, match=r"L2L_PULL_LAG_SECONDS: .*less than or equal to 3600"):
        load_settings(_env_file=None, pull_lag_seconds="99999999999999")


def test_env_file_with_a_non_utf8_byte_is_one_error_naming_the_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_bytes(b"L2L_QUOTA_SHARE=0.5\nL2L_DATABASE=caf\xe9.sqlite\n")
    with pytest.raises(ConfigError, match=r"^\.env:2: not UTF-8 text \(byte 0xe9 at column 17\)"):
        load_settings()
    result = CliRunner().invoke(main, ["config"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: .env:2: not UTF-8 text")
    assert "Traceback" not in result.output


def test_env_file_in_utf8_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("L2L_DATABASE=café.sqlite\n", encoding="utf-8")
    assert load_settings().database == Path("café.sqlite")


# ---------------------------------------------------------------------- the command line
@given(
    command=st.sampled_from(
        [
            ["runs", "--limit"],
            ["localorg", "seed", "--rng-seed"],
            ["web", "--port"],
            ["web", "--workers"],
            ["loyalty", "adjust", "a@example.com", "--reason", "x", "--points"],
        ]
    ),
    value=st.one_of(EXTREME_INTS.filter(lambda v: abs(v) > 10**12).map(str), st.just("nan")),
)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_command_line_numbers_past_their_range_are_one_usage_line(
    command: list[str], value: str
) -> None:
    result = CliRunner().invoke(main, [*command, value])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "Error: Invalid value for" in result.output
    assert isinstance(result.exception, SystemExit)


# ---------------------------------------------------------------------- YAML
@pytest.mark.parametrize(
    ("value", "message"),
    [(".inf", "use a finite number"), (".NaN", "use a finite number"), ("1" * 30, "64 bits")],
)
def test_yaml_numbers_past_their_bounds_are_named_at_their_line(
    tmp_path: Path, value: str, message: str
) -> None:
    path = tmp_path / "predictions.yaml"
    path.write_text(f"# predictions\nunknown_weight: {value}\n", encoding="utf-8")
    with pytest.raises(MappingError) as caught:
        load_yaml_model(path, PredictionsConfig)
    assert f"{path}:2: unknown_weight: " in str(caught.value)
    assert message in str(caught.value)


# ---------------------------------------------------------------------- import
def _message(n: int, **extra: object) -> str:
    return json.dumps(
        {
            "type": "track",
            "event": "Viewed",
            "messageId": f"m{n}",
            "userId": "u1",
            "timestamp": "2026-01-01T00:00:00Z",
            **extra,
        }
    )


def test_import_rejects_a_100000_deep_line_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    lines = [
        _message(1),
        _nested(100_000),
        _message(2, properties={"n": 2**64}),
        _message(3, properties={"total": float("nan")}).replace("NaN", "NaN"),
        "x" * (MAX_LINE_BYTES + 10),
        _message(4),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    store = Store(store_location(tmp_path))
    try:
        report = import_file(store, path)
    finally:
        store.close()
    assert report.read == 6
    assert report.stored == 2
    problems = "\n".join(report.rejected)
    assert f"{path}:2: the JSON is nested deeper than {MAX_JSON_DEPTH} levels" in problems
    assert f"{path}:3: the number" in problems
    assert f"{path}:4: NaN is not a JSON number" in problems
    assert f"{path}:5: longer than {MAX_LINE_BYTES:,} bytes" in problems
    result = CliRunner().invoke(
        main, ["import", str(path), "--json"], env={**database_env(store_location(tmp_path))}
    )
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


# ---------------------------------------------------------------------- webhooks
EXTREME_AMOUNTS = st.one_of(
    EXTREME_INTS,
    EXTREME_INTS.map(str),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["1e400", "-1e400", "nan", "inf", "1e12", "1000000000000.01", "12.50"]),
)


@given(total=EXTREME_AMOUNTS, order_id=EXTREME_INTS)
@settings(max_examples=200, deadline=None)
def test_shopify_orders_hold_only_bounded_amounts(total: object, order_id: int) -> None:
    order = {
        "id": order_id,
        "email": "a@example.org",
        "created_at": "2026-11-20T14:15:01Z",
        "total_price": total,
        "currency": "USD",
    }
    body = json.dumps(order).encode()
    secret = "s3cret"
    headers = {
        "X-Shopify-Hmac-Sha256": hmac_base64(secret, body),
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Event-Id": "e1",
        "X-Shopify-Triggered-At": datetime.now(UTC).isoformat(),
    }
    try:
        delivery = shopify.receive(headers, body, [secret], datetime.now(UTC), 3600)
    except WebhookError:
        return  # refused: 4xx, nothing stored
    [row] = shopify.normalise(delivery).orders
    assert math.isfinite(row["total"])
    assert abs(row["total"]) <= MAX_AMOUNT
    assert INT64_MIN <= order_id <= INT64_MAX


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("{id: base, kind: spend, points_per_unit: 1000000000}", "less than or equal to 1000"),
        ("{id: big, kind: threshold, min_amount: 5, points: 9223372036854775807}", "1000000000000"),
    ],
)
def test_loyalty_yaml_points_past_their_bound_are_named_at_their_line(
    tmp_path: Path, rule: str, message: str
) -> None:
    path = tmp_path / "loyalty.yaml"
    path.write_text(
        "programs:\n  - id: club\n    name: Club\n    type: points\n"
        f"    earning:\n      - {rule}\n",
        encoding="utf-8",
    )
    with pytest.raises(MappingError) as caught:
        load_yaml_model(path, LoyaltyConfig)
    assert f"{path}:6: " in str(caught.value)
    assert message in str(caught.value)
