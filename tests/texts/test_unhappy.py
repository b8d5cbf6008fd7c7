"""The unhappy moment's pure parts: who counts as valued (CLV predicted or historic, a top
tier of any program), which messages fire (negative, recent, valued, not fired before, of the
run's people), and the Flow `fields export` writes for it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import yaml

from connector.salesforce.sfdx import flow_specs, flow_xml
from connector.sync.resolve import Resolved
from connector.sync.texts_stage import UNHAPPY_MOMENT, TextsResult, plan_unhappy, valued_people
from connector.texts.text_config import TextsConfig
from localorg.flow_metadata import parse_flow
from tests.support import REPO

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def _config(**unhappy: object) -> TextsConfig:
    raw = yaml.safe_load((REPO / "models" / "texts.yaml").read_text(encoding="utf-8"))
    raw["unhappy"].update(unhappy)
    return TextsConfig.model_validate(raw)


def _index(*keys: tuple[str, str]) -> pd.MultiIndex:
    return pd.MultiIndex.from_tuples(list(keys), names=["object", "record_id"])


def test_valued_by_predicted_or_historic_clv_or_a_top_tier() -> None:
    computed = pd.DataFrame(
        {
            "predictions.clv": [1500.0, 10.0, 10.0, None],
            "predictions.historic_clv": [100.0, 2000.0, 10.0, None],
            "loyalty.tier@club": ["Silver", None, "Gold", "Gold"],
        },
        index=_index(("Contact", "a"), ("Contact", "b"), ("Contact", "c"), ("Lead", "d")),
    )
    config = _config(clv_at_least=1000)
    why = valued_people(computed, config, frozenset({"Gold"}))
    assert why == {
        ("Contact", "a"): "CLV 1,500",
        ("Contact", "b"): "CLV 2,000",
        ("Contact", "c"): "Gold member",
        ("Lead", "d"): "Gold member",
    }
    assert valued_people(computed, _config(clv_at_least=None, top_tier=False), frozenset()) == {}
    # no loyalty program: the tier counts for nothing
    assert set(valued_people(computed, config, frozenset())) == {("Contact", "a"), ("Contact", "b")}


def _scored(rows: list[tuple[str, str, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "message_id": mid,
                "object": "Contact",
                "record_id": who,
                "case_id": None,
                "at": NOW - timedelta(days=days),
                "score": score,
                "text": f"message {mid}",
            }
            for mid, who, score, days in rows
        ]
    )


def _resolved(people: frozenset[tuple[str, str]] | None = None) -> Resolved:
    empty = pd.DataFrame()
    return Resolved(NOW, empty, empty, empty, empty, empty, people=people)


def _plan(
    scored: pd.DataFrame, config: TextsConfig, fired: set[str], resolved: Resolved
) -> list[str]:
    result = TextsResult(pd.DataFrame(), pd.DataFrame(), {}, frozenset(), scored)
    valued = {("Contact", "vip"): "CLV 5,000"}
    effects, record = plan_unhappy(result, config, valued, fired, resolved)
    assert record.get("crossed", 0) == len(effects.calls)
    for call in effects.calls:
        assert call.moment == UNHAPPY_MOMENT
        assert call.scope == (UNHAPPY_MOMENT, "message")
        assert call.inputs["why"] == "CLV 5,000"
    return [call.key for call in effects.calls]


def test_only_new_recent_negative_messages_of_valued_people_fire() -> None:
    scored = _scored(
        [
            ("m1", "vip", -0.8, 1),  # fires
            ("m2", "vip", 0.6, 1),  # positive
            ("m3", "vip", -0.1, 1),  # mildly negative, above negative_at
            ("m4", "vip", -0.9, 20),  # older than within_days
            ("m5", "nobody", -0.9, 1),  # not valued
            ("m6", "vip", -0.5, 0),  # fires
        ]
    )
    on = _config(flow="L2L_Unhappy")
    assert _plan(scored, on, set(), _resolved()) == ["m1", "m6"]
    assert _plan(scored, on, {"m1"}, _resolved()) == ["m6"]  # once per message
    assert _plan(scored, _config(flow=None), set(), _resolved()) == []  # off by default
    # a run of other people fires nothing for the valued one
    assert _plan(scored, on, set(), _resolved(frozenset({("Contact", "nobody")}))) == []


def test_the_unhappy_flow_declares_what_the_moment_sends() -> None:
    specs = flow_specs(None, None, None, _config(flow="L2L_Unhappy"))
    assert [(s.name, s.kind) for s in specs] == [("L2L_Unhappy", "unhappy")]
    flow = parse_flow("L2L_Unhappy", flow_xml(specs[0]))
    assert flow.active
    assert flow.inputs == {
        "recordId": "String",
        "objectName": "String",
        "sentiment": "Number",
        "replyText": "String",
        "why": "String",
    }
    assert flow_specs(None, None, None, _config()) == []  # the shipped texts.yaml names none
