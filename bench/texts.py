"""Benchmark: messages scored per second on one core, the VADER lexicon beside the default
model (TF-IDF + VADER logistic head), plus the intents of models/texts.yaml and the whole
per-message path (clean, sentiment, intents).

The messages are the held-out rated sentences of tests/fixtures/texts (tweets and product
review snippets, 10-40 words: reply-sized), repeated to --messages. BLAS is held to one thread
so the figure is per core. Prints each rate, its ratio to the lexicon measured in the same
run, and the time 100,000 messages would take at that rate.

    .venv/bin/python bench/texts.py [--messages 20000]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

from connector.mapping import load_yaml_model
from connector.texts.clean import message_text
from connector.texts.message_intents import IntentMatcher
from connector.texts.sentiment import LexiconSentiment, default_model
from connector.texts.text_config import TextsConfig
from connector.texts.training import read_rated

REPO = Path(__file__).resolve().parent.parent


def rate(label: str, work: object, texts: list[str]) -> float:
    """Messages per second of ``work(texts)``, best of two runs."""
    best = float("inf")
    for _ in range(2):
        started = time.perf_counter()
        work(texts)  # type: ignore[operator]
        best = min(best, time.perf_counter() - started)
    per_second = len(texts) / best
    print(f"  {label:<34} {per_second:10,.0f} msg/s  100,000 in {100_000 / per_second:6.1f} s")
    return per_second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    args = parser.parse_args()
    rated = read_rated(REPO / "tests" / "fixtures" / "texts")
    held_out = rated[rated["split"] == "test"]["text"].astype(str).tolist()
    texts = (held_out * (args.messages // len(held_out) + 1))[: args.messages]
    config = load_yaml_model(REPO / "models" / "texts.yaml", TextsConfig)
    lexicon, linear = LexiconSentiment(), default_model()
    matcher = IntentMatcher(config)
    linear.score(texts[:10])  # load and warm up outside the clock

    def whole(batch: list[str]) -> None:
        cleaned = [message_text(None, text) for text in batch]
        linear.score(cleaned)
        matcher.match(cleaned)

    print(f"{len(texts):,} messages, one core")
    with threadpool_limits(limits=1):
        base = rate("VADER lexicon (baseline)", lexicon.score, texts)
        model = rate("default model (linear)", linear.score, texts)
        intents = rate("intents (models/texts.yaml)", matcher.match, texts)
        path = rate("clean + default + intents", whole, texts)
    print(
        f"  ratios to the lexicon: default {model / base:.2f}x, intents {intents / base:.2f}x, "
        f"whole path {path / base:.2f}x"
    )


if __name__ == "__main__":
    main()
