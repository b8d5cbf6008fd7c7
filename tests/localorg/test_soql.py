"""SOQL compiler: queries run against a real in-memory SQLite database with a few rows."""

from __future__ import annotations

import sqlite3
import string
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from simple_salesforce.format import format_soql

from localorg.soql import (
    CompiledQuery,
    FieldInfo,
    ObjectInfo,
    SoqlError,
    compile_soql,
)

SYSTEM = [
    FieldInfo("Id", "id"),
    FieldInfo("IsDeleted", "boolean"),
    FieldInfo("SystemModstamp", "datetime"),
    FieldInfo("CreatedDate", "datetime"),
    FieldInfo("LastModifiedDate", "datetime"),
]


@dataclass(frozen=True)
class PolyField:
    """A reference to several objects, as Task.WhoId is."""

    name: str
    type: str
    reference_to: Sequence[str]
    relationship_name: str | None


def _object(name: str, *fields: FieldInfo) -> ObjectInfo:
    return ObjectInfo(name, {f.name: f for f in [*SYSTEM, *fields]})


SCHEMA = {
    "Account": _object(
        "Account",
        FieldInfo("Name", "string"),
        FieldInfo("AnnualRevenue", "currency"),
        FieldInfo("NumberOfEmployees", "int"),
        FieldInfo("Description", "textarea"),
    ),
    "Contact": _object(
        "Contact",
        FieldInfo("FirstName", "string"),
        FieldInfo("LastName", "string"),
        FieldInfo("Email", "email"),
        FieldInfo("AccountId", "reference", "Account", "Account"),
        FieldInfo("HasOptedOutOfEmail", "boolean"),
        FieldInfo("Birthdate", "date"),
        FieldInfo("Score__c", "double"),
    ),
    "Order": _object(
        "Order",
        FieldInfo("OrderNumber", "string"),
        FieldInfo("BillToContactId", "reference", "Contact", "BillToContact"),
        FieldInfo("TotalAmount", "currency"),
        FieldInfo("EffectiveDate", "date"),
    ),
    "Lead": _object("Lead", FieldInfo("LastName", "string")),
}
SCHEMA["Task"] = ObjectInfo(
    "Task",
    {
        **SCHEMA["Lead"].fields,
        "WhoId": PolyField("WhoId", "reference", ["Contact", "Lead"], "Who"),  # type: ignore[dict-item]
    },
)

A1, A2, A3 = "001000000000001AAA", "001000000000002AAA", "001000000000003AAA"
C1, C2, C3, C4, C5 = (f"00300000000000{n}AAA" for n in range(1, 6))
O1, O2, O3 = (f"80100000000000{n}AAA" for n in range(1, 4))
T = "2024-01-01T00:00:00.000+0000"

ROWS: dict[str, list[dict[str, object]]] = {
    "Account": [
        {"Id": A1, "Name": "Acme", "AnnualRevenue": 1000.5, "NumberOfEmployees": 10},
        {"Id": A2, "Name": "globex", "NumberOfEmployees": 200, "Description": "big"},
        {"Id": A3, "Name": "Gone Ltd", "IsDeleted": 1},
    ],
    "Contact": [
        {
            "Id": C1,
            "FirstName": "Ann",
            "LastName": "Lee",
            "Email": "ann@acme.com",
            "AccountId": A1,
            "HasOptedOutOfEmail": 0,
            "Birthdate": "1990-05-01",
            "Score__c": 3.5,
            "CreatedDate": "2024-01-01T10:00:00.000+0000",
        },
        {
            "Id": C2,
            "FirstName": "Bob",
            "LastName": "O'Brien",
            "Email": "bob@globex.com",
            "AccountId": A2,
            "HasOptedOutOfEmail": 1,
            "Score__c": 7,
            "CreatedDate": "2024-02-15T00:00:00.000+0000",
        },
        {
            "Id": C3,
            "LastName": "50%_off\\x",
            "HasOptedOutOfEmail": 0,
            "Birthdate": "2000-12-31",
            "CreatedDate": "2024-03-01T23:59:59.999+0000",
        },
        {"Id": C4, "LastName": "Deleted", "AccountId": A1, "IsDeleted": 1},
        {"Id": C5, "LastName": "orphan", "AccountId": A3, "Email": "EVE@X.ORG"},
    ],
    "Order": [
        {"Id": O1, "OrderNumber": "00001", "BillToContactId": C1, "TotalAmount": 100},
        {"Id": O2, "OrderNumber": "00002", "BillToContactId": C2, "TotalAmount": 250},
        {"Id": O3, "OrderNumber": "00003", "EffectiveDate": "2024-06-15"},
    ],
}


