"""Build hook: the wheel carries the project defaults as package data in connector/defaults/.

The repository's top-level mappings/, models/, salesforce/, Procfile and .env.example stay the one
source (``fields export`` writes salesforce/ there, and ``make demo`` and the tests read them);
building the wheel copies them into the package, so an installed lead2loyalty can run ``demo``
and ``init`` with no repository around. Everything else is in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
DEFAULT_ITEMS = ("mappings", "models", "salesforce", "Procfile", ".env.example")
# Local litter never shipped: caches, the Salesforce CLI's state, an LWC test runner's packages.
IGNORED = ("__pycache__", "*.pyc", ".sfdx", ".sf", "node_modules", ".localdevserver")


class BuildPyWithDefaults(build_py):
    """build_py, then the defaults copied into <build>/connector/defaults/."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads the checkout's own folders
            return
        target = Path(self.build_lib) / "connector" / "defaults"
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for item in DEFAULT_ITEMS:
            source = HERE / item
            if source.is_dir():
                shutil.copytree(
                    source,
                    target / item,
                    ignore=shutil.ignore_patterns(*IGNORED),
                )
            elif source.is_file():
                shutil.copy2(source, target / item)
            else:
                raise FileNotFoundError(f"{source}: a default the wheel ships is missing")


setup(cmdclass={"build_py": BuildPyWithDefaults})
