"""The CLI teaches: every command has help with an example and is named in the README."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from connector.cli import main

REPO = Path(__file__).resolve().parent.parent


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    out = []
    for name, command in group.commands.items():
        full = f"{prefix}{name}"
        out.append((full, command))
        if isinstance(command, click.Group):
            out.extend(_commands(command, full + " "))
    return out


@pytest.mark.parametrize(("name", "command"), _commands(main))
def test_every_command_has_help_with_an_example(name: str, command: click.Command) -> None:
    result = CliRunner().invoke(main, [*name.split(), "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output, f"`{name} --help` shows no example"
    assert command.help
    assert command.help.strip()


@pytest.mark.parametrize("name", [n for n, c in _commands(main) if not isinstance(c, click.Group)])
def test_every_command_is_in_the_readme(name: str) -> None:
    assert f"lead2loyalty {name}" in (REPO / "README.md").read_text(encoding="utf-8")


def test_serve_prints_one_json_line_and_the_readme_snippet_queries_it(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "connector.cli",
            "localorg",
            "serve",
            "--seed",
            "small",
            "--data",
            str(tmp_path / "org"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        for key in (
            "instance_url",
            "login_url",
            "client_id",
            "client_secret",
            "username",
            "ca_cert",
            "admin_client_id",
            "admin_client_secret",
        ):
            assert info[key]
        assert info["api_user"] == "admin"  # the default keeps the demo's full access
        (tmp_path / "org.json").write_text(json.dumps(info), encoding="utf-8")
        readme = (REPO / "README.md").read_text(encoding="utf-8")
        snippet = re.search(r"```python\n(.*?)```", readme, re.S)
        assert snippet is not None
        code = snippet.group(1)
        assert len([line for line in code.splitlines() if line.strip()]) <= 14
        result = subprocess.run(
            [sys.executable, "-c", code],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert "'attributes'" in result.stdout
        assert "Contact" in result.stdout
    finally:
        proc.terminate()
        proc.communicate(timeout=60)


def test_library_errors_are_one_clean_line(tmp_path: Path) -> None:
    (tmp_path / "org").mkdir()
    (tmp_path / "org" / "org.sqlite").write_text("", encoding="utf-8")
    result = CliRunner().invoke(main, ["localorg", "seed", "--data", str(tmp_path / "org")])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "already holds an org" in result.output
