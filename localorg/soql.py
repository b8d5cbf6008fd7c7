"""The SOQL subset localorg understands, compiled to parameterised SQLite SQL.

``compile_soql(soql, schema)`` parses a query strictly and returns a :class:`CompiledQuery`
whose ``sql`` runs against localorg's storage (one table per sObject, columns named by field
API name). Anything outside the subset fails with :class:`SoqlError` and a Salesforce error
code; a clause is never silently dropped. Every literal, including LIMIT and OFFSET, is a
bound parameter, so no query text ever reaches SQL.

Grammar (keywords and names are case-insensitive; ``[]`` optional, ``*`` repeated)::

    query      := SELECT selection FROM object [alias] [WHERE condition]
                  [ORDER BY ordering ("," ordering)*] [LIMIT integer] [OFFSET integer]
    selection  := COUNT "(" ")" | path ("," path)*
    path       := [alias "."] name ["." name]     -- at most one relationship hop
    condition  := unary (AND unary)* | unary (OR unary)*   -- mixing AND and OR needs ()
    unary      := NOT unary | "(" condition ")" | predicate
    predicate  := path op value
                | path [NOT] IN "(" value ("," value)* ")"
                | path LIKE string
    op         := "=" | "!=" | "<>" | "<" | "<=" | ">" | ">="
    value      := string | number | TRUE | FALSE | NULL | date | datetime
                | date_literal [":" integer]           -- TODAY, LAST_N_DAYS:7, ...
    ordering   := path [ASC | DESC] [NULLS (FIRST | LAST)]

Literals: strings in single quotes with SOQL's backslash escapes (``\\' \\" \\\\ \\n \\r \\t
\\b \\f``, and ``\\% \\_`` for a literal wildcard in LIKE); numbers ``-12`` / ``3.5``; dates
``2024-01-31``; datetimes ``2024-01-31T09:30:00Z`` with optional fraction and a ``Z`` or
``+hh:mm`` offset, normalised to storage form (``2024-01-31T09:30:00.000+0000``).

Salesforce semantics kept: text comparisons and ordering are case-insensitive; ``!=`` and
``NOT IN`` include rows whose field is null; ``NOT`` is the complement of what it negates
(nulls included); ORDER BY defaults to NULLS FIRST ascending and NULLS LAST descending;
15-character ids in filters are extended to 18; textarea fields cannot be filtered or sorted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

from localorg.datetimes import format_datetime, format_midnight
from localorg.ids import to18

__all__ = [
    "CompiledQuery",
    "FieldInfo",
    "FieldLike",
    "ObjectInfo",
    "ObjectLike",
    "Schema",
    "SoqlError",
    "compile_soql",
]


# --- schema ------------------------------------------------------------------------------


class FieldLike(Protocol):
    """What the compiler reads from a field (``localorg.schema.FieldInfo`` fits)."""

    @property
    def name(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def reference_to(self) -> str | Sequence[str] | None: ...
    @property
    def relationship_name(self) -> str | None: ...


class ObjectLike(Protocol):
    """What the compiler reads from an sObject (``localorg.schema.ObjectInfo`` fits)."""

    @property
    def name(self) -> str: ...
    @property
    def fields(self) -> Mapping[str, FieldLike]: ...


Schema = Mapping[str, ObjectLike]


@dataclass(frozen=True)
class FieldInfo:
    """A minimal field description, for tests and callers without ``localorg.schema``."""

    name: str
    type: str
    reference_to: str | None = None
    relationship_name: str | None = None


@dataclass(frozen=True)
class ObjectInfo:
    """A minimal sObject description: its canonical name and fields by canonical name."""

    name: str
    fields: Mapping[str, FieldInfo]


# --- results and errors ---------------------------------------------------------------------


@dataclass(frozen=True)
class CompiledQuery:
    """A SOQL query translated to SQLite.

    ``sql`` returns one column per ``select_fields`` entry, in order, followed by one column
    per ``relationships`` entry (in its order): the related record's ``Id``, NULL when the
    record has no related record, so the caller can answer ``"Account": null`` as Salesforce
    does. For ``count_only`` it returns a single row with the count (LIMIT/OFFSET applied).
    """

    object_name: str
    select_fields: list[str]
    count_only: bool
    sql: str
    params: list[object]
    limit: int | None
    offset: int | None
    # Relationship name -> target object, for the relationships the SELECT list reads.
    relationships: dict[str, str] = field(default_factory=dict)


class SoqlError(Exception):
    """A query localorg rejects, with the Salesforce error code to answer it with.

    ``error_code`` is ``MALFORMED_QUERY`` (syntax or an unsupported construct),
    ``INVALID_FIELD`` (unknown field or relationship, or a value of the wrong type),
    ``INVALID_TYPE`` (unknown sObject), ``INVALID_QUERY_FILTER_OPERATOR`` (a malformed id in
    a filter) or ``NUMBER_OUTSIDE_VALID_RANGE`` (OFFSET above 2,000). ``row`` and ``column``
    (1-based) locate syntax errors in the query text when known.
    """

    def __init__(
        self,
        message: str,
        error_code: str = "MALFORMED_QUERY",
        *,
        row: int | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_code = error_code
        self.row = row
        self.column = column


# --- tokens ---------------------------------------------------------------------------------

_TOKEN_RE = re.compile(
    r"""
    (?P<space>\s+)
    | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}))
      (?![\w:.+-])
    | (?P<date>\d{4}-\d{2}-\d{2})(?![\w:.+-])
    | (?P<number>[+-]?\d+(?:\.\d+)?)(?![\w.:-])
    | (?P<bad_literal>[+-]?\d[\w:.+-]*)
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<op><=|>=|!=|<>|=|<|>)
    | (?P<punct>[(),.:])
    | (?P<quote>')
    """,
    re.VERBOSE,
)

# Backslash escapes in SOQL string literals. ``\%`` and ``\_`` are kept apart: they mean a
# literal wildcard character in LIKE and the two characters themselves elsewhere.
_ESCAPES = {
    "'": "'",
    '"': '"',
    "\\": "\\",
    "n": "\n",
    "N": "\n",
    "r": "\r",
    "R": "\r",
    "t": "\t",
    "T": "\t",
    "b": "\b",
    "B": "\b",
    "f": "\f",
    "F": "\f",
}


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # word, string, number, date, datetime, op, punct, eof
    text: str  # source text (decoded value for strings)
    pos: int
    like: str = ""  # strings only: the value as a LIKE pattern with escape character "\"

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else ""

    def shown(self) -> str:
        return "<EOF>" if self.kind == "eof" else self.text


def _where(soql: str, pos: int) -> tuple[int, int]:
    row = soql.count("\n", 0, pos) + 1
    column = pos - (soql.rfind("\n", 0, pos) + 1) + 1
    return row, column


def _syntax(soql: str, pos: int, message: str) -> SoqlError:
    row, column = _where(soql, pos)
    return SoqlError(message, "MALFORMED_QUERY", row=row, column=column)


def _tokenize(soql: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos, end = 0, len(soql)
    while pos < end:
        match = _TOKEN_RE.match(soql, pos)
        if match is None:
            raise _syntax(soql, pos, f"unexpected character: '{soql[pos]}'")
        kind = match.lastgroup or ""
        if kind == "quote":
            token, pos = _read_string(soql, pos)
            tokens.append(token)
            continue
        if kind == "bad_literal":
            raise _syntax(soql, pos, f"invalid number, date or datetime literal: '{match[0]}'")
        if kind != "space":
            tokens.append(_Token(kind, match[0], pos))
        pos = match.end()
    tokens.append(_Token("eof", "", end))
    return tokens


def _read_string(soql: str, start: int) -> tuple[_Token, int]:
    """Decode the string literal opening at ``start``; return it and the offset after it."""
    value: list[str] = []
    like: list[str] = []
    pos = start + 1
    while pos < len(soql):
        ch = soql[pos]
        if ch == "'":
            return _Token("string", "".join(value), start, "".join(like)), pos + 1
        if ch != "\\":
            value.append(ch)
            like.append(ch)
            pos += 1
            continue
        escaped = soql[pos + 1 : pos + 2]
        if escaped in ("%", "_"):
            value.append("\\" + escaped)
            like.append("\\" + escaped)
        elif escaped and escaped in _ESCAPES:
            decoded = _ESCAPES[escaped]
            value.append(decoded)
            like.append("\\\\" if decoded == "\\" else decoded)
        else:
            shown = escaped or "<EOF>"
            raise _syntax(soql, pos, f"invalid escape sequence in string literal: '\\{shown}'")
        pos += 2
    raise _syntax(soql, start, "unterminated string literal: missing the closing quote (')")


# --- syntax tree ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Path:
    parts: tuple[str, ...]
    pos: int


@dataclass(frozen=True, slots=True)
class _Value:
    token: _Token
    number: int | None = None  # the n of LAST_N_DAYS:n


@dataclass(frozen=True, slots=True)
class _Compare:
    path: _Path
    op: str  # = != < <= > >= IN NOTIN LIKE
    values: tuple[_Value, ...]


@dataclass(frozen=True, slots=True)
class _Not:
    operand: _Condition


@dataclass(frozen=True, slots=True)
class _Junction:
    op: str  # AND / OR
    operands: tuple[_Condition, ...]


_Condition = _Compare | _Not | _Junction


@dataclass(frozen=True, slots=True)
class _Order:
    path: _Path
    descending: bool
    nulls_first: bool


@dataclass
class _Query:
    count_only: bool = False
    select: list[_Path] = field(default_factory=list)
    object_token: _Token | None = None
    alias: str | None = None
    where: _Condition | None = None
    order: list[_Order] = field(default_factory=list)
    limit: int | None = None
    offset: int | None = None


# Words that start the next clause, so they cannot be an alias after FROM.
_CLAUSES = {"WHERE", "ORDER", "LIMIT", "OFFSET"}
_UNSUPPORTED_CLAUSES = {"GROUP", "HAVING", "WITH", "FOR", "USING", "UPDATE", "TYPEOF"}
_RESERVED = {
    "AND", "ASC", "BY", "DESC", "EXCLUDES", "FALSE", "FIRST", "FROM", "GROUP", "HAVING", "IN",
    "INCLUDES", "LAST", "LIKE", "LIMIT", "NOT", "NULL", "NULLS", "OFFSET", "OR", "ORDER",
    "SELECT", "TRUE", "WHERE", "WITH",
}  # fmt: skip
_OPERATORS = {"=": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_UNSUPPORTED_OPERATORS = {"INCLUDES", "EXCLUDES"}


class _Parser:
    """Recursive descent over the token list, one method per grammar rule."""

    def __init__(self, soql: str) -> None:
        self.soql = soql
        self.tokens = _tokenize(soql)
        self.i = 0

    # helpers
    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def advance(self) -> _Token:
        token = self.tokens[self.i]
        if token.kind != "eof":
            self.i += 1
        return token

    def unexpected(self, token: _Token | None = None, hint: str = "") -> SoqlError:
        token = token or self.peek()
        message = f"unexpected token: '{token.shown()}'"
        return _syntax(self.soql, token.pos, message + (f" ({hint})" if hint else ""))

    def at_word(self, *words: str) -> bool:
        return self.peek().upper in words

    def at_punct(self, text: str) -> bool:
        token = self.peek()
        return token.kind == "punct" and token.text == text

    def expect_word(self, word: str) -> _Token:
        if not self.at_word(word):
            raise self.unexpected(hint=f"expecting {word}")
        return self.advance()

    def expect_punct(self, text: str) -> _Token:
        if not self.at_punct(text):
            raise self.unexpected(hint=f"expecting '{text}'")
        return self.advance()

    def unsupported(self, token: _Token, what: str) -> SoqlError:
        return _syntax(self.soql, token.pos, f"localorg's SOQL subset does not support {what}")

    # rules
    def query(self) -> _Query:
        query = _Query()
        self.expect_word("SELECT")
        self.selection(query)
        self.expect_word("FROM")
        if self.peek().kind != "word":
            raise self.unexpected(hint="expecting an sObject name")
        query.object_token = self.advance()
        token = self.peek()
        if token.kind == "word" and token.upper not in _CLAUSES | _UNSUPPORTED_CLAUSES:
            query.alias = self.advance().text
        if self.at_word("WHERE"):
            self.advance()
            query.where = self.condition()
        if self.at_word("ORDER"):
            self.advance()
            self.expect_word("BY")
            query.order.append(self.ordering())
            while self.at_punct(","):
                self.advance()
                query.order.append(self.ordering())
        if self.at_word("LIMIT"):
            self.advance()
            query.limit = self.integer()
        if self.at_word("OFFSET"):
            self.advance()
            query.offset = self.integer()
        token = self.peek()
        if token.upper in _UNSUPPORTED_CLAUSES:
            raise self.unsupported(token, f"{token.upper} (it has WHERE, ORDER BY, LIMIT, OFFSET)")
        if token.kind != "eof":
            raise self.unexpected(token)
        return query

    def selection(self, query: _Query) -> None:
        first = self.peek()
        if first.upper == "COUNT" and self.peek(1).text == "(":
            self.advance()
            self.advance()
            if not self.at_punct(")"):
                raise self.unsupported(first, "COUNT(field); use COUNT()")
            self.advance()
            query.count_only = True
            if self.at_punct(","):
                raise _syntax(self.soql, first.pos, "COUNT() must be the only item selected")
            return
        query.select.append(self.select_item())
        while self.at_punct(","):
            self.advance()
            query.select.append(self.select_item())

    def select_item(self) -> _Path:
        token = self.peek()
        if token.kind == "punct" and token.text == "(":
            raise self.unsupported(token, "relationship subqueries in SELECT")
        if token.kind == "word" and self.peek(1).text == "(":
            raise self.unsupported(token, f"{token.upper}() in SELECT")
        if token.upper == "TYPEOF":
            raise self.unsupported(token, "TYPEOF")
        return self.path()

    def path(self) -> _Path:
        first = self.peek()
        # A reserved word cannot name a field, but may name a relationship (Order.Name).
        reserved = first.upper in _RESERVED and self.peek(1).text != "."
        if first.kind != "word" or reserved:
            raise self.unexpected(first)
        parts = [self.advance().text]
        while self.at_punct("."):
            self.advance()
            if self.peek().kind != "word":
                raise self.unexpected()
            parts.append(self.advance().text)
        return _Path(tuple(parts), first.pos)

    def ordering(self) -> _Order:
        path = self.path()
        descending = False
        if self.at_word("ASC", "DESC"):
            descending = self.advance().upper == "DESC"
        nulls_first = not descending
        if self.at_word("NULLS"):
            self.advance()
            if not self.at_word("FIRST", "LAST"):
                raise self.unexpected(hint="expecting FIRST or LAST")
            nulls_first = self.advance().upper == "FIRST"
        return _Order(path, descending, nulls_first)

    def integer(self) -> int:
        token = self.peek()
        if token.kind != "number" or not token.text.isdigit():
            raise self.unexpected(hint="expecting a non-negative integer")
        self.advance()
        return int(token.text)

    def condition(self) -> _Condition:
        operands = [self.unary()]
        junction = ""
        while self.at_word("AND", "OR"):
            word = self.peek().upper
            if junction and word != junction:
                raise self.unexpected(hint="SOQL needs parentheses to mix AND and OR")
            junction = word
            self.advance()
            operands.append(self.unary())
        return _Junction(junction, tuple(operands)) if junction else operands[0]

    def unary(self) -> _Condition:
        if self.at_word("NOT"):
            self.advance()
            return _Not(self.unary())
        if self.at_punct("("):
            self.advance()
            inner = self.condition()
            self.expect_punct(")")
            return inner
        return self.predicate()

    def predicate(self) -> _Condition:
        path = self.path()
        token = self.peek()
        if token.kind == "op":
            self.advance()
            return _Compare(path, _OPERATORS[token.text], (self.value(),))
        if token.upper == "LIKE":
            self.advance()
            pattern = self.peek()
            if pattern.kind != "string":
                raise self.unexpected(hint="LIKE needs a string literal")
            self.advance()
            return _Compare(path, "LIKE", (_Value(pattern),))
        negated = token.upper == "NOT"
        if negated and self.peek(1).upper == "IN":
            self.advance()
        if self.at_word("IN"):
            self.advance()
            return _Compare(path, "NOTIN" if negated else "IN", self.value_list())
        if token.upper in _UNSUPPORTED_OPERATORS:
            raise self.unsupported(token, token.upper)
        raise self.unexpected(token, "expecting a comparison operator, LIKE or IN")

    def value_list(self) -> tuple[_Value, ...]:
        self.expect_punct("(")
        if self.at_word("SELECT"):
            raise self.unsupported(self.peek(), "semi-join subqueries (IN (SELECT ...))")
        values = [self.value()]
        while self.at_punct(","):
            self.advance()
            values.append(self.value())
        self.expect_punct(")")
        return tuple(values)

    def value(self) -> _Value:
        token = self.peek()
        if token.kind in ("string", "number", "date", "datetime"):
            self.advance()
            return _Value(token)
        if token.kind == "word" and token.upper in ("TRUE", "FALSE", "NULL"):
            self.advance()
            return _Value(token)
        if token.upper in _DATE_LITERALS:
            self.advance()
            return _Value(token)
        if token.upper in _DATE_LITERALS_WITH_N:
            self.advance()
            if not self.at_punct(":"):
                message = f"date literal {token.upper} needs a number, as in {token.upper}:7"
                raise _syntax(self.soql, token.pos, message)
            self.advance()
            return _Value(token, self.integer())
        raise self.unexpected(token)


# --- date literals --------------------------------------------------------------------------


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _week_start(day: date) -> date:
    # Salesforce weeks start on Sunday (the default US locale).
    return day - timedelta(days=(day.weekday() + 1) % 7)


def _days(today: date, start: int, end: int) -> tuple[date, date]:
    return today + timedelta(days=start), today + timedelta(days=end)


def _weeks(today: date, offset: int) -> tuple[date, date]:
    start = _week_start(today) + timedelta(weeks=offset)
    return start, start + timedelta(weeks=1)


def _months(today: date, offset: int) -> tuple[date, date]:
    start = _add_months(today.replace(day=1), offset)
    return start, _add_months(start, 1)


def _years(today: date, offset: int) -> tuple[date, date]:
    start = date(today.year + offset, 1, 1)
    return start, date(today.year + offset + 1, 1, 1)


# Each date literal is a half-open range of days [start, end) relative to today.
_DATE_LITERALS: dict[str, Callable[[date], tuple[date, date]]] = {
    "TODAY": lambda t: _days(t, 0, 1),
    "YESTERDAY": lambda t: _days(t, -1, 0),
    "TOMORROW": lambda t: _days(t, 1, 2),
    "LAST_WEEK": lambda t: _weeks(t, -1),
    "THIS_WEEK": lambda t: _weeks(t, 0),
    "NEXT_WEEK": lambda t: _weeks(t, 1),
    "LAST_MONTH": lambda t: _months(t, -1),
    "THIS_MONTH": lambda t: _months(t, 0),
    "NEXT_MONTH": lambda t: _months(t, 1),
    "LAST_YEAR": lambda t: _years(t, -1),
    "THIS_YEAR": lambda t: _years(t, 0),
    "NEXT_YEAR": lambda t: _years(t, 1),
    "LAST_90_DAYS": lambda t: _days(t, -90, 1),
    "NEXT_90_DAYS": lambda t: _days(t, 1, 91),
}
# Literals taking ":n". LAST_N_DAYS:n covers today and the n days before it.
_DATE_LITERALS_WITH_N: dict[str, Callable[[date, int], tuple[date, date]]] = {
    "LAST_N_DAYS": lambda t, n: _days(t, -n, 1),
    "NEXT_N_DAYS": lambda t, n: _days(t, 1, n + 1),
    "N_DAYS_AGO": lambda t, n: _days(t, -n, -n + 1),
    "LAST_N_WEEKS": lambda t, n: (_weeks(t, -n)[0], _weeks(t, 0)[0]),
    "NEXT_N_WEEKS": lambda t, n: (_weeks(t, 1)[0], _weeks(t, n + 1)[0]),
    "LAST_N_MONTHS": lambda t, n: (_months(t, -n)[0], _months(t, 0)[0]),
    "NEXT_N_MONTHS": lambda t, n: (_months(t, 1)[0], _months(t, n + 1)[0]),
}


# --- compilation ----------------------------------------------------------------------------

_TEXT_TYPES = {
    "string",
    "email",
    "phone",
    "picklist",
    "multipicklist",
    "combobox",
    "textarea",
    "url",
    "encryptedstring",
}
_ID_TYPES = {"id", "reference"}
_DECIMAL_TYPES = {"double", "currency", "percent"}
_INTEGER_TYPES = {"int", "long"}
# How Salesforce names each type in "must be of type ..." messages.
_TYPE_WORDS = {"boolean": "boolean", "date": "date", "datetime": "dateTime", "int": "integer"}
_ID_RE = re.compile(r"[0-9A-Za-z]{15}(?:[0-9A-Za-z]{3})?")
MAX_OFFSET = 2000


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _targets(info: FieldLike) -> list[str]:
    target = info.reference_to
    if target is None:
        return []
    return [target] if isinstance(target, str) else list(target)


def _normalise_datetime(text: str) -> str:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SoqlError(f"invalid datetime literal: '{text}'") from None
    return format_datetime(moment)


def _find_object(schema: Schema, name: str) -> ObjectLike | None:
    found = schema.get(name)
    if found is not None:
        return found
    lower = name.lower()
    return next((info for key, info in schema.items() if key.lower() == lower), None)


def _find_field(info: ObjectLike, name: str) -> FieldLike | None:
    found = info.fields.get(name)
    if found is not None:
        return found
    lower = name.lower()
    return next((f for key, f in info.fields.items() if key.lower() == lower), None)


def _find_relationship(info: ObjectLike, name: str) -> FieldLike | None:
    lower = name.lower()
    return next(
        (
            f
            for f in info.fields.values()
            if f.relationship_name and f.relationship_name.lower() == lower
        ),
        None,
    )


def _no_such_column(name: str, entity: str) -> SoqlError:
    return SoqlError(
        f"No such column '{name}' on entity '{entity}'. If you are attempting to use a custom "
        "field, be sure to append the '__c' after the custom field name. Please reference "
        "your WSDL or the describe call for the appropriate names.",
        "INVALID_FIELD",
    )


@dataclass(frozen=True, slots=True)
class _Column:
    sql: str  # qualified column, e.g. t1."Name"
    info: FieldLike
    path: str  # canonical output path, e.g. Account.Name
    relationship: str | None  # canonical relationship name when the path crosses one

    @property
    def text(self) -> bool:
        return self.info.type in _TEXT_TYPES

    @property
    def collated(self) -> str:
        # Salesforce compares and sorts text case-insensitively.
        return self.sql + " COLLATE NOCASE" if self.text else self.sql


@dataclass(slots=True)
class _Join:
    alias: str
    target: str
    sql: str


class _Compiler:
    """Resolves names against the schema and writes SQL for a parsed query."""

    def __init__(
        self,
        query: _Query,
        schema: Schema,
        include_deleted: bool,
        clock: Callable[[], datetime] | None,
    ) -> None:
        self.query = query
        self.schema = schema
        self.include_deleted = include_deleted
        self.clock = clock
        self.today: date | None = None
        self.params: list[object] = []
        self.joins: dict[str, _Join] = {}  # canonical relationship name -> join
        assert query.object_token is not None
        name = query.object_token.text
        root = _find_object(schema, name)
        if root is None:
            raise SoqlError(
                f"sObject type '{name}' is not supported. If you are attempting to use a custom "
                "object, be sure to append the '__c' after the entity name. Please reference "
                "your WSDL or the describe call for the appropriate names.",
                "INVALID_TYPE",
            )
        self.root = root
        self.alias = query.alias.lower() if query.alias else None

    # names
    def is_prefix(self, word: str) -> bool:
        """True for "c" in "c.Name" (FROM Contact c), or "Contact" when no relationship has it."""
        lower = word.lower()
        if self.alias is not None and lower == self.alias:
            return True
        return lower == self.root.name.lower() and _find_relationship(self.root, word) is None

    def column(self, path: _Path) -> _Column:
        parts = list(path.parts)
        if len(parts) > 1 and self.is_prefix(parts[0]):
            parts = parts[1:]
        if len(parts) == 1:
            info = _find_field(self.root, parts[0])
            if info is None:
                raise _no_such_column(parts[0], self.root.name)
            return _Column(f"t0.{_quote(info.name)}", info, info.name, None)
        if len(parts) > 2:
            raise SoqlError(
                f"localorg's SOQL subset follows one relationship only: '{'.'.join(path.parts)}'"
            )
        reference = _find_relationship(self.root, parts[0])
        if reference is None:
            raise SoqlError(
                f"Didn't understand relationship '{parts[0]}' in field path. If you are "
                "attempting to use a custom relationship, be sure to append the '__r' after "
                "the custom relationship name. Please reference your WSDL or the describe call "
                "for the appropriate names.",
                "INVALID_FIELD",
            )
        join = self.join(reference)
        target = _find_object(self.schema, join.target)
        assert target is not None
        info = _find_field(target, parts[1])
        if info is None:
            raise _no_such_column(parts[1], target.name)
        relationship = reference.relationship_name or ""
        return _Column(
            f"{join.alias}.{_quote(info.name)}", info, f"{relationship}.{info.name}", relationship
        )

    def join(self, reference: FieldLike) -> _Join:
        relationship = reference.relationship_name or ""
        existing = self.joins.get(relationship)
        if existing is not None:
            return existing
        targets = _targets(reference)
        if len(targets) != 1:
            raise SoqlError(
                f"localorg's SOQL subset does not support the polymorphic relationship "
                f"'{relationship}' (it points to {', '.join(targets) or 'nothing'})",
                "INVALID_FIELD",
            )
        target = _find_object(self.schema, targets[0])
        if target is None:
            raise SoqlError(
                f"relationship '{relationship}' points to unknown sObject '{targets[0]}'",
                "INVALID_FIELD",
            )
        alias = f"t{len(self.joins) + 1}"
        on = f'{alias}."Id" = t0.{_quote(reference.name)}'
        if not self.include_deleted:
            on += f' AND {alias}."IsDeleted" = 0'
        sql = f"LEFT JOIN {_quote(target.name)} AS {alias} ON {on}"
        join = _Join(alias, target.name, sql)
        self.joins[relationship] = join
        return join

    # whole query
    def compile(self) -> CompiledQuery:
        query = self.query
        columns: list[_Column] = []
        seen: set[str] = set()
        for path in query.select:
            column = self.column(path)
            if column.path.lower() in seen:
                raise SoqlError(f"duplicate field selected: {column.path}")
            seen.add(column.path.lower())
            columns.append(column)
        relationships: dict[str, str] = {}
        for column in columns:
            if column.relationship and column.relationship not in relationships:
                relationships[column.relationship] = self.joins[column.relationship].target

        where: list[str] = []
        if not self.include_deleted:
            where.append('t0."IsDeleted" = 0')
        if query.where is not None:
            where.append(self.condition(query.where, top=True))
        order = [self.ordering(item) for item in query.order]
        if query.offset is not None and query.offset > MAX_OFFSET:
            raise SoqlError(
                f"Maximum SOQL offset allowed is {MAX_OFFSET}", "NUMBER_OUTSIDE_VALID_RANGE"
            )

        # The joins are known only after every clause is resolved.
        body = f"FROM {_quote(self.root.name)} AS t0"
        for join in self.joins.values():
            body += f" {join.sql}"
        if where:
            body += " WHERE " + " AND ".join(where)
        if order:
            body += " ORDER BY " + ", ".join(order)
        if query.limit is not None or query.offset is not None:
            body += " LIMIT ? OFFSET ?"
            self.params += [-1 if query.limit is None else query.limit, query.offset or 0]

        if query.count_only:
            if query.limit is None and query.offset is None:
                sql = f"SELECT COUNT(*) {body}"
            else:
                sql = f"SELECT COUNT(*) FROM (SELECT 1 {body})"
        else:
            outputs = [c.sql for c in columns]
            outputs += [f'{self.joins[name].alias}."Id"' for name in relationships]
            sql = f"SELECT {', '.join(outputs)} {body}"
        return CompiledQuery(
            object_name=self.root.name,
            select_fields=[c.path for c in columns],
            count_only=query.count_only,
            sql=sql,
            params=self.params,
            limit=query.limit,
            offset=query.offset,
            relationships=relationships,
        )

    def ordering(self, item: _Order) -> str:
        column = self.column(item.path)
        if column.info.type == "textarea":
            raise SoqlError(
                f"field '{column.path}' can not be sorted in a query call", "INVALID_FIELD"
            )
        direction = "DESC" if item.descending else "ASC"
        nulls = "FIRST" if item.nulls_first else "LAST"
        return f"{column.collated} {direction} NULLS {nulls}"

    # WHERE
    def condition(self, node: _Condition, *, top: bool = False) -> str:
        if isinstance(node, _Junction):
            inner = f" {node.op} ".join(self.condition(item) for item in node.operands)
            return inner if top and node.op == "AND" else f"({inner})"
        if isinstance(node, _Not):
            # COALESCE makes NOT a true complement: a comparison with null counts as false.
            return f"NOT COALESCE({self.condition(node.operand, top=True)}, 0)"
        return self.compare(node)

    def compare(self, node: _Compare) -> str:
        column = self.column(node.path)
        kind = column.info.type
        if kind == "textarea":
            raise SoqlError(
                f"field '{column.path}' can not be filtered in a query call", "INVALID_FIELD"
            )
        if node.op == "LIKE":
            if kind not in _TEXT_TYPES:
                raise SoqlError(
                    f"invalid operator on {kind} field '{column.path}': LIKE needs a text field",
                    "INVALID_FIELD",
                )
            self.params.append(node.values[0].token.like)
            return f"{column.sql} LIKE ? ESCAPE '\\'"
        if node.op in ("IN", "NOTIN"):
            matched = self.membership(column, node.values)
            return f"NOT COALESCE({matched}, 0)" if node.op == "NOTIN" else matched
        value = node.values[0]
        if value.token.upper == "NULL":
            if node.op not in ("=", "!="):
                raise SoqlError(f"null can only be compared with = or != (field '{column.path}')")
            return f"{column.sql} IS {'NOT ' if node.op == '!=' else ''}NULL"
        if kind == "boolean" and node.op not in ("=", "!="):
            raise SoqlError(
                f"invalid operator on boolean field '{column.path}': use = or !=", "INVALID_FIELD"
            )
        bound = self.bind(column, value)
        if isinstance(bound, tuple):
            return self.date_range(column, node.op, bound)
        self.params.append(bound)
        if node.op == "!=":
            # Salesforce's != matches records whose field is empty.
            return f"({column.sql} IS NULL OR {column.collated} != ?)"
        return f"{column.collated} {node.op} ?"

    def membership(self, column: _Column, values: tuple[_Value, ...]) -> str:
        plain: list[object] = []
        ranges: list[tuple[str, str]] = []
        with_null = False
        for value in values:
            if value.token.upper == "NULL":
                with_null = True
                continue
            bound = self.bind(column, value)
            if isinstance(bound, tuple):
                ranges.append(bound)
            else:
                plain.append(bound)
        # Terms are written in the order their parameters are appended.
        terms: list[str] = []
        if plain:
            self.params.extend(plain)
            terms.append(f"{column.collated} IN ({', '.join('?' * len(plain))})")
        terms += [self.date_range(column, "=", bounds) for bounds in ranges]
        if with_null:
            terms.append(f"{column.sql} IS NULL")
        return terms[0] if len(terms) == 1 else "(" + " OR ".join(terms) + ")"

    def date_range(self, column: _Column, op: str, bounds: tuple[str, str]) -> str:
        start, end = bounds
        if op == "=":
            self.params += [start, end]
            return f"({column.sql} >= ? AND {column.sql} < ?)"
        if op == "!=":
            return f"NOT COALESCE({self.date_range(column, '=', bounds)}, 0)"
        # < before the range, <= up to its end, > after it, >= from its start.
        bound, sql_op = {
            "<": (start, "<"),
            "<=": (end, "<"),
            ">": (end, ">="),
            ">=": (start, ">="),
        }[op]
        self.params.append(bound)
        return f"{column.sql} {sql_op} ?"

    def bind(self, column: _Column, value: _Value) -> object | tuple[str, str]:
        """The parameter for ``value`` compared with ``column``, or a date literal's bounds."""
        token = value.token
        kind = column.info.type
        name = column.path
        if kind in _TEXT_TYPES or kind in _ID_TYPES:
            if token.kind != "string":
                raise self.mismatch(name, "string", quoted=True)
            if kind in _ID_TYPES:
                return self.record_id(token.text)
            return token.text
        if kind in _DECIMAL_TYPES or kind in _INTEGER_TYPES:
            integer = kind in _INTEGER_TYPES
            if token.kind != "number" or (integer and "." in token.text):
                raise self.mismatch(name, "integer" if integer else "double")
            return int(token.text) if "." not in token.text else float(token.text)
        if kind == "boolean":
            if token.upper not in ("TRUE", "FALSE"):
                raise self.mismatch(name, "boolean")
            return 1 if token.upper == "TRUE" else 0
        if kind in ("date", "datetime"):
            if token.kind == "word":
                return self.date_bounds(kind, value)
            if token.kind == "date" and kind == "date":
                try:
                    return date.fromisoformat(token.text).isoformat()
                except ValueError:
                    raise SoqlError(f"invalid date literal: '{token.text}'") from None
            if token.kind == "datetime" and kind == "datetime":
                return _normalise_datetime(token.text)
            raise self.mismatch(name, _TYPE_WORDS[kind])
        raise SoqlError(f"localorg cannot filter on field '{name}' of type {kind}", "INVALID_FIELD")

    def record_id(self, text: str) -> str:
        if not _ID_RE.fullmatch(text):
            raise SoqlError(f"invalid ID field: {text}", "INVALID_QUERY_FILTER_OPERATOR")
        return to18(text) if len(text) == 15 else text

    def date_bounds(self, kind: str, value: _Value) -> tuple[str, str]:
        if self.today is None:
            moment = self.clock() if self.clock else datetime.now(UTC)
            if moment.tzinfo is None:
                raise ValueError("the SOQL clock must return an aware datetime")
            self.today = moment.astimezone(UTC).date()
        word = value.token.upper
        if value.number is not None:
            start, end = _DATE_LITERALS_WITH_N[word](self.today, value.number)
        else:
            start, end = _DATE_LITERALS[word](self.today)
        if kind == "date":
            return start.isoformat(), end.isoformat()
        return format_midnight(start), format_midnight(end)

    @staticmethod
    def mismatch(name: str, type_word: str, *, quoted: bool = False) -> SoqlError:
        enclosed = "should be enclosed in quotes" if quoted else "should not be enclosed in quotes"
        return SoqlError(
            f"value of filter criterion for field '{name}' must be of type {type_word} and "
            f"{enclosed}",
            "INVALID_FIELD",
        )


def compile_soql(
    soql: str,
    schema: Schema,
    *,
    include_deleted: bool = False,
    clock: Callable[[], datetime] | None = None,
) -> CompiledQuery:
    """Translate ``soql`` into SQL over localorg's tables, or raise :class:`SoqlError`.

    ``include_deleted`` is True for queryAll (deleted rows stay in); ``clock`` supplies "now"
    (an aware datetime) for date literals such as TODAY, and defaults to the system clock.
    """
    query = _Parser(soql).query()
    return _Compiler(query, schema, include_deleted, clock).compile()
