"""Ordinary bad input never prints a traceback: one clear line and a non-zero exit.

One table of inputs a new user meets on the first day, walked through the real entry point
(``connector.cli:main``, whose root group handles every error in one place).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.store import Store


def _orders_csv(path: Path, customers: int, *, bom: bool = False, amount: str = "20") -> Path:
    """`customers` buyers with a few orders each across 2025."""
    lines = ["customer_id,ordered_at,amount"]
    for c in range(customers):
        for k in range(1 + c % 4):
            day = date(2025, 1, 3) + timedelta(days=(c * 7 + k * 53) % 330)
            lines.append(f"c{c},{day.isoformat()},{amount if k == 0 else 15 + c % 9}")
    text = "\n".join(lines) + "\n"
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode())
    return path


def _events(path: Path) -> Path:
    def message(n: int, email: str) -> bytes:
        return json.dumps(
            {
                "type": "track",
                "event": "Product Viewed",
                "messageId": f"m{n}",
                "timestamp": "2026-01-02T03:04:05Z",
                "context": {"traits": {"email": email}},
            },
            ensure_ascii=False,
        ).encode()

    # Line 2 was written in Latin-1 by some other tool: one bad byte.
    bad = message(2, "jos\u00e9@example.com").decode().encode("latin-1")
    path.write_bytes(b"\n".join([message(1, "a@example.com"), bad, message(3, "c@example.com")]))
    return path


@dataclass
class Case:
    """One command line, the environment it runs in, and what it must say."""

    name: str
    args: Callable[[Path], list[str]]
    env: Callable[[Path], dict[str, str]] = lambda tmp: {}
    says: tuple[str, ...] = ()
    code: int = 1
    stdout: tuple[str, ...] = field(default_factory=tuple)


EVAL = ["evaluate", "predictions", "--calibration-end", "2025-07-01", "--holdout-end", "2025-12-31"]

CASES = [
    Case(
        "ca bundle that does not exist",
        lambda tmp: ["status"],
        lambda tmp: {"L2L_SALESFORCE_CA_BUNDLE": str(tmp / "nowhere.pem")},
        ("L2L_SALESFORCE_CA_BUNDLE", "nowhere.pem", "not a file"),
    ),
    Case(
        "login url without https://",
        lambda tmp: ["sync"],
        lambda tmp: {"L2L_SALESFORCE_LOGIN_URL": "yourcompany.my.salesforce.com"},
        ("L2L_SALESFORCE_LOGIN_URL", "https://"),
    ),
    Case(
        "login url over http",
        lambda tmp: ["config"],
        lambda tmp: {"L2L_SALESFORCE_LOGIN_URL": "http://yourcompany.my.salesforce.com"},
        ("L2L_SALESFORCE_LOGIN_URL", "https://"),
    ),
    Case(
        "client credentials on the shared login host",
        lambda tmp: ["sync"],
        lambda tmp: {
            "L2L_SALESFORCE_LOGIN_URL": "https://login.salesforce.com",
            "L2L_SALESFORCE_CLIENT_ID": "3MVG9x",
            "L2L_SALESFORCE_CLIENT_SECRET": "s3cret-not-to-print",
        },
        ("My Domain", "L2L_SALESFORCE_LOGIN_URL"),
    ),
    Case(
        "database path that is a directory",
        lambda tmp: ["status"],
        lambda tmp: {"L2L_DATABASE": str(tmp)},
        ("is a directory", "L2L_DATABASE"),
    ),
    Case(
        "database path under a file",
        lambda tmp: ["runs"],
        lambda tmp: {"L2L_DATABASE": str(_file(tmp / "plain") / "l2l.sqlite")},
        ("is a file", "L2L_DATABASE"),
    ),
    Case(
        "database path nobody can create",
        lambda tmp: ["status"],
        lambda tmp: {"L2L_DATABASE": "/proc/no-such-place/l2l.sqlite"},
        ("cannot open the database", "L2L_DATABASE"),
    ),
    Case(
        "evaluate with one customer",
        lambda tmp: [*EVAL, "--orders", str(_orders_csv(tmp / "one.csv", 1))],
        says=("1 customer", "at least 10"),
    ),
    Case(
        "evaluate with three customers",
        lambda tmp: [*EVAL, "--orders", str(_orders_csv(tmp / "three.csv", 3))],
        says=("3 customer", "at least 10"),
    ),
    Case(
        "orders csv with only a header",
        lambda tmp: [*EVAL, "--orders", str(_orders_csv(tmp / "empty.csv", 0))],
        says=("no orders",),
    ),
    Case(
        "orders csv with a negative amount",
        lambda tmp: [*EVAL, "--orders", str(_orders_csv(tmp / "neg.csv", 12, amount="-5"))],
        says=("negative amount", "line(s) 2"),
    ),
    Case(
        "orders csv that is not UTF-8",
        lambda tmp: [*EVAL, "--orders", str(_latin1_csv(tmp / "latin.csv"))],
        says=("not UTF-8",),
    ),
    Case(
        "empty mappings folder",
        lambda tmp: ["validate", "--offline"],
        lambda tmp: {"L2L_MAPPINGS_DIR": str(_folder(tmp / "empty-mappings"))},
        stdout=("no mapping files", "L2L_MAPPINGS_DIR", "1 problems"),  # validate's report
    ),
    Case(
        "empty mappings folder, sync",
        lambda tmp: ["sync"],
        lambda tmp: {"L2L_MAPPINGS_DIR": str(_folder(tmp / "empty-mappings"))},
        ("no mapping files",),
    ),
    Case(
        "import of a folder",  # click's own usage error: exit 2, one Error line after usage
        lambda tmp: ["import", str(tmp)],
        says=("is a directory",),
        code=2,
    ),
    Case(
        "events file with one non-UTF-8 line",
        lambda tmp: ["import", str(_events(tmp / "events.jsonl"))],
        says=(),
        stdout=("stored 2", "rejected 1", "events.jsonl:2: not UTF-8"),
    ),
]


def _file(path: Path) -> Path:
    path.write_text("not a folder", encoding="utf-8")
    return path


def _folder(path: Path) -> Path:
    path.mkdir(exist_ok=True)
    return path


def _latin1_csv(path: Path) -> Path:
    path.write_bytes("customer_id,ordered_at,amount\nJos\u00e9,2025-01-01,5\n".encode("latin-1"))
    return path


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_ordinary_bad_input_is_one_line_and_a_nonzero_exit(
    case: Case, env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "case"
    work.mkdir()
    given = case.env(work)
    if "L2L_DATABASE" in given:
        # A case about a bad SQLite path names its store itself: not beside the PostgreSQL
        # store of L2L_TEST_BACKEND (both set is an error of its own, tests/test_store_postgres.py).
        monkeypatch.delenv("DATABASE_URL", raising=False)
    for name, value in given.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(main, case.args(work))
    # No exception escaped the root group, and none was printed.
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output + result.stderr
    assert result.exit_code == case.code, result.output + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    if case.says:
        assert len(errors) == 1, result.stderr
        for text in case.says:
            assert text in errors[0], errors[0]
    for text in case.stdout:
        assert text in result.stdout, result.stdout
    assert "s3cret-not-to-print" not in result.output + result.stderr


@pytest.mark.slow
def test_an_orders_csv_with_a_byte_order_mark_reads(env: Path, tmp_path: Path) -> None:
    plain = _orders_csv(tmp_path / "plain.csv", 40)
    marked = _orders_csv(tmp_path / "bom.csv", 40, bom=True)
    assert marked.read_bytes().startswith(b"\xef\xbb\xbf")
    outputs = []
    for path in (plain, marked):
        result = CliRunner().invoke(main, [*EVAL, "--orders", str(path), "--json"])
        assert result.exit_code == 0, result.output + result.stderr
        outputs.append(json.loads(result.stdout))
    assert outputs[0]["customers"] == outputs[1]["customers"] >= 30
    assert outputs[0]["models"] == outputs[1]["models"]


def test_the_good_lines_of_an_events_file_with_a_bad_line_are_stored(
    env: Path, tmp_path: Path
) -> None:
    result = CliRunner().invoke(main, ["import", str(_events(tmp_path / "e.jsonl")), "--json"])
    assert result.exit_code == 1  # something was rejected: said, and the exit code shows it
    out = json.loads(result.stdout)
    assert (out["read"], out["stored"], out["rejected"]) == (3, 2, 1)
    column = (tmp_path / "e.jsonl").read_bytes().split(b"\n")[1].index(b"\xe9") + 1
    assert out["problems"] == [
        f"{tmp_path / 'e.jsonl'}:2: not UTF-8 text (byte 0xe9 at column {column})"
    ]
    emails = set(Store(env).events.frame()["email"])
    assert emails == {"a@example.com", "c@example.com"}