def _database(rows: dict[str, list[dict[str, object]]]) -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    for name, info in SCHEMA.items():
        columns = ", ".join(f'"{f}"' for f in info.fields)
        db.execute(f'CREATE TABLE "{name}" ({columns})')
        for row in rows.get(name, []):
            values = {"IsDeleted": 0, "CreatedDate": T, "SystemModstamp": T, **row}
            names = ", ".join(f'"{k}"' for k in values)
            marks = ", ".join("?" * len(values))
            db.execute(f'INSERT INTO "{name}" ({names}) VALUES ({marks})', list(values.values()))
    return db


@pytest.fixture(scope="module")
def db() -> sqlite3.Connection:
    return _database(ROWS)


def run(db: sqlite3.Connection, soql: str, **kw: object) -> list[tuple[object, ...]]:
    query = compile_soql(soql, SCHEMA, **kw)  # type: ignore[arg-type]
    return db.execute(query.sql, query.params).fetchall()


def ids(db: sqlite3.Connection, soql: str, **kw: object) -> list[object]:
    return [row[0] for row in run(db, soql, **kw)]


def fails(soql: str, code: str = "MALFORMED_QUERY", **kw: object) -> SoqlError:
    with pytest.raises(SoqlError) as caught:
        compile_soql(soql, SCHEMA, **kw)  # type: ignore[arg-type]
    assert caught.value.error_code == code, caught.value.message
    return caught.value


# --- SELECT ---------------------------------------------------------------------------------


def test_select_resolves_names_case_insensitively(db: sqlite3.Connection) -> None:
    query = compile_soql("select id, EMAIL, account.name from CONTACT order by id", SCHEMA)
    assert isinstance(query, CompiledQuery)
    assert query.object_name == "Contact"
    assert query.select_fields == ["Id", "Email", "Account.Name"]
    assert query.relationships == {"Account": "Account"}
    assert not query.count_only
    assert query.limit is None
    assert query.offset is None
    # One column per select field, then the related record's Id per relationship.
    assert db.execute(query.sql, query.params).fetchall() == [
        (C1, "ann@acme.com", "Acme", A1),
        (C2, "bob@globex.com", "globex", A2),
        (C3, None, None, None),
        (C5, "EVE@X.ORG", None, None),  # its Account is deleted
    ]


def test_relationships_lists_only_selected_ones() -> None:
    query = compile_soql("SELECT Id FROM Contact WHERE Account.Name = 'Acme'", SCHEMA)
    assert query.relationships == {}


def test_custom_relationship_name(db: sqlite3.Connection) -> None:
    rows = run(db, "SELECT OrderNumber, BillToContact.Email FROM Order ORDER BY OrderNumber")
    assert rows == [
        ("00001", "ann@acme.com", C1),
        ("00002", "bob@globex.com", C2),
        ("00003", None, None),
    ]


def test_alias_and_object_prefix(db: sqlite3.Connection) -> None:
    soql = "SELECT c.Id, Contact.LastName FROM Contact c WHERE c.Account.Name = 'Acme'"
    assert run(db, soql) == [(C1, "Lee")]


def test_deleted_rows_only_with_query_all(db: sqlite3.Connection) -> None:
    soql = "SELECT Id FROM Contact WHERE LastName = 'Deleted'"
    assert ids(db, soql) == []
    assert ids(db, soql, include_deleted=True) == [C4]


