"""Stored column types from describe: a Salesforce field type -> the SQLite column that holds it.

Pulled records used to be stored in columns typed by sqlite-utils from the first page's values,
so a field whose first page was all null became TEXT and its later ``1`` was stored as ``'1'``;
a boolean then had to be tested three ways. Typed from describe instead:

- ``boolean`` -> ``BOOLEAN`` (NUMERIC affinity: 0/1 integers). Describe marks checkboxes
  ``nillable: false`` (a checkbox is always true or false), so a NULL only means the row was
  stored before the column existed, and it reads as false.
- ``int``, ``long`` -> ``INTEGER``; ``double``, ``currency``, ``percent`` -> ``REAL``.
- everything else, ``date``, ``datetime`` and ``time`` included -> ``TEXT``: Salesforce sends
  dates as ISO 8601 text, which is SQLite's own date form (its date functions read it), and a
  NUMERIC ``DATE`` column would turn a digits-only value into a number.

Sources: the field types as describe names them ("Field Types", SOAP API Developer Guide; the
REST describe's ``fields[].type`` uses the same lower-case names, listed as Schema.DisplayType in
the Apex Reference: https://developer.salesforce.com/docs/platform/apex-ref/references/apex-ref/apex-enum-schema-displaytype.html);
checkboxes are ``nillable: false`` in describe (localorg's describe says so too; see also
https://salesforce.stackexchange.com/questions/127548, where Salesforce support confirms a
checkbox reads as false, never null).
"""

from __future__ import annotations

from collections.abc import Mapping

BOOLEAN = "BOOLEAN"
INTEGER = "INTEGER"
REAL = "REAL"
TEXT = "TEXT"

_BY_SALESFORCE_TYPE: Mapping[str, str] = {
    "boolean": BOOLEAN,
    "int": INTEGER,
    "long": INTEGER,
    "double": REAL,
    "currency": REAL,
    "percent": REAL,
}


def column_type(salesforce_type: str) -> str:
    """The SQLite column type that stores a field of this describe ``type``."""
    return _BY_SALESFORCE_TYPE.get(salesforce_type, TEXT)


def same_type(declared: str, wanted: str) -> bool:
    """True when a column declared ``declared`` already stores ``wanted`` values as they are.

    sqlite-utils declared floats ``FLOAT`` before 4.0: the same REAL affinity, nothing to redo.
    """
    declared = declared.upper()
    if declared == wanted:
        return True
    return wanted == REAL and declared in ("FLOAT", "DOUBLE")


def converted(column: str, wanted: str) -> str:
    """A SQL expression that re-types the stored values of ``column`` (quoted) to ``wanted``.

    For a database written before columns were typed: booleans stored as ``1``, ``'1'``,
    ``1.0``, ``'true'`` or ``'True'`` become 1, every other value 0; numbers stored as text
    become numbers; an empty text becomes NULL.
    """
    text = f"CAST({column} AS TEXT)"
    empty = f"{column} IS NULL OR TRIM({text}) = ''"
    if wanted == BOOLEAN:
        return (
            f"CASE WHEN {column} IS NULL THEN NULL "
            f"WHEN LOWER(TRIM({text})) IN ('1', '1.0', 'true') THEN 1 ELSE 0 END"
        )
    if wanted == INTEGER:
        return f"CASE WHEN {empty} THEN NULL ELSE CAST(CAST({column} AS REAL) AS INTEGER) END"
    if wanted == REAL:
        return f"CASE WHEN {empty} THEN NULL ELSE CAST({column} AS REAL) END"
    return f"CASE WHEN {column} IS NULL THEN NULL ELSE {text} END"
