"""An installable tool: `init` writes a project folder, the settings read it, the help and
`mappings --example` teach the mapping format, `.env.example` names real settings."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from pydantic import SecretStr

from connector.cli import main
from connector.config import Settings, load_settings
from connector.mapping import load_mappings
from connector.mapping.models import TRANSFORMS, FieldMapping, MappingFile
from connector.mapping.values import KNOWN_VALUES
from connector.project import (
    _SKIP_PARTS,
    DEFAULT_ITEMS,
    default_files,
    defaults_root,
    project_dir,
)
from tests.support import REPO


def _init(directory: Path, *extra: str) -> object:
    return CliRunner().invoke(main, ["init", str(directory), *extra])


def test_a_checkout_ships_its_own_top_level_folders() -> None:
    # No connector/defaults/ in a checkout: `fields export` writes salesforce/ at the top and
    # the tests check that copy, so the top level stays the one source of the defaults.
    assert defaults_root() == REPO
    shipped = {p.parts[0] for p in default_files()}
    assert shipped == set(DEFAULT_ITEMS)


def test_init_writes_every_shipped_file_and_a_readme(tmp_path: Path) -> None:
    project = tmp_path / "shop-connector"
    result = _init(project)
    assert result.exit_code == 0, result.output
    for rel in default_files():
        assert (project / rel).read_bytes() == (REPO / rel).read_bytes(), rel
    readme = (project / "README.md").read_text(encoding="utf-8")
    assert "lead2loyalty demo" in readme
    assert "mappings --example" in readme
    assert (project / "salesforce" / "sfdx-project.json").is_file()
    assert ".env" in (project / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "next: cd" in result.output


def test_init_refuses_to_overwrite_and_then_writes_nothing(tmp_path: Path) -> None:
    edited = tmp_path / "mappings" / "contact.yaml"
    edited.parent.mkdir()
    edited.write_text("object: Contact\nperson: contact\nfields: []\n", encoding="utf-8")
    result = _init(tmp_path)
    assert result.exit_code == 1
    assert "mappings/contact.yaml" in result.output
    assert "nothing was written" in result.output
    assert "--force" in result.output
    assert "Traceback" not in result.output
    assert edited.read_text(encoding="utf-8").endswith("fields: []\n")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["contact.yaml", "mappings"]


def test_init_force_overwrites_the_shipped_files_only(tmp_path: Path) -> None:
    assert _init(tmp_path).exit_code == 0
    contact = tmp_path / "mappings" / "contact.yaml"
    contact.write_text("edited\n", encoding="utf-8")
    mine = tmp_path / "mappings" / "orders.yaml"
    mine.write_text("mine\n", encoding="utf-8")
    env = tmp_path / ".env"
    env.write_text("L2L_DATABASE=mine.sqlite\n", encoding="utf-8")
    result = _init(tmp_path, "--force")
    assert result.exit_code == 0, result.output
    assert contact.read_bytes() == (REPO / "mappings" / "contact.yaml").read_bytes()
    assert mine.read_text(encoding="utf-8") == "mine\n"
    assert env.read_text(encoding="utf-8") == "L2L_DATABASE=mine.sqlite\n"


def test_init_refuses_a_file_where_the_project_needs_a_folder(tmp_path: Path) -> None:
    (tmp_path / "models").write_text("not a folder\n", encoding="utf-8")
    result = _init(tmp_path, "--force")
    assert result.exit_code == 1
    assert "is a file where lead2loyalty writes a folder" in result.output
    assert not (tmp_path / "mappings").exists()  # refused before writing anything


def test_settings_read_the_project_in_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("L2L_MAPPINGS_DIR", raising=False)
    monkeypatch.delenv("L2L_MODELS_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    # An empty folder: the shipped defaults, so `demo` and `validate` work anywhere.
    settings = load_settings()
    assert settings.mappings_dir == defaults_root() / "mappings"
    assert settings.models_dir == defaults_root() / "models"
    assert _init(tmp_path / "proj").exit_code == 0
    monkeypatch.chdir(tmp_path / "proj")
    # Inside a project: its own folders, which the admin edits.
    settings = load_settings()
    assert settings.mappings_dir == tmp_path / "proj" / "mappings"
    assert settings.models_dir == tmp_path / "proj" / "models"
    assert project_dir("mappings") == tmp_path / "proj" / "mappings"


def test_config_shows_where_the_mappings_come_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("L2L_MAPPINGS_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["config"])
    assert result.exit_code == 0
    line = next(ln for ln in result.output.splitlines() if ln.startswith("L2L_MAPPINGS_DIR="))
    assert line == f"L2L_MAPPINGS_DIR={defaults_root() / 'mappings'}"
    assert "default: " + str(defaults_root() / "mappings") in result.output


def test_validate_in_a_project_checks_the_project_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("L2L_MAPPINGS_DIR", raising=False)
    monkeypatch.delenv("L2L_MODELS_DIR", raising=False)
    assert _init(tmp_path).exit_code == 0
    monkeypatch.chdir(tmp_path)
    assert CliRunner().invoke(main, ["validate", "--offline"]).exit_code == 0
    contact = tmp_path / "mappings" / "contact.yaml"
    contact.write_text(
        contact.read_text(encoding="utf-8").replace("value: rfm.revenue", "value: rfm.revenu"),
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["validate", "--offline"])
    assert result.exit_code == 1
    assert f"{contact}:" in result.output
    assert "did you mean 'rfm.revenue'" in result.output


# ---- the mapping format, taught ----


def _example_keys(text: str) -> tuple[set[str], set[str]]:
    """(field keys, transform names) the example shows, commented lines included."""
    keys = set(re.findall(r"^\s*(?:#\s*)?(?:- )?([a-z_]+):", text, re.M))
    doc = yaml.safe_load(text)
    transforms = {
        step if isinstance(step, str) else next(iter(step))
        for field in doc["fields"]
        for step in field.get("transform", [])
    }
    return keys, transforms


def test_the_example_mapping_is_valid_and_shows_every_key_and_transform(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["mappings", "--example"])
    assert result.exit_code == 0
    folder = tmp_path / "mappings"
    folder.mkdir()
    (folder / "contact.yaml").write_text(result.output, encoding="utf-8")
    loaded = load_mappings(folder, set(KNOWN_VALUES))  # raises, with file:line, if invalid
    assert [m.object for m in loaded] == ["Contact"]
    keys, transforms = _example_keys(result.output)
    assert set(FieldMapping.model_fields) <= keys, set(FieldMapping.model_fields) - keys
    assert set(MappingFile.model_fields) <= keys
    assert transforms == set(TRANSFORMS), set(TRANSFORMS) ^ transforms
    assert "# program: rewards" in result.output  # shown, off: it needs models/loyalty.yaml's id


def test_validate_help_teaches_the_mapping_format() -> None:
    result = CliRunner().invoke(main, ["validate", "--help"])
    assert result.exit_code == 0
    for word in ("object:", "person:", "value:", "field:", "type:", "transform:"):
        assert word in result.output
    for kind in ("number", "currency", "percent", "textarea", "datetime", "checkbox", "picklist"):
        assert kind in result.output
    for transform in TRANSFORMS:
        assert transform in result.output, transform
    assert "lead2loyalty mappings --example" in result.output


def test_mappings_lists_each_field_with_its_value_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("L2L_MAPPINGS_DIR", str(REPO / "mappings"))
    result = CliRunner().invoke(main, ["mappings"])
    assert result.exit_code == 0, result.output
    line = next(ln for ln in result.output.splitlines() if "Lead.L2L_Intent_Score__c" in ln)
    assert "<- intent.score" in line
    assert re.search(r"mappings/lead\.yaml:\d+$", line)


def test_mappings_names_a_missing_folder_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("L2L_MAPPINGS_DIR", str(tmp_path / "nowhere"))
    result = CliRunner().invoke(main, ["mappings"])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert "nowhere: no such directory" in result.output


# ---- .env.example ----

ENV_EXAMPLE = REPO / ".env.example"


def test_env_example_names_only_real_settings_and_every_secret() -> None:
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    named = set(re.findall(r"^#?\s*((?:L2L_)?[A-Z][A-Z0-9_]+)=", text, re.M))

    def variable(name: str) -> str:  # DATABASE_URL goes by the platforms' name, unprefixed
        alias = Settings.model_fields[name].validation_alias
        return alias if isinstance(alias, str) else f"L2L_{name.upper()}"

    known = {variable(name) for name in Settings.model_fields}
    assert named <= known, named - known
    secrets = {
        variable(name)
        for name, field in Settings.model_fields.items()
        if field.annotation is SecretStr
    }
    assert secrets <= named, f"secrets an admin must set but .env.example omits: {secrets - named}"


def test_env_example_copied_to_env_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(f"L2L_{name.upper()}", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_bytes(ENV_EXAMPLE.read_bytes())
    settings = load_settings()
    assert settings.salesforce_login_url == "https://yourcompany.my.salesforce.com"
    assert settings.salesforce_private_key_file is None  # an empty path would mean "."
    assert settings.database == Path("var/lead2loyalty.sqlite")
    assert not settings.shopify_webhook_secrets.get_secret_value()


def test_local_litter_is_never_shipped(tmp_path: Path) -> None:
    for rel in ("mappings/contact.yaml", "models/intent.yaml", "Procfile", ".env.example",
                "salesforce/sfdx-project.json", "salesforce/node_modules/jest/index.js",
                "salesforce/.sfdx/config.json", "models/__pycache__/x.pyc"):  # fmt: skip
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x", encoding="utf-8")
    assert {str(p) for p in default_files(tmp_path)} == {
        "mappings/contact.yaml", "models/intent.yaml", "salesforce/sfdx-project.json",
        "Procfile", ".env.example",
    }  # fmt: skip


def test_the_wheel_build_skips_what_init_skips() -> None:
    tree = ast.parse((REPO / "setup.py").read_text(encoding="utf-8"))
    found = {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id in ("DEFAULT_ITEMS", "IGNORED")
    }
    assert found["DEFAULT_ITEMS"] == DEFAULT_ITEMS
    assert set(found["IGNORED"]) - {"*.pyc"} == set(_SKIP_PARTS)
