"""Intents of models/texts.yaml, zero-shot from its examples, on messages written for this test
(none is an example); entities; the committed JSON Schema matches the typed settings."""

from __future__ import annotations

import pytest

from connector.errors import MappingError
from connector.mapping.loader import load_yaml_model
from connector.texts.message_intents import IntentMatcher, entities, entities_text
from connector.texts.text_config import TextsConfig
from connector.texts.text_schema import SCHEMA_FILE, render
from tests.support import REPO

CONFIG = load_yaml_model(REPO / "models" / "texts.yaml", TextsConfig)

# message -> the intent it must carry (first) or None for none at all
CASES: list[tuple[str, str | None]] = [
    ("Can we get a quote for 500 seats?", "pricing"),
    ("What would 30 licences cost per year?", "pricing"),
    ("Could we book a demo for our team on Thursday?", "meeting"),
    ("Cancel my order now and refund me.", "cancellation"),
    ("I want my money back for this order.", "cancellation"),
    ("The parcel arrived damaged, again.", "complaint"),
    ("Please take me off your mailing list.", "unsubscribe"),
    ("Stop sending me emails.", "unsubscribe"),
    ("I'm out of the office until 12 June.", "out_of_office"),
    ("How can I change the delivery address on my account?", "support"),
    ("Hello", None),
]


@pytest.fixture(scope="module")
def matcher() -> IntentMatcher:
    return IntentMatcher(CONFIG)


def test_intents_from_examples(matcher: IntentMatcher) -> None:
    found = matcher.match([text for text, _ in CASES])
    hits = 0
    for (text, expected), matches in zip(CASES, found, strict=True):
        names = [m.name for m in matches]
        if expected is None:
            assert names == [], text
            hits += 1
        elif names and names[0] == expected:
            hits += 1
        for m in matches:
            assert CONFIG.threshold <= m.confidence <= 1.0
            assert m.phrase in text
    # zero-shot from a handful of examples: most, not all
    assert hits >= 9, found


def test_multi_label_with_the_phrase_of_each(matcher: IntentMatcher) -> None:
    (matches,) = matcher.match(["How much would it cost? Also, can we do a call on Friday?"])
    by_name = {m.name: m for m in matches}
    assert {"pricing", "meeting"} <= set(by_name)
    assert by_name["pricing"].phrase == "How much would it cost?"
    assert by_name["meeting"].phrase.startswith("Also, can we do a call")


def test_entities() -> None:
    found = entities(
        "Cancel order #A-12345 and refund the $1,089.90 (or 20 EUR) for the Blue Mug.",
        ["Blue Mug", "Red Mug", "Mug"],
    )
    assert found.orders == ("A-12345",)
    assert found.amounts == ((1089.90, "USD"), (20.0, "EUR"))
    assert found.products == ("Blue Mug", "Mug")
    assert entities("Hello there").orders == ()
    assert entities_text(found) == (
        "Order A-12345; 1,089.90 USD; 20.00 EUR; Products Blue Mug, Mug"
    )
    assert entities_text(entities("Hello there", ["Mug"])) is None
    # whole words only, any case, punctuation between a name's words ignored
    catalogue = ["T-Shirt (L)", "Mug", "Tea Pot"]
    assert entities("two t shirt L and a mugs, a TEA-POT", catalogue).products == (
        "T-Shirt (L)",
        "Tea Pot",
    )


def test_config_errors_name_the_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "texts.yaml"
    bad.write_text(
        "intents:\n  - name: Pricing\n    label: Pricing\n    event: E\n    examples: [a]\n",
        encoding="utf-8",
    )
    with pytest.raises(MappingError) as caught:
        load_yaml_model(bad, TextsConfig)
    assert "texts.yaml:2" in str(caught.value)


def test_committed_schema_matches_the_settings() -> None:
    committed = (REPO / "models" / SCHEMA_FILE).read_text(encoding="utf-8")
    assert committed == render(), (
        "models/texts.schema.json drifted: python -m connector.texts.text_schema"
    )