def test_count(db: sqlite3.Connection) -> None:
    query = compile_soql("SELECT COUNT() FROM Contact", SCHEMA)
    assert query.count_only
    assert query.select_fields == []
    assert db.execute(query.sql, query.params).fetchall() == [(4,)]
    assert run(db, "SELECT count() FROM Contact WHERE Account.Name LIKE 'a%'") == [(1,)]
    assert run(db, "SELECT COUNT() FROM Contact LIMIT 2") == [(2,)]
    assert run(db, "SELECT COUNT() FROM Contact LIMIT 10 OFFSET 3") == [(1,)]


# --- WHERE ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("LastName = 'lee'", [C1]),  # text compares case-insensitively
        ("LastName = 'O\\'Brien'", [C2]),
        ("LastName = '50%_off\\\\x'", [C3]),
        ("LastName != 'Lee'", [C2, C3, C5]),
        ("Email != 'ann@acme.com'", [C2, C3, C5]),  # != includes nulls
        ("Email <> 'ann@acme.com'", [C2, C3, C5]),
        ("Email = null", [C3]),
        ("Email != NULL", [C1, C2, C5]),
        ("LastName < 'M'", [C1, C3]),
        ("LastName >= 'o'", [C2, C5]),
        ("Score__c > 3.5", [C2]),
        ("Score__c >= 3.5", [C1, C2]),
        ("Score__c <= 7", [C1, C2]),
        ("Score__c = -1", []),
        ("Score__c != 7", [C1, C3, C5]),
        ("HasOptedOutOfEmail = true", [C2]),
        ("HasOptedOutOfEmail = FALSE", [C1, C3]),
        ("HasOptedOutOfEmail != true", [C1, C3, C5]),
        ("Birthdate > 1995-01-01", [C3]),
        ("Birthdate = 1990-05-01", [C1]),
        ("CreatedDate > 2024-01-01T10:00:00Z", [C2, C3]),
        ("CreatedDate >= 2024-01-01T10:00:00Z", [C1, C2, C3]),
        ("CreatedDate = 2024-01-01T12:00:00+02:00", [C1]),  # offsets are normalised to UTC
        ("CreatedDate < 2024-02-14T19:00:00-05:00", [C1, C5]),
        ("CreatedDate = 2024-03-01T23:59:59.999Z", [C3]),
        ("CreatedDate > 2024-03-01T23:59:59.998Z", [C3]),
        ("Account.Name = 'ACME'", [C1]),
        ("Account.NumberOfEmployees > 50", [C2]),
        ("AccountId = '001000000000001AAA'", [C1]),
        ("Id = '003000000000002'", [C2]),  # 15-character ids are extended
    ],
)
def test_comparisons(db: sqlite3.Connection, where: str, expected: list[str]) -> None:
    assert ids(db, f"SELECT Id FROM Contact WHERE {where} ORDER BY Id") == expected


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("LastName IN ('lee', 'orphan')", [C1, C5]),
        ("LastName IN ('Lee')", [C1]),
        ("Email IN ('ann@acme.com', null)", [C1, C3]),
        ("Email NOT IN ('ann@acme.com')", [C2, C3, C5]),  # nulls included, as with !=
        ("Email NOT IN ('ann@acme.com', null)", [C2, C5]),
        ("Score__c IN (3.5, 7)", [C1, C2]),
        ("Birthdate IN (1990-05-01, 2000-12-31)", [C1, C3]),
        ("Id IN ('003000000000001AAA', '003000000000004AAA')", [C1]),
        ("Account.Name NOT IN ('Acme')", [C2, C3, C5]),
    ],
)
def test_in(db: sqlite3.Connection, where: str, expected: list[str]) -> None:
    assert ids(db, f"SELECT Id FROM Contact WHERE {where} ORDER BY Id") == expected


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("'%@%.com'", [C1, C2]),
        ("'ANN%'", [C1]),  # case-insensitive
        ("'%.ORG'", [C5]),
        ("'___@%'", [C1, C2, C5]),
        ("'%'", [C1, C2, C5]),  # never matches null
    ],
)
def test_like(db: sqlite3.Connection, pattern: str, expected: list[str]) -> None:
    assert ids(db, f"SELECT Id FROM Contact WHERE Email LIKE {pattern} ORDER BY Id") == expected


