"""`make demo`'s command, run as a user runs it: a process of its own, a clean environment."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_demo_writes_fields_then_a_second_sync_writes_nothing(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("L2L_")}
    done = subprocess.run(
        [sys.executable, "-m", "connector.cli", "demo", "--keep", str(tmp_path / "demo")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stdout + done.stderr
    first = re.search(r"^first sync: succeeded .* (\d[\d,]*) records written", done.stdout, re.M)
    assert first, done.stdout
    assert int(first.group(1).replace(",", "")) > 1_000
    assert "predictions computed with: learned" in done.stdout
    assert re.search(r"^  \S+ \S+ +orders +\d+ +revenue", done.stdout, re.M)  # a customer row
    # what the numbers mean, in words, with their currency and horizons
    clv = "CLV = the 35% margin on what a customer is expected to spend in the next 12 months"
    assert f"{clv}, in USD" in done.stdout
    churn = r"^churn risk = the chance of no order in the next \d+ days"
    assert re.search(churn, done.stdout, re.M)
    assert "revenue (USD)" in done.stdout
    assert "who turned hot: an Intent Score reaching 4.0" in done.stdout
    # the five hottest Leads with their score and the reasons a rep reads
    assert "the five hottest Leads, as Salesforce now shows them" in done.stdout
    hot = re.findall(r"^  \S+ \S+ +(\d\.\d)  fit +\S+  (\w[^|]* [+-]\d\.\d)", done.stdout, re.M)
    assert len(hot) == 5, done.stdout
    assert [float(s) for s, _ in hot] == sorted((float(s) for s, _ in hot), reverse=True)
    assert "lead conversion score: not written: not enough data" in done.stdout  # small: gated
    assert re.search(
        r"^second sync \(no new data\): succeeded .* 0 field values changed, 0 records written",
        done.stdout,
        re.M,
    ), done.stdout
    # progress goes to stderr, one line per step when not on a terminal
    assert "pull Order: " in done.stderr
    assert "\r" not in done.stderr
