"""Loading mappings/ YAML: every problem, in every file, at its line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from pydantic import BaseModel

from connector.errors import MappingError
from connector.mapping import KNOWN_VALUES, load_mappings, load_yaml_model


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def problems(directory: Path, known: set[str] | None = None) -> list[str]:
    with pytest.raises(MappingError) as exc:
        load_mappings(directory, known)
    return exc.value.problems


GOOD_FIELD = """\
  - value: rfm.order_count
    field: L2L_Order_Count__c
    type: number
"""


def test_three_mistakes_reported_at_their_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "contact.yaml",
        """
        object: Contact
        person: contact
        fields:
          - value: rfm.order_count
            field: L2L_Order_Count__c
            type: numbr
          - value: rfm.revenue
            field: L2L_Revenue__c
            type: currency
            transform:
              - round: 2
              - clamp: [10, 0]
          - value: rfm.segment
            field: L2L_Segment__c
            type: text
            precison: 2
        """,
    )
    found = problems(tmp_path)
    assert len(found) == 3, found
    assert found[0].startswith(f"{path}:6: fields[0].type: got 'numbr'")
    assert found[1].startswith(f"{path}:12: fields[1].transform[1].clamp: clamp needs [low, high]")
    assert found[2].startswith(f"{path}:16: fields[2].precison: unknown key 'precison'")
    assert "did you mean 'precision'?" in found[2]
    assert str(MappingError(found)).count("\n") == 2


def test_cross_key_rules_point_at_the_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "lead.yaml",
        """
        object: Contact
        person: lead
        fields:
          - value: rfm.last_order_date
            field: L2L_Last__c
            type: text
            length: 300
            precision: 3
          - value: rfm.last_order_date
            field: L2L_Days__c
            type: number
            transform:
              - round: 0
          - value: rfm.segment
            field: L2L_Segment__c
            type: picklist
        """,
    )
    found = problems(tmp_path)
    assert found == [
        f"{path}:1: object: person: lead is written to Lead; other objects are not supported yet",
        f"{path}:7: fields[0].length: text holds at most 255; use type: textarea",
        f"{path}:8: fields[0].precision: only number, currency and percent fields take precision",
        f"{path}:13: fields[1].transform[0].round: round needs a number but gets date here",
        f"{path}:14: fields[2]: a picklist field needs `picklist: {{value: Label, ...}}`",
    ]


def test_problems_from_every_file_and_yaml_errors(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "object: Contact\nperson: contact\nfields: [\n")
    write(tmp_path, "b.yaml", "object: Lead\nperson: lead\nperson: lead\nfields: []\n")
    write(
        tmp_path, "c.yml", "object: Lead\nfields:\n  - {value: a.b, field: Bad Name, type: text}\n"
    )
    found = problems(tmp_path)
    assert found[0].startswith(f"{tmp_path / 'a.yaml'}:4: (yaml):")
    assert found[1].startswith(f"{tmp_path / 'b.yaml'}:3: person: duplicate key (first at line 2)")
    assert found[2] == f"{tmp_path / 'c.yml'}:1: person: required key is missing; add it"
    assert found[3].startswith(f"{tmp_path / 'c.yml'}:3: fields[0].field: 'Bad Name' is not a")
    assert len(found) == 4


def test_unknown_transform_and_bare_boolean(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "contact.yaml",
        """
        object: Contact
        person: contact
        fields:
          - value: rfm.segment
            field: L2L_Segment__c
            type: text
            label: yes
            transform:
              - round: 1
              - squash: 3
        """,
    )
    found = problems(tmp_path)
    assert found[0].startswith(f"{path}:7: fields[0].label: expected text, got True; quote it")
    assert found[1].startswith(f"{path}:10: fields[0].transform[1]: expected one transform")


def test_duplicate_target_across_files(tmp_path: Path) -> None:
    header = "object: Contact\nperson: contact\nfields:\n"
    write(tmp_path, "a.yaml", header + GOOD_FIELD)
    b = write(tmp_path, "b.yaml", header + GOOD_FIELD.replace("rfm.order_count", "rfm.revenue"))
    found = problems(tmp_path)
    assert found == [
        f"{b}:5: fields[0].field: Contact.L2L_Order_Count__c is already written at "
        f"{tmp_path / 'a.yaml'}:4; a field takes one value, remove or rename one of them"
    ]


def test_unknown_value_key_with_suggestion(tmp_path: Path) -> None:
    header = "object: Contact\nperson: contact\nfields:\n"
    path = write(tmp_path, "a.yaml", header + GOOD_FIELD.replace("order_count", "order_cnt"))
    assert load_mappings(tmp_path)  # without known values the key is not checked
    assert problems(tmp_path, set(KNOWN_VALUES)) == [
        f"{path}:4: fields[0].value: 'rfm.order_cnt' is not a computed value; "
        "did you mean 'rfm.order_count' (Orders placed by this person, all time)?"
    ]


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("L2L_" + "X" * 37 + "__c", "41 characters before __c"),
        ("L2L__Double__c", "not a valid custom field"),
        ("2L2L__c", "not a valid custom field"),
        ("L2L_Trailing___c", "not a valid custom field"),
        ("L2L-Dash__c", "not a valid custom field"),
        ("Has Space", "not a field API name"),
    ],
)
def test_invalid_api_names(tmp_path: Path, name: str, fragment: str) -> None:
    write(
        tmp_path,
        "a.yaml",
        "object: Lead\nperson: lead\nfields:\n" + GOOD_FIELD.replace("L2L_Order_Count__c", name),
    )
    (found,) = problems(tmp_path)
    assert fragment in found


def test_loaded_mappings_know_where_they_came_from(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", "object: Lead\nperson: lead\nfields:\n" + GOOD_FIELD)
    (mf,) = load_mappings(tmp_path)
    assert mf.source == str(path)
    assert mf.fields[0].where == f"{path}:4"


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="no such directory"):
        load_mappings(tmp_path / "nope")


def test_load_yaml_model_is_generic(tmp_path: Path) -> None:
    class Horizon(BaseModel):
        days: int
        name: str

    path = write(tmp_path, "m.yaml", "name: clv\ndays: many\n")
    with pytest.raises(MappingError) as exc:
        load_yaml_model(path, Horizon)
    assert exc.value.problems == [
        f"{path}:2: days: got 'many': input should be a valid integer, unable to parse string "
        "as an integer"
    ]
    write(tmp_path, "m.yaml", "name: clv\ndays: 90\n")
    assert load_yaml_model(path, Horizon) == Horizon(days=90, name="clv")