def test_like_escaped_wildcards(db: sqlite3.Connection) -> None:
    assert ids(db, "SELECT Id FROM Contact WHERE LastName LIKE '50\\%\\_off%'") == [C3]
    assert ids(db, "SELECT Id FROM Contact WHERE LastName LIKE '50\\%\\_off\\\\x'") == [C3]
    assert ids(db, "SELECT Id FROM Contact WHERE LastName LIKE '5\\%%'") == []


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("LastName = 'Lee' OR LastName = 'orphan'", [C1, C5]),
        ("LastName = 'Lee' AND Email = 'ann@acme.com'", [C1]),
        ("(LastName = 'Lee' OR Email = null) AND HasOptedOutOfEmail = false", [C1, C3]),
        ("LastName = 'orphan' OR (Score__c > 1 AND Score__c < 5)", [C1, C5]),
        ("NOT LastName = 'Lee'", [C2, C3, C5]),
        ("NOT (Email = 'ann@acme.com')", [C2, C3, C5]),  # the complement keeps nulls
        ("NOT (Score__c > 5 OR Email LIKE '%acme%')", [C3, C5]),
        ("NOT NOT LastName = 'Lee'", [C1]),
        ("((LastName = 'Lee'))", [C1]),
        ("NOT Email IN ('ann@acme.com') AND Email != null", [C2, C5]),
        ("(Account.Name = 'Acme' OR Account.Name = null) AND NOT Score__c = null", [C1]),
    ],
)
def test_logic(db: sqlite3.Connection, where: str, expected: list[str]) -> None:
    assert ids(db, f"SELECT Id FROM Contact WHERE {where} ORDER BY Id") == expected


def test_keywords_are_case_insensitive(db: sqlite3.Connection) -> None:
    soql = "select Id from Contact where not LastName in ('Lee') and Email like '%.org' limit 5"
    assert ids(db, soql) == [C5]


# --- date literals ----------------------------------------------------------------------------


def _clock() -> datetime:
    return datetime(2024, 3, 2, 15, 30, tzinfo=UTC)  # a Saturday


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("CreatedDate = TODAY", []),
        ("CreatedDate = YESTERDAY", [C3]),
        ("CreatedDate < YESTERDAY", [C1, C2, C5]),
        ("CreatedDate <= YESTERDAY", [C1, C2, C3, C5]),
        ("CreatedDate > YESTERDAY", []),
        ("CreatedDate >= YESTERDAY", [C3]),
        ("CreatedDate != YESTERDAY", [C1, C2, C5]),
        ("CreatedDate = LAST_N_DAYS:1", [C3]),
        ("CreatedDate = LAST_N_DAYS:30", [C2, C3]),
        ("CreatedDate = N_DAYS_AGO:16", [C2]),
        ("CreatedDate = THIS_MONTH", [C3]),
        ("CreatedDate = LAST_MONTH", [C2]),
        ("CreatedDate = THIS_YEAR", [C1, C2, C3, C5]),
        ("CreatedDate = THIS_WEEK", [C3]),
        ("CreatedDate IN (LAST_MONTH, 2024-01-01T10:00:00Z)", [C1, C2]),
        ("CreatedDate NOT IN (THIS_MONTH, LAST_MONTH)", [C1, C5]),
    ],
)
def test_date_literals_on_datetimes(
    db: sqlite3.Connection, where: str, expected: list[str]
) -> None:
    assert ids(db, f"SELECT Id FROM Contact WHERE {where} ORDER BY Id", clock=_clock) == expected


