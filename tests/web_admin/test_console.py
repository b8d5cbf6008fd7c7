"""The mapping edit's YAML round trip (connector/admin/console.py): only the edited lines move."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest
import yaml

from connector.admin.console import with_rounding
from connector.errors import MappingError
from tests.support import REPO

SHIPPED = sorted((REPO / "mappings").glob("*.yaml"))


def _changed(before: str, after: str) -> list[str]:
    return [
        line for line in difflib.ndiff(before.splitlines(), after.splitlines()) if line[:1] in "+-"
    ]


@pytest.mark.slow
@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_setting_then_removing_a_rounding_gives_back_the_file_byte_for_byte(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    fields = yaml.safe_load(text)["fields"]
    for index, field in enumerate(fields):
        steps = field.get("transform", [])
        if any(isinstance(s, dict) and "round" in s for s in steps):
            continue  # removing a rounding the file has is not the inverse of setting one
        rounded = with_rounding(text, index, 3)
        assert yaml.safe_load(rounded)["fields"][index]["transform"][-1] == {"round": 3}
        # every other field, and every comment, as it was
        assert all(
            line.strip().lstrip("+ ").startswith(("transform", "- round"))
            for line in _changed(text, rounded)
        ), _changed(text, rounded)
        assert with_rounding(rounded, index, None) == text, field["field"]


def test_a_rounding_the_field_has_is_replaced_in_place() -> None:
    text = (
        "object: Contact\nperson: contact\nfields:\n- value: rfm.revenue  # money\n"
        "  field: X__c\n  type: number\n  transform:\n  - round: 2\n  - default: 0\n"
    )
    changed = with_rounding(text, 0, 0)
    assert changed == text.replace("round: 2", "round: 0")
    assert with_rounding(text, 0, None) == text.replace("  - round: 2\n", "")


def test_an_edit_of_a_field_the_file_lacks_is_refused() -> None:
    with pytest.raises(MappingError, match="no field number 3"):
        with_rounding("object: Contact\nfields:\n- value: a\n", 2, 1)
    with pytest.raises(MappingError, match="not YAML"):
        with_rounding("fields: [\n", 0, 1)
