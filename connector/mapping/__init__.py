"""Mappings: which computed value lands in which Salesforce field, and how it is shaped.

Admins write mappings/*.yaml; `load_mappings` validates them (every problem as file:line),
`check_against_describe` checks them against the org, `map_values` turns computed values into
field values for a sync, and `field_definitions` / `sfdx_field_xml` describe the fields to deploy.
"""

from __future__ import annotations

from connector.mapping.deploy import field_definitions, sfdx_field_path, sfdx_field_xml
from connector.mapping.describe import check_against_describe
from connector.mapping.loader import (
    load_mappings,
    load_registered_mappings,
    load_yaml_model,
    read_yaml,
)
from connector.mapping.models import FieldMapping, MappingFile
from connector.mapping.transforms import (
    MapProblem,
    PersonKey,
    RecordKey,
    apply,
    map_column,
    map_frame,
    map_values,
)
from connector.mapping.values import KNOWN_VALUES, KnownValue

__all__ = [
    "KNOWN_VALUES",
    "FieldMapping",
    "KnownValue",
    "MapProblem",
    "MappingFile",
    "PersonKey",
    "RecordKey",
    "apply",
    "check_against_describe",
    "field_definitions",
    "load_mappings",
    "load_registered_mappings",
    "load_yaml_model",
    "map_column",
    "map_frame",
    "map_values",
    "read_yaml",
    "sfdx_field_path",
    "sfdx_field_xml",
]