def test_date_literals_on_dates(db: sqlite3.Connection) -> None:
    def clock() -> datetime:
        return datetime(2024, 6, 14, 23, 0, tzinfo=UTC)

    soql = "SELECT Id FROM Order WHERE EffectiveDate = {} ORDER BY Id"
    assert ids(db, soql.format("TOMORROW"), clock=clock) == [O3]
    assert ids(db, soql.format("NEXT_N_DAYS:1"), clock=clock) == [O3]
    assert ids(db, soql.format("THIS_WEEK"), clock=clock) == [O3]  # Sunday 9th to Saturday 15th
    assert ids(db, soql.format("NEXT_WEEK"), clock=clock) == []
    assert ids(db, soql.format("TODAY"), clock=clock) == []
    assert ids(db, soql.format("LAST_N_DAYS:5"), clock=clock) == []


# --- ORDER BY, LIMIT, OFFSET -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("LastName", [C3, C1, C2, C5]),
        ("Email", [C3, C1, C2, C5]),  # ascending puts nulls first
        ("Email DESC", [C5, C2, C1, C3]),  # descending puts them last
        ("Email ASC NULLS LAST", [C1, C2, C5, C3]),
        ("Email DESC NULLS FIRST", [C3, C5, C2, C1]),
        ("Account.Name, LastName DESC", [C5, C3, C1, C2]),  # text sorts case-insensitively
        ("HasOptedOutOfEmail DESC, Score__c DESC NULLS LAST, Id", [C2, C1, C3, C5]),
    ],
)
def test_order_by(db: sqlite3.Connection, order: str, expected: list[str]) -> None:
    assert ids(db, f"SELECT Id FROM Contact ORDER BY {order}") == expected


def test_limit_and_offset(db: sqlite3.Connection) -> None:
    query = compile_soql("SELECT Id FROM Contact ORDER BY Id LIMIT 2 OFFSET 1", SCHEMA)
    assert (query.limit, query.offset) == (2, 1)
    assert [r[0] for r in db.execute(query.sql, query.params)] == [C2, C3]
    assert ids(db, "SELECT Id FROM Contact ORDER BY Id OFFSET 3") == [C5]
    assert ids(db, "SELECT Id FROM Contact ORDER BY Id LIMIT 0") == []


def test_object_named_like_a_keyword(db: sqlite3.Connection) -> None:
    soql = "SELECT Id FROM Order WHERE BillToContact.LastName != null ORDER BY TotalAmount DESC"
    assert ids(db, soql) == [O2, O1]


