"""Train the shipped default sentiment model from the public rated sets and write it as JSON.

    python -m connector.texts.training tests/fixtures/texts connector/texts/sentiment_model.json

Reads every ``*.csv`` with columns ``text``, ``label``, ``split`` in the folder (the VADER authors'
tweets and Amazon review snippets, see tests/fixtures/texts/PROVENANCE.md) and fits on the
``train`` rows only; the ``test`` rows are what ``evaluate texts`` reports on.

Measured (``lead2loyalty evaluate texts``, held-out rows; VADER at its README thresholds):

- tweets (1,237 rows): linear macro-F1 0.733, VADER 0.672
- Amazon review snippets (1,104 rows): linear 0.640, VADER 0.566
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

from connector.texts.sentiment import LinearSentiment


def read_rated(folder: Path) -> pd.DataFrame:
    """Every rated CSV in ``folder`` as one frame with a ``set`` column (the file's stem)."""
    frames = [
        pd.read_csv(path, keep_default_na=False).assign(set=path.stem)
        for path in sorted(folder.glob("*.csv"))
    ]
    if not frames:
        raise FileNotFoundError(f"no rated *.csv in {folder}")
    return pd.concat(frames, ignore_index=True)


def train_default(folder: Path) -> LinearSentiment:
    """The default model, fitted on the ``train`` rows of every rated set in ``folder``."""
    rated = read_rated(folder)
    train = rated[rated["split"] == "train"]
    return LinearSentiment().fit(train["text"].astype(str).tolist(), train["label"].tolist())


def main(argv: list[str] | None = None) -> int:
    """Train from the folder in argv[0] and write the JSON model to argv[1]."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m connector.texts.training RATED_FOLDER OUT.json", file=sys.stderr)
        return 2
    model = train_default(Path(args[0]))
    Path(args[1]).write_text(json.dumps(model.to_dict(), separators=(",", ":")) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
