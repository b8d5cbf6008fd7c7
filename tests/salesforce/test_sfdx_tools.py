"""The exported SFDX source through Salesforce's own tools, where this machine has them:
the Lightning Web Component's Jest tests (@salesforce/sfdx-lwc-jest) and the Salesforce CLI's
offline source conversion (`sf project convert source`, which resolves every file to a
metadata type and refuses what it cannot place). Both come from salesforce/package.json
(`npm ci` in salesforce/); without Node or the installed modules each test is skipped and
says why."""

from __future__ import annotations

import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.support import REPO

PROJECT = REPO / "salesforce"
BIN = PROJECT / "node_modules" / ".bin"
# No telemetry, update check or plugin install: the CLI stays offline.
QUIET = {
    "SF_DISABLE_TELEMETRY": "true",
    "SF_AUTOUPDATE_DISABLE": "true",
    "SF_SKIP_NEW_VERSION_CHECK": "true",
    "SF_HIDE_RELEASE_NOTES": "true",
}


def _tool(name: str) -> Path:
    if shutil.which("node") is None:
        pytest.skip("node is not installed; salesforce/ is tested with Node (npm ci there)")
    path = BIN / name
    if not path.exists():
        pytest.skip(f"{path.relative_to(REPO)} is missing: run `npm ci` in salesforce/ first")
    return path


def test_the_component_passes_its_jest_tests() -> None:
    jest = _tool("sfdx-lwc-jest")
    result = subprocess.run(
        [str(jest)], cwd=PROJECT, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Tests:" in result.stderr + result.stdout


def test_the_cli_converts_the_source_to_metadata_format(tmp_path: Path) -> None:
    sf = _tool("sf")
    out = tmp_path / "mdapi"
    result = subprocess.run(
        [
            str(sf),
            "project",
            "convert",
            "source",
            "--source-dir",
            "force-app",
            "--output-dir",
            str(out),
            "--json",
        ],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, **QUIET, "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    package = ET.parse(out / "package.xml").getroot()
    ns = "{http://soap.sforce.com/2006/04/metadata}"
    types = {
        t.findtext(f"{ns}name"): {m.text for m in t.findall(f"{ns}members")}
        for t in package.findall(f"{ns}types")
    }
    assert types["Flow"] == {"L2L_Intent_Hot", "L2L_Tier_Change"}
    assert types["LightningComponentBundle"] == {"l2lScores"}
    assert types["PermissionSet"] == {"L2L_Integration", "L2L_Read"}
    assert types["FlexiPage"] == {f"L2L_{o}_Record_Page" for o in ("Lead", "Contact", "Account")}
    assert types["ListView"] == {"Lead.L2L_Hot_Leads", "Contact.L2L_Customers_At_Risk"}
    assert {f"L2L_{o}_Scores" for o in ("Lead", "Contact", "Account", "Order", "Case")} == types[
        "ReportType"
    ]
    assert "L2L_Reports/L2L_Points_Liability" in types["Report"]
    # the Jest tests stay out of what is deployed (.forceignore)
    assert not list(out.rglob("__tests__"))