def test_schema_from_localorg_schema_module() -> None:
    from localorg.schema import standard_objects

    query = compile_soql(
        "SELECT Id, BillToContact.Email FROM Order WHERE BillToContactId != null",
        standard_objects(),  # type: ignore[arg-type]
    )
    assert query.relationships == {"BillToContact": "Contact"}


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("soql", "code", "message"),
    [
        ("SELECT Id FROM Nope", "INVALID_TYPE", "sObject type 'Nope' is not supported"),
        (
            "SELECT Id, Foo FROM Contact",
            "INVALID_FIELD",
            "No such column 'Foo' on entity 'Contact'",
        ),
        ("SELECT Id FROM Contact WHERE Foo = 1", "INVALID_FIELD", "No such column 'Foo'"),
        ("SELECT Id FROM Contact ORDER BY Foo", "INVALID_FIELD", "No such column 'Foo'"),
        ("SELECT Foo.Name FROM Contact", "INVALID_FIELD", "Didn't understand relationship 'Foo'"),
        (
            "SELECT Account.Foo FROM Contact",
            "INVALID_FIELD",
            "No such column 'Foo' on entity 'Account'",
        ),
        ("SELECT Account.Owner.Name FROM Contact", "MALFORMED_QUERY", "one relationship only"),
        ("SELECT Who.Name FROM Task", "INVALID_FIELD", "polymorphic relationship 'Who'"),
        ("SELECT Id", "MALFORMED_QUERY", "unexpected token: '<EOF>'"),
        ("SELECT Id Contact", "MALFORMED_QUERY", "unexpected token: 'Contact'"),
        ("SELECT Id FORM Contact", "MALFORMED_QUERY", "unexpected token: 'FORM'"),
        ("SELECT FROM Contact", "MALFORMED_QUERY", "unexpected token: 'FROM'"),
        ("SELECT Id, FROM Contact", "MALFORMED_QUERY", "unexpected token: 'FROM'"),
        ("", "MALFORMED_QUERY", "unexpected token: '<EOF>'"),
        ("SELECT Id FROM Contact WHERE", "MALFORMED_QUERY", "unexpected token: '<EOF>'"),
        (
            "SELECT Id FROM Contact LIMIT 5 garbage",
            "MALFORMED_QUERY",
            "unexpected token: 'garbage'",
        ),
        ("SELECT Id FROM Contact c d", "MALFORMED_QUERY", "unexpected token: 'd'"),
        ("SELECT Id FROM Contact OFFSET 1 LIMIT 2", "MALFORMED_QUERY", "unexpected token: 'LIMIT'"),
        ("SELECT Id FROM Contact WHERE (Email = null", "MALFORMED_QUERY", "expecting ')'"),
        ("SELECT Id FROM Contact WHERE Email = null)", "MALFORMED_QUERY", "unexpected token: ')'"),
        ("SELECT Id FROM Contact WHERE LastName = 'Lee", "MALFORMED_QUERY", "unterminated string"),
        ("SELECT Id FROM Contact WHERE LastName = 'a\\qb'", "MALFORMED_QUERY", "invalid escape"),
        (
            'SELECT Id FROM Contact WHERE LastName = "Lee"',
            "MALFORMED_QUERY",
            "unexpected character",
        ),
        (
            "SELECT Id FROM Contact WHERE LastName = Lee",
            "MALFORMED_QUERY",
            "unexpected token: 'Lee'",
        ),
        ("SELECT Id FROM Contact WHERE Email", "MALFORMED_QUERY", "expecting a comparison"),
        ("SELECT Id FROM Contact WHERE Email IN ()", "MALFORMED_QUERY", "unexpected token: ')'"),
        ("SELECT Id FROM Contact WHERE Email LIKE 5", "MALFORMED_QUERY", "LIKE needs a string"),
        ("SELECT Id FROM Contact WHERE Email NOT LIKE 'a'", "MALFORMED_QUERY", "token: 'NOT'"),
        (
            "SELECT Id FROM Contact WHERE Email = null AND Score__c = 1 OR Score__c = 2",
            "MALFORMED_QUERY",
            "parentheses to mix AND and OR",
        ),
        (
            "SELECT Id FROM Contact WHERE Score__c = '5'",
            "INVALID_FIELD",
            "value of filter criterion for field 'Score__c' must be of type double and "
            "should not be enclosed in quotes",
        ),
        (
            "SELECT Id FROM Contact WHERE LastName = 5",
            "INVALID_FIELD",
            "must be of type string and should be enclosed in quotes",
        ),
        ("SELECT Id FROM Contact WHERE HasOptedOutOfEmail = 1", "INVALID_FIELD", "type boolean"),
        ("SELECT Id FROM Contact WHERE HasOptedOutOfEmail = 'true'", "INVALID_FIELD", "boolean"),
        ("SELECT Id FROM Contact WHERE HasOptedOutOfEmail > false", "INVALID_FIELD", "operator"),
        ("SELECT Id FROM Contact WHERE CreatedDate > 2024-01-01", "INVALID_FIELD", "dateTime"),
        ("SELECT Id FROM Contact WHERE CreatedDate > '2024-01-01'", "INVALID_FIELD", "dateTime"),
        ("SELECT Id FROM Contact WHERE Birthdate = 2024-01-01T00:00:00Z", "INVALID_FIELD", "date"),
        ("SELECT Id FROM Account WHERE NumberOfEmployees = 1.5", "INVALID_FIELD", "integer"),
        ("SELECT Id FROM Contact WHERE Score__c IN (1, 'a')", "INVALID_FIELD", "double"),
        ("SELECT Id FROM Contact WHERE Score__c LIKE '1%'", "INVALID_FIELD", "LIKE"),
        ("SELECT Id FROM Contact WHERE Score__c < null", "MALFORMED_QUERY", "null can only"),
        ("SELECT Id FROM Account WHERE Description = 'x'", "INVALID_FIELD", "can not be filtered"),
        ("SELECT Id FROM Account ORDER BY Description", "INVALID_FIELD", "can not be sorted"),
        ("SELECT Id FROM Contact WHERE Id = 'abc'", "INVALID_QUERY_FILTER_OPERATOR", "invalid ID"),
        ("SELECT Id FROM Contact WHERE Birthdate = 2024-13-01", "MALFORMED_QUERY", "invalid date"),
        (
            "SELECT Id FROM Contact WHERE CreatedDate > 2024-01-01T00:00:00",
            "MALFORMED_QUERY",
            "invalid number, date or datetime literal",
        ),
        ("SELECT Id FROM Contact WHERE Score__c = 1e3", "MALFORMED_QUERY", "invalid number"),
        ("SELECT Id FROM Contact WHERE CreatedDate = LAST_N_DAYS", "MALFORMED_QUERY", ":7"),
        ("SELECT Id FROM Contact LIMIT -1", "MALFORMED_QUERY", "non-negative integer"),
        ("SELECT Id FROM Contact LIMIT 1.5", "MALFORMED_QUERY", "non-negative integer"),
        ("SELECT Id FROM Contact OFFSET 2001", "NUMBER_OUTSIDE_VALID_RANGE", "offset"),
        ("SELECT Id, id FROM Contact", "MALFORMED_QUERY", "duplicate field selected: Id"),
        ("SELECT COUNT(Id) FROM Contact", "MALFORMED_QUERY", "COUNT()"),
        ("SELECT COUNT(), Id FROM Contact", "MALFORMED_QUERY", "only item"),
        ("SELECT FIELDS(ALL) FROM Contact", "MALFORMED_QUERY", "FIELDS()"),
        ("SELECT Id, (SELECT Id FROM Contacts) FROM Account", "MALFORMED_QUERY", "subqueries"),
        (
            "SELECT Id FROM Contact WHERE AccountId IN (SELECT Id FROM Account)",
            "MALFORMED_QUERY",
            "semi-join",
        ),
        ("SELECT LastName FROM Contact GROUP BY LastName", "MALFORMED_QUERY", "GROUP"),
        ("SELECT Id FROM Contact FOR UPDATE", "MALFORMED_QUERY", "FOR"),
    ],
)
def test_errors(soql: str, code: str, message: str) -> None:
    error = fails(soql, code)
    assert message.lower() in error.message.lower()


