"""localorg's own CLI functions, without the connector: their usage errors and progress sink."""

from __future__ import annotations

from pathlib import Path

import pytest

from localorg.cli import LocalOrgUsageError, seed, serve


class Recorder:
    """A progress sink that keeps what it hears."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.done_calls = 0

    def __call__(self, message: str) -> None:
        self.messages.append(message)

    def done(self) -> None:
        self.done_calls += 1


def test_seed_refuses_a_folder_that_holds_an_org(tmp_path: Path) -> None:
    (tmp_path / "org.sqlite").write_bytes(b"")
    with pytest.raises(LocalOrgUsageError, match="already holds an org"):
        seed(size="small", data_dir=tmp_path, rng_seed=7)
    assert (tmp_path / "org.sqlite").read_bytes() == b""


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("UNABLE_TO_LOCK_ROW=often", "UNABLE_TO_LOCK_ROW must be a rate between 0 and 1"),
        ("UNABLE_TO_LOCK_ROW=1.5", "rate of UNABLE_TO_LOCK_ROW must be between 0 and 1"),
        ("seed=x", "seed must be an integer"),
        ("seed=1.5", "seed must be an integer"),
        ("latency=fast", "'fast' is not a duration"),
        ("lock", "has no '='"),
        ("jitter=1", "unknown fault 'jitter'"),
    ],
)
def test_serve_refuses_a_bad_fault_spec_before_starting(
    tmp_path: Path, spec: str, message: str
) -> None:
    with pytest.raises(LocalOrgUsageError, match=message):
        serve(
            host="127.0.0.1",
            port=0,
            size="none",
            data_dir=tmp_path / "org",
            faults=spec,
            daily_limit=100,
            flows_file=None,
        )
    assert not (tmp_path / "org").exists()


def test_seed_reports_progress_and_what_it_wrote(tmp_path: Path) -> None:
    heard = Recorder()
    written = seed(size="small", data_dir=tmp_path / "org", rng_seed=1, progress=heard)
    assert written["size"] == "small"
    assert written["rows"]["Contact"] == 2_000
    assert (tmp_path / "org" / "org.sqlite").exists()
    assert (tmp_path / "org" / "truth" / "customers.csv").exists()
    assert heard.messages
    assert all(m.startswith("seeding small: ") for m in heard.messages)
    assert heard.messages[-1] == f"seeding small: {sum(written['rows'].values()):,} rows"
    assert heard.done_calls == 1


def test_serve_refuses_a_flow_source_it_cannot_run_before_starting(tmp_path: Path) -> None:
    flows = tmp_path / "salesforce" / "flows"
    flows.mkdir(parents=True)
    (flows / "L2L_Screen.flow-meta.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<Flow xmlns="http://soap.sforce.com/2006/04/metadata">\n'
        "    <processType>Flow</processType>\n"
        "</Flow>\n",
        encoding="utf-8",
    )
    with pytest.raises(LocalOrgUsageError, match="L2L_Screen: processType Flow"):
        serve(
            host="127.0.0.1",
            port=0,
            size="none",
            data_dir=tmp_path / "org",
            faults="",
            daily_limit=100,
            flows_file=None,
            flows_source=tmp_path / "salesforce",
        )
    assert not (tmp_path / "org").exists()
