"""Benchmark: messages scored per second on one core, the VADER lexicon beside the default
model (TF-IDF + VADER logistic head), plus the intents of models/texts.yaml (zero-shot by
n-grams, by the LSA embedding, and with a classifier learnt from tests/fixtures/intents), the
entities against a 1,000-product catalogue, and the whole per-message path (clean, sentiment,
intents, entities).

The messages are the held-out rated sentences of tests/fixtures/texts (tweets and product
review snippets, 10-40 words: reply-sized), repeated to --messages. BLAS is held to one thread
so the figure is per core. Prints each rate, its ratio to the lexicon measured in the same
run, the time 100,000 messages would take at that rate, CPU seconds beside wall seconds and the
load average (the machine is shared).

    .venv/bin/python bench/texts.py [--messages 20000]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

from connector.mapping import load_yaml_model
from connector.reports.texts import fit_intent_classifier, labelled_intents_csv
from connector.texts.clean import message_text
from connector.texts.embedding import shipped_embedding
from connector.texts.message_intents import IntentMatcher, entities, entities_text
from connector.texts.sentiment import LexiconSentiment, default_model
from connector.texts.text_config import TextsConfig
from connector.texts.training import read_rated

REPO = Path(__file__).resolve().parent.parent
ADJECTIVES = [f"{c}{v}" for c in "bcdfghjklmnprstvwz" for v in ("ari", "ello", "umo")]
NOUNS = [f"{w} {n}" for w in ("mug", "lamp", "bag", "kit", "pot") for n in ("one", "pro", "xl")]


def rate(label: str, work: object, texts: list[str]) -> float:
    """Messages per second of ``work(texts)`` (wall clock), best of two runs; CPU seconds of
    that run beside it."""
    best, cpu = float("inf"), 0.0
    for _ in range(2):
        started, cpu_started = time.perf_counter(), time.process_time()
        work(texts)  # type: ignore[operator]
        wall = time.perf_counter() - started
        if wall < best:
            best, cpu = wall, time.process_time() - cpu_started
    per_second = len(texts) / best
    print(
        f"  {label:<34} {per_second:10,.0f} msg/s  100,000 in {100_000 / per_second:6.1f} s"
        f"  (wall {best:.2f} s, CPU {cpu:.2f} s)"
    )
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
    lsa = IntentMatcher(
        config.model_copy(update={"similarity": "lsa"}), embedding=shipped_embedding()
    )
    written = REPO / "tests" / "fixtures" / "intents" / "intents_written.csv"
    labelled, labels, _ = labelled_intents_csv(written, config, "text", "intents")
    learnt = IntentMatcher(config, fit_intent_classifier(config, labelled, labels))
    catalogue = [f"{a} {b}" for a in ADJECTIVES for b in NOUNS][:1000]
    linear.score(texts[:10])  # load and warm up outside the clock

    def named(batch: list[str]) -> None:
        for text in batch:
            entities_text(entities(text, catalogue))

    def whole(batch: list[str]) -> None:
        cleaned = [message_text(None, text) for text in batch]
        linear.score(cleaned)
        learnt.match(cleaned)
        named(cleaned)

    print(f"{len(texts):,} messages, one core; load average {os.getloadavg()[0]:.1f}")
    with threadpool_limits(limits=1):
        base = rate("VADER lexicon (baseline)", lexicon.score, texts)
        model = rate("default model (linear)", linear.score, texts)
        intents = rate("intents, zero-shot n-grams", matcher.match, texts)
        rate("intents, zero-shot LSA", lsa.match, texts)
        rate("intents, learnt classifier", learnt.match, texts)
        rate("entities (1,000 products)", named, texts)
        path = rate("clean + default + learnt + entities", whole, texts)
    print(
        f"  ratios to the lexicon: default {model / base:.2f}x, intents {intents / base:.2f}x, "
        f"whole path {path / base:.2f}x"
    )


if __name__ == "__main__":
    main()