def test_syntax_errors_are_located() -> None:
    error = fails("SELECT Id\nFORM Contact")
    assert (error.row, error.column) == (2, 1)


# --- escaping ---------------------------------------------------------------------------------


def _ascii_lower(text: str) -> str:
    return text.translate(str.maketrans(string.ascii_uppercase, string.ascii_lowercase))


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=30))
def test_string_literals_round_trip(value: str) -> None:
    rows: dict[str, list[dict[str, object]]] = {
        "Contact": [
            {"Id": C1, "LastName": value},
            {"Id": C2, "LastName": value + "x"},
            {"Id": C3, "LastName": "'; DROP TABLE Contact; --"},
        ]
    }
    db = _database(rows)
    assert ids(db, format_soql("SELECT Id FROM Contact WHERE LastName = {}", value)) == [C1]
    soql = format_soql("SELECT Id FROM Contact WHERE LastName IN {}", [value, "zz"])
    assert ids(db, soql) == [C1]
    # simple-salesforce's :like escaping makes every character literal in a LIKE pattern.
    soql = format_soql("SELECT Id FROM Contact WHERE LastName LIKE '{:like}%' ORDER BY Id", value)
    expected = [
        row["Id"]
        for row in rows["Contact"]
        if _ascii_lower(str(row["LastName"])).startswith(_ascii_lower(value))
    ]
    assert ids(db, soql) == expected
    assert db.execute('SELECT COUNT(*) FROM "Contact"').fetchone() == (3,)
