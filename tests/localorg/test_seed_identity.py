"""The seed generator's output is byte-identical for a given seed and size.

The hashes below were recorded from the generator as it stood before it was split into modules
(``localorg/seed.py``, one class), so this test proves the split changed nothing: every file it
writes and every batch of rows it yields, per object, in order.

``events.jsonl`` is written with ``json.dumps`` now, which writes a float in its shortest form
(``25.4``); the generator pads prices back to the two decimals the file always had (``25.40``),
so that file is byte-identical too.

Run this module as a script to print the fingerprint of any size (medium is checked by hand):

    .venv/bin/python -m tests.localorg.test_seed_identity medium 7
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest

from localorg.ids import IdFactory
from localorg.seed import generate

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
OWNER = IdFactory(pod="9z").new("User")


def fingerprint(size: str, rng_seed: int, out: Path) -> dict[str, str]:
    """sha256 of every file the generator writes and of the rows it yields per object.

    Rows are hashed as JSON with their key order, batch boundaries and number types (``1`` and
    ``1.0`` differ; floats by their shortest repr), so any change a loader could see shows.
    """
    rows: dict[str, hashlib._Hash] = defaultdict(hashlib.sha256)
    for obj, batch in generate(size, out, IdFactory(), owner_id=OWNER, now=NOW, rng_seed=rng_seed):
        rows[obj].update(json.dumps(batch, separators=(",", ":")).encode() + b"\n")
    found = {f"rows:{obj}": digest.hexdigest() for obj, digest in rows.items()}
    for path in sorted(out.rglob("*")):
        if path.is_file():
            found[f"file:{path.relative_to(out).as_posix()}"] = _sha256(path.read_bytes())
    return dict(sorted(found.items()))


# Recorded from the one-class generator (commit 53170a4) before the split: "what sha256" lines.
RECORDED = {
    7: """
d2fd53e04c4dc4037d5450c62ec160e2b8faf2a7bf6f72910a80f6cc0cd965db file:events.jsonl
3e95f33ab78f6df611d3fe836f20ee1f967a01ea9282b8c5e611aa39a3517974 file:truth/customers.csv
e21a79427a54706c3721251beea9734664568f6635cb09457aabc66642977987 file:truth/leads.csv
92a572cf5c7fda786a27d1ee99d37d30d0e2d0ae0b62f89463cd726e3ec20c80 file:truth/params.json
0d77d85a8e2a2f17e593baf7ee3454bca8f60e1e089190e632e863273a81da63 file:truth/replies.csv
2256f379de331b7d2659d86275e22355f2a0cc291af54c1ab750a8b75d713109 rows:Account
69f4b2a2368f3358db7abcd2b64370c2c569d4fcdae99d5e8decbd97b8462fc5 rows:Contact
48cb8a4f1ac7e21cbf892655410f8e3080a708472bf8695df8df5c04132e08b5 rows:EmailMessage
3d3b6cfcc5891a9c034e17ca0d17021d4f098011cb7e707ae3c347a7f6bf0765 rows:Lead
ab026327d0bd413850c23db4fa69163fbc9f822cfa2c0a9c41383af47e57da02 rows:Order
f5eb3745bc08e8e0328edcf25fc5dd70a8a92629329c0dbce1736efdec9209ed rows:OrderItem
00581f19a5a415392a1a231d8b722417c6e0fe122daaece77318cb5028a5bf05 rows:Product2
e393a6fb971536ddf35152364f1e5774dbc142503c232456f659ec833c6e6839 rows:Task
""",
    1: """
77f9ae1ee1fe56f595c624b7a2fd57a44bbd99913628f9bf527ccac189a515d5 file:events.jsonl
8472fb4b8c155b914e2bbc13fe15d474da8f6403902842fcc7cc05abc7dc2fa3 file:truth/customers.csv
295faf65fb8b9bc2b697c9126158eca36b987e49cfa1ff349bd4b331f18725b1 file:truth/leads.csv
66e2779aa0f4e64a3585925ae4dab143caba3678cbb0b21ef4e294690704f53c file:truth/params.json
45080c55b8806afb844e02e63c8dc7a0d63f7f3c847484e976fe0221cdf0bc63 file:truth/replies.csv
b3e92b138941069bfdfdbb898d0c411f6661c052e88a3958616b1916c4d6ae7d rows:Account
9b5b904a6c2fcc743b2849745b41abeee0d1d4a292f3ed70a62c7a22d0991586 rows:Contact
42b18c036c6c214ddfa5559a900571feefb5ccf45187b87e3ee2121d563c5c60 rows:EmailMessage
f01f5685de16ab1c75108a4a97704f12efeb7ad9df5b38b6917c404ead9bca09 rows:Lead
7fe8e98b69ca241633dd803b1d50bf53043613c7912ede106478421ad7235ee6 rows:Order
21e5932ab3656b8c8cfd7761ae3397c808d49131942b018e26ae10bc63297486 rows:OrderItem
ebdc1f75874f9120e2f72174dd5322492c6e6b18eb77b9bb323c84e2786c64a7 rows:Product2
754f6e94919f6a4cb6124da11abcfab7712c136d1f1f47afe91843914fcc2e6c rows:Task
""",
}
BEFORE = {
    seed: dict(reversed(line.split()) for line in text.split("\n") if line)
    for seed, text in RECORDED.items()
}
PRICE = re.compile(r'"price":\d+\.\d\d[,}]')


@pytest.mark.parametrize("rng_seed", sorted(BEFORE))
def test_small_seed_is_byte_identical(rng_seed: int, tmp_path: Path) -> None:
    # Every file and every row, events.jsonl included (prices keep their two decimals).
    assert fingerprint("small", rng_seed, tmp_path) == BEFORE[rng_seed]
    events = (tmp_path / "events.jsonl").read_text(encoding="utf-8")
    assert PRICE.search(events) is not None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


if __name__ == "__main__":
    import tempfile

    size, seed = sys.argv[1], int(sys.argv[2])
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(fingerprint(size, seed, Path(tmp)), indent=4))
