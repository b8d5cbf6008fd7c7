"""The project folder an admin edits, and the defaults lead2loyalty ships to start one.

A project folder (what ``lead2loyalty init DIR`` writes, like a dbt or Heroku starter) holds:

- ``mappings/``: which computed value lands in which Salesforce field (``mappings --example``);
- ``models/``: the models' settings (intent signals, predictions, loyalty programs...);
- ``salesforce/``: SFDX source of the fields and permission sets (``fields export`` rewrites it);
- ``Procfile``: the three processes (``web``, ``worker``, ``clock``);
- ``.env.example``: the settings an admin sets, to copy to ``.env``;
- ``README.md``: what to do next; ``.gitignore``: keeps ``.env`` and the database out of git.

Where the defaults come from (:func:`defaults_root`):

1. An installed wheel carries them as package data in ``connector/defaults/``, copied from the
   repository's top-level folders when the wheel is built (``setup.py``'s ``build_py``).
2. A checkout of the repository (an editable install, ``make demo``, the tests) has no
   ``connector/defaults/``: its top-level folders are the defaults. They stay the one source
   because ``fields export`` writes ``salesforce/`` there and the tests check that copy.

Rules of :func:`init_project`:

1. Every file of the defaults is written under DIR at the same relative path.
2. A file that exists is never overwritten unless ``force``; without it, nothing is written
   at all and the error names every file in the way (an admin's edits are never lost).
3. ``--force`` overwrites the shipped files only; other files in DIR are left alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from connector.errors import ConfigError

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
#: What a project folder holds, as shipped: folders first, then single files.
DEFAULT_ITEMS = ("mappings", "models", "salesforce", "Procfile", ".env.example")
# Local litter in a checkout's folders, never copied (setup.py skips the same when it builds).
_SKIP_SUFFIXES = (".pyc",)
_SKIP_PARTS = ("__pycache__", ".sfdx", ".sf", "node_modules", ".localdevserver")

PROJECT_README = """\
# lead2loyalty project

Written by `lead2loyalty init`. Edit these files, keep them in git, and run `lead2loyalty` from
this folder: it reads `mappings/` and `models/` here (or the folders `L2L_MAPPINGS_DIR` and
`L2L_MODELS_DIR` name).

- `mappings/`: which computed value lands in which Salesforce field;
  `lead2loyalty mappings --example` explains the format, `lead2loyalty values` lists the values.
- `models/`: the models' settings: intent signals, lead conversion, predictions, loyalty.
- `salesforce/`: SFDX source of the fields and permission sets; `lead2loyalty fields export`
  rewrites it from `mappings/`.
- `Procfile`: the three processes: `web` (webhook intake), `worker` (real time), `clock`
  (scheduled syncs).
- `.env.example`: the settings to set; copy it to `.env` (never commit `.env`).

Next steps:

```sh
lead2loyalty demo                 # the whole product against a local org, nothing to set up
cp .env.example .env              # then fill in your org's sign-in
lead2loyalty validate             # check mappings/ and models/ (and the org's fields)
lead2loyalty doctor               # check the org and the integration user, step by step
lead2loyalty fields deploy        # create the mapped fields and the permission sets
lead2loyalty sync                 # one run; the Procfile's clock runs them on schedule
```
"""

PROJECT_GITIGNORE = """\
# Written by `lead2loyalty init`: secrets and state stay out of git.
.env
var/
*.sqlite
*.sqlite-wal
*.sqlite-shm
*.sqlite.lock
"""


def defaults_root() -> Path:
    """The folder holding the shipped defaults (see the module docstring for which)."""
    packaged = PACKAGE_DIR / "defaults"
    if (packaged / "mappings").is_dir():
        return packaged
    if (REPO_ROOT / "mappings").is_dir() and (REPO_ROOT / "pyproject.toml").is_file():
        return REPO_ROOT
    raise ConfigError(
        f"the defaults shipped with lead2loyalty are missing (no {packaged}); reinstall it "
        "from its wheel, or set L2L_MAPPINGS_DIR and L2L_MODELS_DIR"
    )


def project_dir(name: str) -> Path:
    """``name`` (``mappings`` or ``models``) of the project in the working folder when it has
    one, else the shipped default; the default of the settings of that name."""
    here = Path(name)
    if here.is_dir():
        return here.resolve()
    try:
        return defaults_root() / name
    except ConfigError:
        # Settings must load even so; the loader then names the missing folder and the fix.
        return here.resolve()


def default_files(root: Path | None = None) -> Iterator[Path]:
    """Every shipped file, relative to the defaults' root, in a stable order."""
    base = root or defaults_root()
    for item in DEFAULT_ITEMS:
        path = base / item
        if path.is_file():
            yield Path(item)
        elif path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                rel = file.relative_to(base)
                if rel.suffix in _SKIP_SUFFIXES or any(p in _SKIP_PARTS for p in rel.parts):
                    continue
                yield rel


def init_project(directory: Path, *, force: bool = False) -> list[Path]:
    """Write a project folder at ``directory`` (created if missing); the files written,
    relative to it. Refuses, writing nothing, when a file exists and ``force`` is off."""
    root = defaults_root()
    plan: list[tuple[Path, bytes]] = [
        (rel, (root / rel).read_bytes()) for rel in default_files(root)
    ]
    plan.append((Path("README.md"), PROJECT_README.encode("utf-8")))
    plan.append((Path(".gitignore"), PROJECT_GITIGNORE.encode("utf-8")))
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"{directory} is a file; name a folder for the project")
    folders = [rel for rel, _ in plan if (directory / rel).is_dir()]
    files = [p for rel, _ in plan for p in rel.parents if (directory / p).is_file()]
    if files:
        raise ConfigError(f"{directory / files[0]} is a file where lead2loyalty writes a folder")
    if folders:
        raise ConfigError(
            f"{directory / folders[0]} is a folder where lead2loyalty writes a file; move it"
        )
    in_the_way = [rel for rel, _ in plan if (directory / rel).exists()]
    if in_the_way and not force:
        shown = ", ".join(str(p) for p in in_the_way[:5])
        more = f" and {len(in_the_way) - 5} more" if len(in_the_way) > 5 else ""
        raise ConfigError(
            f"{directory} already has {shown}{more}; nothing was written. Pick an empty "
            "folder, or add --force to overwrite the shipped files (your other files stay)"
        )
    for rel, content in plan:
        target = directory / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return [rel for rel, _ in plan]
