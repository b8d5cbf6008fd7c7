"""The CLI commands end to end: click's runner in-process, settings from L2L_* variables,
the real localorg over HTTPS and a real SQLite database."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from connector.cli import main
from connector.mapping import load_mappings
from connector.mapping.values import KNOWN_VALUES
from localorg.org import ADMIN_USERNAME, LocalOrg
from tests.support import REPO, RFM_FIELDS, seed

# Fixtures `env` and `org_env` (tests/conftest.py) point the CLI at the tests' RFM mappings.
MAPPED = sorted(f"{obj}.{field}" for obj in ("Contact", "Lead") for field in RFM_FIELDS)
# and what models/texts.yaml (on by default) adds: the admins' sentiment and intent override
# picklists
DEPLOYED = sorted(
    [
        *MAPPED,
        *(
            f"{obj}.L2L_{kind}_Override__c"
            for obj in ("Case", "EmailMessage")
            for kind in ("Sentiment", "Intent")
        ),
    ]
)
SECRET = "s3cr3t-value-that-must-never-print"
MD = "{http://soap.sforce.com/2006/04/metadata}"


def _cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def _json(result: Result) -> Any:
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.output
    return json.loads(lines[0])


# ---------------------------------------------------------------------- validate


def test_validate_offline_reports_broken_yaml_as_file_line(env: Path, tmp_path: Path) -> None:
    broken = tmp_path / "mappings" / "broken.yaml"
    broken.write_text(
        "object: Contact\n"
        "person: contact\n"
        "fields:\n"
        "  - value: rfm.order_count\n"
        "    field: L2L_Broken__c: oops\n"
        "    type: number\n",
        encoding="utf-8",
    )
    result = _cli("validate", "--offline")
    assert result.exit_code == 1, result.output
    assert f"{broken}:5:" in result.output
    assert "Traceback" not in result.output
    # The good files beside it are fine: only the broken one is reported.
    problems = [line for line in result.stdout.splitlines() if ".yaml:" in line]
    assert len(problems) == 1, problems
    assert result.stdout.splitlines()[-1].endswith(": 1 problems")


def test_validate_offline_reports_a_schema_error_with_its_line(env: Path, tmp_path: Path) -> None:
    contact = tmp_path / "mappings" / "contact.yaml"
    text = contact.read_text(encoding="utf-8")
    contact.write_text(text.replace("type: number", "type: nonsense", 1), encoding="utf-8")
    result = _cli("validate", "--offline", "--json")
    assert result.exit_code == 1, result.output
    report = _json(result)
    assert report["ok"] is False
    assert [p.split(": ")[0] for p in report["problems"]] == [f"{contact}:6"], report


def test_validate_checks_the_models_folder_too(
    env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    settings = models / "predictions.yaml"
    settings.write_text("model: bg_nbd\nmargin: 2.5\nmodel_kind: x\n", encoding="utf-8")
    monkeypatch.setenv("L2L_MODELS_DIR", str(models))
    result = _cli("validate", "--offline", "--json")
    assert result.exit_code == 1, result.output
    problems = _json(result)["problems"]
    assert [p.split(": ")[0] for p in problems] == [f"{settings}:2", f"{settings}:3"], problems
    # the sync refuses to start on it, with the same lines and no traceback
    sync = _cli("sync")
    assert sync.exit_code != 0
    assert f"{settings}:2" in sync.output
    assert "Traceback" not in sync.output
    monkeypatch.setenv("L2L_MODELS_DIR", str(tmp_path / "modles"))
    typo = _cli("validate", "--offline")
    assert typo.exit_code == 1
    assert "modles: no such directory (L2L_MODELS_DIR)" in typo.output


def test_validate_offline_of_the_repo_mappings_is_ok(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("L2L_MAPPINGS_DIR", str(REPO / "mappings"))
    mappings = load_mappings(REPO / "mappings", set(KNOWN_VALUES))
    result = _cli("validate", "--offline", "--json")
    assert result.exit_code == 0, result.output
    assert _json(result) == {
        "ok": True,
        "files": len(mappings),
        "fields": sum(len(m.fields) for m in mappings),
        "problems": [],
    }


def test_validate_offline_of_the_test_mappings_is_ok(env: Path) -> None:
    result = _cli("validate", "--offline", "--json")
    assert result.exit_code == 0, result.output
    assert _json(result) == {"ok": True, "files": 2, "fields": len(MAPPED), "problems": []}


def test_validate_reports_missing_fields_until_deployed(org_env: LocalOrg) -> None:
    before = _cli("validate", "--json")
    assert before.exit_code == 1, before.output
    report = _json(before)
    assert report["ok"] is False
    assert len(report["problems"]) == len(MAPPED)
    for name in MAPPED:
        assert any(name in p and "field missing in the org" in p for p in report["problems"]), name

    deployed = _cli("fields", "deploy", "--json")
    assert deployed.exit_code == 0, deployed.output
    result = _json(deployed)
    assert sorted(result["created"]) == DEPLOYED
    assert result["existing"] == []
    assert sorted(result["permissions_granted"]) == DEPLOYED
    assert result["permission_set"] == "L2L_Integration"
    assert result["assigned"] is True

    after = _cli("validate", "--json")
    assert after.exit_code == 0, after.output
    assert _json(after) == {"ok": True, "files": 2, "fields": len(MAPPED), "problems": []}

    again = _json(_cli("fields", "deploy", "--json"))
    assert again["created"] == []
    assert sorted(again["existing"]) == DEPLOYED
    assert again["permissions_granted"] == []
    assert again["objects_granted"] == []
    assert again["assigned"] is False  # already assigned


def test_fields_deploy_assigns_l2l_read_only_to_named_users(org_env: LocalOrg) -> None:
    """L2L_Read is for people: made by every deploy, assigned only to the usernames given;
    an unknown username stops the deploy before it changes anything."""
    unknown = _cli("fields", "deploy", "--assign-read", "nobody@example.com")
    assert unknown.exit_code == 1
    assert "no user has the username nobody@example.com" in unknown.output
    assert "Traceback" not in unknown.output
    assert not org_env.store.execute('SELECT 1 FROM "PermissionSet" WHERE "Name" LIKE \'L2L%\'')
    result = _cli("fields", "deploy", "--json")
    assert result.exit_code == 0, result.output
    read = json.loads(result.stdout)["read_permission_set"]
    assert read["created"] is True
    assert read["assigned"] == []
    assert sorted(read["fields_granted"]) == MAPPED
    rows = org_env.store.execute(
        'SELECT "PermissionsRead", "PermissionsEdit" FROM "FieldPermissions" WHERE "ParentId" = '
        '(SELECT "Id" FROM "PermissionSet" WHERE "Name" = \'L2L_Read\')'
    )
    assert rows == [(1, 0)] * len(MAPPED)
    again = _cli("fields", "deploy", "--json", "--assign-read", ADMIN_USERNAME)
    read = json.loads(again.stdout)["read_permission_set"]
    assert (read["created"], read["fields_granted"], read["assigned"]) == (
        False,
        [],
        [ADMIN_USERNAME],
    )


# ---------------------------------------------------------------------- fields export


def _exported(out: Path) -> list[Path]:
    return sorted(out.rglob("*.field-meta.xml"))


def test_fields_export_writes_field_meta_xml_that_parses(env: Path, tmp_path: Path) -> None:
    out = tmp_path / "sfdx"
    result = _cli("fields", "export", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert f"files under {out}: fields, permission sets, the record page component" in result.output
    files = _exported(out)
    assert len(files) == len(DEPLOYED)
    names = []
    for path in files:
        root = ET.parse(path).getroot()
        assert root.tag == f"{MD}CustomField"
        full_name = root.findtext(f"{MD}fullName")
        assert full_name == path.name.removesuffix(".field-meta.xml")
        assert root.findtext(f"{MD}label")
        names.append(f"{path.parent.parent.name}.{full_name}")
    assert sorted(names) == DEPLOYED


def test_fields_export_writes_the_permission_set_with_field_and_object_grants(
    env: Path, tmp_path: Path
) -> None:
    """Without the permission set, fields deployed with the Salesforce CLI are invisible to
    everyone (no field-level security on any profile): the source carries it beside them."""
    out = tmp_path / "sfdx"
    assert _cli("fields", "export", "--out", str(out)).exit_code == 0
    path = out / "force-app/main/default/permissionsets/L2L_Integration.permissionset-meta.xml"
    root = ET.parse(path).getroot()
    assert root.tag == f"{MD}PermissionSet"
    # Metadata API element order, as a retrieve writes it
    tags = [child.tag.removeprefix(MD) for child in root]
    order = ["description", "fieldPermissions", "hasActivationRequired", "label", "license"]
    assert [t for t in dict.fromkeys(tags)] == [*order, "objectPermissions"]
    # The README's integration user (Salesforce Integration license) takes only sets of the
    # Salesforce API Integration permission set license (Help, "Give Integration Users API
    # Only Access")
    assert root.findtext(f"{MD}license") == "Salesforce API Integration"
    fields = {
        fp.findtext(f"{MD}field"): (fp.findtext(f"{MD}readable"), fp.findtext(f"{MD}editable"))
        for fp in root.iter(f"{MD}fieldPermissions")
    }
    assert {f: v for f, v in fields.items() if v[1] == "true"} == dict.fromkeys(
        DEPLOYED, ("true", "true")
    )
    # Read on the standard fields the pull reads, which field-level security would hide;
    # never on a required field (no permission set may name one) nor on a field only some
    # orgs have (a deploy naming a field the org lacks fails)
    read_only = {f for f, v in fields.items() if v == ("true", "false")}
    assert {"Contact.Email", "Lead.Email", "Lead.LeadSource", "Order.TotalAmount"} <= read_only
    assert not {"Lead.LastName", "Order.EffectiveDate", "Account.IsPersonAccount"} & read_only
    assert "Order.CurrencyIsoCode" not in read_only
    objects = {
        op.findtext(f"{MD}object"): (op.findtext(f"{MD}allowRead"), op.findtext(f"{MD}allowEdit"))
        for op in root.iter(f"{MD}objectPermissions")
    }
    # Read on every pulled object, Edit on those the mappings write; none for OrderItem,
    # whose access follows Order (ObjectPermissions refuses it: jetstream PR #1982), nor for
    # Task (it follows the records it relates to); Case and EmailMessage for models/texts.yaml
    assert objects == {
        "Account": ("true", "false"),
        "Case": ("true", "false"),
        "Contact": ("true", "true"),
        "EmailMessage": ("true", "false"),
        "Lead": ("true", "true"),
        "Order": ("true", "false"),
    }
    salesforce = tmp_path / "plain"
    result = _cli("fields", "export", "--out", str(salesforce), "--user-license", "salesforce")
    assert result.exit_code == 0, result.output
    plain = ET.parse(salesforce / path.relative_to(out))
    assert plain.getroot().find(f"{MD}license") is None


def test_fields_export_lays_files_out_inside_the_sfdx_project_folder(
    env: Path, tmp_path: Path
) -> None:
    out = tmp_path / "project"
    assert _cli("fields", "export", "--out", str(out)).exit_code == 0
    expected = out / "force-app/main/default/objects/Contact/fields/L2L_Order_Count__c"
    assert expected.with_name(expected.name + ".field-meta.xml").is_file(), _exported(out)


# ---------------------------------------------------------------------- sync, runs, status


def test_sync_json_then_runs_and_status(org_env: LocalOrg) -> None:
    assert _cli("fields", "deploy", "--json").exit_code == 0
    ids = seed(org_env, 3, [("2026-03-01", 12.5)])

    result = _cli("sync", "--json")
    assert result.exit_code == 0, result.output
    report = _json(result)
    assert {"run_id", "status", "objects", "writes", "api_calls", "duration_s"} <= set(report)
    assert report["status"] == "succeeded"
    assert set(report["writes"]) >= {
        "planned",
        "succeeded",
        "failed",
        "carried_over",
        "fields_changed",
    }
    assert report["writes"]["succeeded"] == 3
    assert report["writes"]["planned"] == 3
    assert report["writes"]["failed"] == report["writes"]["carried_over"] == 0
    assert report["writes"]["fields_changed"] == 3 * 5
    assert report["objects"]["Contact"] == {"pulled": 3, "deleted": 0, "changed": 3}
    assert report["objects"]["Order"] == {"pulled": 3, "deleted": 0, "changed": 3}
    assert report["api_calls"]["total"] > 0
    assert report["api_calls"]["total"] == sum(
        v for k, v in report["api_calls"].items() if k != "total"
    )
    assert isinstance(report["duration_s"], float)
    assert report["duration_s"] >= 0
    counts = org_env.store.execute('SELECT "Id", "L2L_Order_Count__c" FROM "Contact"')
    assert dict(counts) == dict.fromkeys(ids, 1)

    runs = _cli("runs", "--json")
    assert runs.exit_code == 0, runs.output
    listed = _json(runs)
    assert [r["id"] for r in listed] == [report["run_id"]]
    assert listed[0]["status"] == "succeeded"
    assert listed[0]["mode"] == "incremental"
    assert listed[0]["stats"]["writes"] == report["writes"]

    text = _cli("runs")
    assert text.exit_code == 0, text.output
    assert f"{report['run_id']:>5} " in text.output
    assert "succeeded" in text.output

    status = _cli("status")
    assert status.exit_code == 0, status.output
    lines = status.output.splitlines()
    for obj in ("Account", "Contact", "Lead", "Order", "OrderItem"):
        assert any(line.split()[:2] == ["watermark", obj] for line in lines), status.output
    assert "outbox: empty" in status.output
    assert f"last run {report['run_id']}: succeeded" in status.output


def test_second_sync_json_writes_nothing(org_env: LocalOrg) -> None:
    assert _cli("fields", "deploy", "--json").exit_code == 0
    seed(org_env, 2, [("2026-03-01", 12.5)])
    first = _json(_cli("sync", "--json"))
    second_result = _cli("sync", "--json")
    assert second_result.exit_code == 0, second_result.output
    second = _json(second_result)
    assert second["run_id"] == first["run_id"] + 1
    assert second["writes"]["fields_changed"] == 0
    assert second["writes"]["succeeded"] == 0


def test_status_of_a_fresh_database_has_no_watermarks(env: Path) -> None:
    result = _cli("status")
    assert result.exit_code == 0, result.output
    assert f"database: {env}" in result.output
    assert "watermark" not in result.output
    assert "outbox: empty" in result.output


# ---------------------------------------------------------------------- config


def test_config_masks_secrets_and_lists_every_variable(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("L2L_SALESFORCE_CLIENT_SECRET", SECRET)
    monkeypatch.setenv("L2L_SALESFORCE_REFRESH_TOKEN", SECRET + "-refresh")
    result = _cli("config")
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output
    assert "L2L_SALESFORCE_CLIENT_SECRET=**********" in result.output
    assert "L2L_SALESFORCE_REFRESH_TOKEN=**********" in result.output
    if isinstance(env, str):  # L2L_TEST_BACKEND=postgresql: the URL may hold a password
        assert "DATABASE_URL=**********" in result.output
        assert str(env) not in result.output
    else:
        assert f"L2L_DATABASE={env}" in result.output
    for variable in ("L2L_SALESFORCE_LOGIN_URL", "L2L_MAPPINGS_DIR", "L2L_SYNC_INTERVAL_MINUTES"):
        assert f"{variable}=" in result.output


def test_config_with_an_invalid_setting_is_one_clean_error(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("L2L_SYNC_INTERVAL_MINUTES", "0")
    monkeypatch.setenv("L2L_SALESFORCE_CLIENT_SECRET", SECRET)
    result = _cli("config")
    assert result.exit_code == 1
    assert "L2L_SYNC_INTERVAL_MINUTES" in result.output
    assert "Traceback" not in result.output
    assert SECRET not in result.output


def test_committed_sfdx_source_matches_the_mappings(tmp_path: Path) -> None:
    """salesforce/ is generated from mappings/: regenerate with `lead2loyalty fields export`."""
    from connector.admin.deploy import export
    from connector.mapping import load_mappings, load_yaml_model
    from connector.mapping.deploy import ExtraNeeds
    from connector.mapping.values import KNOWN_VALUES
    from connector.sync.texts_stage import texts_needs
    from connector.texts.text_config import TextsConfig

    repo = Path(__file__).resolve().parent.parent
    texts = load_yaml_model(repo / "models" / "texts.yaml", TextsConfig)
    written = export(
        load_mappings(repo / "mappings", set(KNOWN_VALUES)),
        tmp_path,
        extra=texts_needs(ExtraNeeds(), texts),
    )
    kinds = (".field-meta.xml", ".permissionset-meta.xml")
    committed = sorted(
        p for p in (repo / "salesforce" / "force-app").rglob("*") if p.name.endswith(kinds)
    )
    assert sorted(p.relative_to(tmp_path) for p in written if p.name.endswith(kinds)) == sorted(
        p.relative_to(repo / "salesforce") for p in committed
    )
    # the rest (what people see) is checked in tests/salesforce/test_sfdx_source.py
    for path in written:
        assert path.read_text(encoding="utf-8") == (
            repo / "salesforce" / path.relative_to(tmp_path)
        ).read_text(encoding="utf-8"), f"{path.name} drifted: run `lead2loyalty fields export`"


def test_a_second_sync_on_the_same_database_refuses_to_start(org_env: LocalOrg, env: Path) -> None:
    """Two runs at once could send the same values twice; the second one says so and stops."""
    assert _cli("fields", "deploy").exit_code == 0
    seed(org_env, 2, [("2026-03-01", 12.5)])
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from connector.store import Store\n"
            "with Store(sys.argv[1]).runs.lock():\n"
            "    print('locked', flush=True)\n"
            "    time.sleep(60)\n",
            str(env),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "locked\n"
        result = _cli("sync")
        assert result.exit_code == 1
        assert f"another sync is running on {env} (pid {holder.pid})" in result.output
        assert org_env.calls_by_kind.get("composite", 0) == 0
    finally:
        holder.kill()  # a killed holder leaves no stale lock behind
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    again = _cli("sync", "--json")
    assert again.exit_code == 0, again.output
    assert _json(again)["writes"]["succeeded"] == 2


def test_sync_human_output_says_what_happened_where_time_went_and_how_it_predicted(
    org_env: LocalOrg,
) -> None:
    assert _cli("fields", "deploy").exit_code == 0
    seed(org_env, 2, [("2026-03-01", 12.5)])
    result = _cli("sync")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("run 1: succeeded in ")
    assert "  pulled Contact           2  deleted 0" in lines
    assert "  fields changed 10; records written 2, failed 0, carried over 0" in lines
    assert any(line.startswith("  predictions: heuristic: 2 buyers < 500") for line in lines)
    assert any(line.startswith("  seconds: pull ") and "push" in line for line in lines)
