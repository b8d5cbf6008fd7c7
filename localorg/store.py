"""localorg's data: one SQLite table per sObject, plus a few bookkeeping tables.

Values are kept in the form Salesforce returns them over REST (datetimes as
``2026-01-02T03:04:05.000+0000`` text, dates as ``YYYY-MM-DD``, booleans as 0/1), so that reading
a record is a dictionary lookup, and SOQL comparisons on datetimes are plain text comparisons.

Writes go through :meth:`OrgStore.insert`, :meth:`OrgStore.update` and :meth:`OrgStore.delete`,
which validate against the schema and answer with Salesforce's error shapes, so the REST,
collections and Bulk API layers share one set of rules.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from localorg import person_accounts
from localorg.access import CURRENT_USER, Access
from localorg.datetimes import format_datetime
from localorg.features import OrgFeatures, apply_features, currency_rows
from localorg.flows import FlowEngine, dumps_detail
from localorg.ids import KEY_PREFIXES, IdFactory, is_valid, object_for_id, to18
from localorg.schema import FieldInfo, ObjectInfo, standard_objects

_DATETIME_RE = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(\.\d{1,6})?(Z|[+-]\d{2}:?\d{2})?$"
)
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Fields whose value the org derives, never the caller.
_NAME_OBJECTS = ("Contact", "Lead", "User")
# Objects whose saves localorg.access.save_refusal checks (localorg.permission_rules).
_PERMISSION_OBJECTS = frozenset(
    {"ObjectPermissions", "PermissionSet", "PermissionSetAssignment", "PermissionSetLicenseAssign"}
)
# The pod of the ids this org mints (two characters after the key prefix).
ID_POD = "5g"
# The StartDate of the first dated rate of each currency in a new org.
FIRST_RATE_DATE = "1900-01-01"

RowChecker = Callable[[Mapping[str, Any]], dict[str, Any]]
"""A compiled :meth:`OrgStore.clean`: write body in, values in storage form out."""
# A body key's plan: (field name, coercer or None, refusal (code, message, field) or None).
_Column = tuple[str, Callable[[Any], Any] | None, tuple[str, str, str] | None]


def parse_datetime(text: str) -> datetime:
    """Parse any ISO 8601 datetime Salesforce accepts into an aware UTC datetime."""
    match = _DATETIME_RE.match(text.strip())
    if not match:
        raise ValueError(text)
    day, clock, frac, zone = match.groups()
    base = datetime.fromisoformat(f"{day}T{clock}{frac or ''}")
    if zone and zone != "Z":
        zone = zone if ":" in zone else zone[:3] + ":" + zone[3:]
        base = datetime.fromisoformat(f"{day}T{clock}{frac or ''}{zone}")
    else:
        base = base.replace(tzinfo=UTC)
    return base.astimezone(UTC)


def now_text() -> str:
    """The current time in storage form."""
    return format_datetime(datetime.now(UTC))


@dataclass
class RecordError:
    """One Salesforce error: the entries of the ``errors`` lists Salesforce returns."""

    status_code: str
    message: str
    fields: list[str]

    def rest(self) -> dict[str, Any]:
        """As a REST error body entry (``errorCode``)."""
        return {"message": self.message, "errorCode": self.status_code, "fields": self.fields}

    def collection(self) -> dict[str, Any]:
        """As an sObject Collections / save-result entry (``statusCode``)."""
        return {"statusCode": self.status_code, "message": self.message, "fields": self.fields}


class RecordFault(Exception):
    """A write was refused; carries Salesforce's errors for the record."""

    def __init__(self, errors: list[RecordError], http_status: int = 400) -> None:
        self.errors = errors
        self.http_status = http_status
        super().__init__("; ".join(f"{e.status_code}: {e.message}" for e in errors))


def fault(
    code: str, message: str, fields: list[str] | None = None, status: int = 400
) -> RecordFault:
    """A one-error :class:`RecordFault`."""
    return RecordFault([RecordError(code, message, fields or [])], status)


class OrgStore:
    """The org's records in SQLite, with the schema (standard plus custom fields) beside them.

    One connection shared by the server's threads under a lock: SQLite serialises writers
    anyway, and a single connection keeps reads of one request consistent with its writes.
    """

    def __init__(
        self,
        path: Path | str = ":memory:",
        ids: IdFactory | None = None,
        *,
        features: OrgFeatures | None = None,
    ) -> None:
        self.path = str(path)
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._conn.execute(
            "PRAGMA journal_mode=WAL" if self.path != ":memory:" else "PRAGMA journal_mode=MEMORY"
        )
        # A development org: durability across power loss is not worth the fsyncs.
        self._conn.execute("PRAGMA synchronous=OFF")
        self._conn.execute("PRAGMA cache_size=-200000")
        self.lock = threading.RLock()
        self.objects: dict[str, ObjectInfo] = standard_objects()
        self.features = features or OrgFeatures()
        apply_features(self.objects, self.features)
        self._lower_objects = {name.lower(): name for name in self.objects}
        # Bumped by writes to permission objects and users (see _watch_permissions).
        self._permission_version = 0
        self._create_tables()
        self._watch_permissions()
        self._watch_saves()
        self._load_custom_fields()
        self.ids = ids or IdFactory(pod=ID_POD, start=self._next_counter())
        self.integration_user_id = self._ensure_user()
        # Who may do what (profiles, permission sets, assignments): localorg.access.
        self.access = Access(self)
        self.flows = FlowEngine()
        if self.features.multi_currency:
            self._ensure_currencies()
        if self.features.loyalty_management and not self.count("JournalType"):
            from localorg.loyalty_management import journal_type_rows

            rows = [
                self._system_row("JournalType", {**r, "OwnerId": self.integration_user_id})
                for r in journal_type_rows()
            ]
            self.load_rows("JournalType", rows)
        self._soql_cache: tuple[Any, dict[str, Any]] | None = None

    def log_flow(
        self,
        name: str,
        trigger: str,
        record_id: str,
        object_name: str,
        outcome: str,
        detail: Mapping[str, Any],
    ) -> None:
        """Record one flow run as a queryable ``FlowInterview`` row."""
        self.load_rows(
            "FlowInterview",
            [
                {
                    **self.created_fields(self.ids.new("FlowInterview"), self.integration_user_id),
                    "FlowName": name,
                    "TriggerType": trigger,
                    "RecordId": record_id,
                    "SobjectType": object_name,
                    "Outcome": outcome,
                    "Detail": dumps_detail(detail),
                }
            ],
        )

    def created_fields(self, record_id: str, user_id: str) -> dict[str, Any]:
        """The system fields of a record ``user_id`` creates now."""
        stamp = now_text()
        return {
            "Id": record_id,
            "IsDeleted": 0,
            "CreatedDate": stamp,
            "LastModifiedDate": stamp,
            "SystemModstamp": stamp,
            "CreatedById": user_id,
            "LastModifiedById": user_id,
        }

    def _bool_view(self, info: ObjectInfo, values: Mapping[str, Any]) -> dict[str, Any]:
        return {
            k: bool(v)
            if v is not None and k in info.fields and info.fields[k].type == "boolean"
            else v
            for k, v in values.items()
        }

    # ------------------------------------------------------------------ schema
    def _create_tables(self) -> None:
        with self.lock:
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS _meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS _custom_fields (object TEXT, name TEXT, spec TEXT, "
                "PRIMARY KEY (object, name))"
            )
            for info in self.objects.values():
                self._create_table(info)

    def _create_table(self, info: ObjectInfo) -> None:
        cols = ", ".join(_column_sql(f) for f in info.fields.values())
        self._conn.execute(f'CREATE TABLE IF NOT EXISTS "{info.name}" ({cols})')
        # table_xinfo: table_info leaves generated columns out
        existing = {row[1] for row in self._conn.execute(f'PRAGMA table_xinfo("{info.name}")')}
        for f in info.fields.values():
            if f.name not in existing:
                self._conn.execute(f'ALTER TABLE "{info.name}" ADD COLUMN {_column_sql(f)}')
        indexed = ["SystemModstamp"] + [
            f.name
            for f in info.fields.values()
            if f.external_id or f.type in ("email", "reference")
        ]
        for col in indexed:
            self._conn.execute(
                f'CREATE INDEX IF NOT EXISTS "ix_{info.name}_{col}" ON "{info.name}" ("{col}")'
            )

    @property
    def permission_version(self) -> int:
        """Bumped by every write to a permission object or a user: cached grants are stale."""
        return self._permission_version

    def _watch_permissions(self) -> None:
        # SQLite itself reports every write to the permission objects (REST, bulk jobs,
        # load_rows, raw transactions alike), so no writer has to remember to invalidate a cache.
        def bump() -> None:
            self._permission_version += 1

        self._conn.create_function("l2l_permissions_changed", 0, bump)
        watched = (
            "FieldPermissions",
            "ObjectPermissions",
            "PermissionSet",
            "PermissionSetAssignment",
            "PermissionSetLicenseAssign",
            "Profile",
            "User",
        )
        for table in watched:
            for event in ("INSERT", "UPDATE", "DELETE"):
                self._conn.execute(
                    f"CREATE TEMP TRIGGER IF NOT EXISTS l2l_{table.lower()}_{event.lower()} "
                    f'AFTER {event} ON main."{table}" BEGIN SELECT l2l_permissions_changed(); END'
                )

    def _watch_saves(self) -> None:
        # The save log: how many times each existing record was saved (updated), whichever
        # path wrote it (REST, sObject Collections, Bulk API 2.0, a flow). A real org runs its
        # record-triggered flows once per save, so "one save per changed record" is what a
        # test of crash recovery must prove; SQLite counts them, so no writer can forget to.
        with self.lock:
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS _save_log (object TEXT, record_id TEXT, "
                "saves INTEGER NOT NULL, PRIMARY KEY (object, record_id)) WITHOUT ROWID"
            )
            for name in self.objects:
                self._conn.execute(
                    f'CREATE TEMP TRIGGER IF NOT EXISTS "l2l_saves_{name}" AFTER UPDATE ON '
                    f'main."{name}" BEGIN INSERT INTO _save_log VALUES (\'{name}\', NEW."Id", 1) '
                    "ON CONFLICT (object, record_id) DO UPDATE SET saves = saves + 1; END"
                )

    def saves(self, object_name: str) -> dict[str, int]:
        """Record id -> how many times the record was saved since it was created."""
        rows = self.execute(
            "SELECT record_id, saves FROM _save_log WHERE object = ?", [object_name]
        )
        return {str(r[0]): int(r[1]) for r in rows}

    def _load_custom_fields(self) -> None:
        for obj, _name, spec in self._conn.execute("SELECT object, name, spec FROM _custom_fields"):
            if obj not in self.objects:
                continue  # an object the org's features turned off (Orders)
            info = FieldInfo(**json.loads(spec))
            self.objects[obj].add_field(info)
            self._create_table(self.objects[obj])
            self._mirror_person_field(obj, info)

    def _mirror_person_field(self, object_name: str, info: FieldInfo) -> None:
        """A custom Contact field also exists on Account as ``<name>__pc`` in an org with
        person accounts (``localorg.person_accounts``)."""
        if object_name != "Contact" or not self.features.person_accounts:
            return
        pc = person_accounts.mirror(info)
        if pc is not None and self.objects["Account"].field(pc.name) is None:
            self.objects["Account"].add_field(pc)
            self._create_table(self.objects["Account"])

    def add_custom_field(self, object_name: str, info: FieldInfo) -> None:
        """Add a custom field to an object (Tooling API); persisted with the org."""
        with self.lock:
            obj = self.objects[object_name]
            if obj.field(info.name) is not None:
                raise fault(
                    "DUPLICATE_DEVELOPER_NAME",
                    f"There is already a field named {info.name} on {object_name}.",
                )
            obj.add_field(info)
            self._create_table(obj)
            self._mirror_person_field(object_name, info)
            spec = {k: v for k, v in info.__dict__.items()}
            self._conn.execute(
                "INSERT INTO _custom_fields VALUES (?, ?, ?)",
                (object_name, info.name, json.dumps(spec)),
            )

    def set_field_length(self, object_name: str, name: str, length: int) -> None:
        """Change a custom text field's length (a Tooling API update of its CustomField);
        persisted with the org, and the person-account mirror follows."""
        with self.lock:
            info = self.objects[object_name].field(name)
            if info is None or not info.custom:
                raise fault("INVALID_FIELD", f"No such custom field {object_name}.{name}")
            info.length = length
            if object_name == "Contact" and self.features.person_accounts:
                pc = person_accounts.mirror(info)
                mirrored = self.objects["Account"].field(pc.name) if pc is not None else None
                if mirrored is not None:
                    mirrored.length = length
            self._conn.execute(
                "UPDATE _custom_fields SET spec = ? WHERE object = ? AND name = ?",
                (json.dumps(dict(info.__dict__.items())), object_name, name),
            )

    def _next_counter(self) -> int:
        """Where the id counter of a reopened org stands: past every id it holds.

        ``save_counter`` runs after a seed only; ids minted later (REST, collections, Bulk API,
        flow logs) live only in their rows. So the highest id of this factory's pod in each
        table, found through the primary key index (base-62 digits sort as ASCII text), is
        where the counter really is; without it a restarted org re-mints ids already taken.
        """
        row = self._conn.execute("SELECT value FROM _meta WHERE key='id_counter'").fetchone()
        counter = int(row[0]) if row else 1
        for info in self.objects.values():
            prefix = KEY_PREFIXES.get(info.name)
            if prefix is None:
                continue
            low = prefix + ID_POD
            top = self._conn.execute(
                f'SELECT max("Id") FROM "{info.name}" WHERE "Id" >= ? AND "Id" < ?',
                (low, low + "~"),
            ).fetchone()[0]
            if top:
                counter = max(counter, _counter_of(str(top)) + 1)
        return counter

    def save_counter(self) -> None:
        """Persist the id counter so a restarted org never reuses an id."""
        probe = self.ids.new("User")
        counter = _counter_of(probe)
        with self.lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO _meta VALUES ('id_counter', ?)", (str(counter + 1),)
            )

    def add_user(self, username: str, last_name: str) -> str:
        """Create an active user (say, an admin who edits records beside the integration);
        returns its id. Save as that user with ``insert``/``update``'s ``user_id``."""
        user_id = self.ids.new("User")
        stamp = now_text()
        with self.lock:
            self._conn.execute(
                'INSERT INTO "User" ("Id", "IsDeleted", "CreatedDate", "LastModifiedDate", '
                '"SystemModstamp", "CreatedById", "LastModifiedById", "Name", "Username", '
                '"Email", "LastName", "IsActive") VALUES (?,0,?,?,?,?,?,?,?,?,?,1)',
                (
                    user_id,
                    stamp,
                    stamp,
                    stamp,
                    self.integration_user_id,
                    self.integration_user_id,
                    last_name,
                    username,
                    username,
                    last_name,
                ),
            )
        return user_id

    def _ensure_user(self) -> str:
        row = self._conn.execute(
            'SELECT "Id" FROM "User" ORDER BY "CreatedDate", "Id" LIMIT 1'
        ).fetchone()
        if row:
            return str(row[0])
        user_id = self.ids.new("User")
        stamp = now_text()
        self._conn.execute(
            'INSERT INTO "User" ("Id", "IsDeleted", "CreatedDate", "LastModifiedDate", '
            '"SystemModstamp", "CreatedById", "LastModifiedById", "Name", "Username", "Email", '
            '"FirstName", "LastName", "IsActive") VALUES (?,0,?,?,?,?,?,?,?,?,?,?,1)',
            (
                user_id,
                stamp,
                stamp,
                stamp,
                user_id,
                user_id,
                "Integration User",
                "integration@localorg.test",
                "integration@localorg.test",
                "Integration",
                "User",
            ),
        )
        return user_id

    def _ensure_currencies(self) -> None:
        """A new multi-currency org holds its CurrencyType rows (and, with advanced currency
        management, one DatedConversionRate per currency); records without a currency get the
        corporate one, which is what Salesforce sets on create."""
        if not self.count("CurrencyType"):
            rows = currency_rows(self.features)
            self.load_rows("CurrencyType", [self._system_row("CurrencyType", r) for r in rows])
            if self.features.advanced_currency:
                self.load_rows(
                    "DatedConversionRate",
                    [
                        self._system_row(
                            "DatedConversionRate",
                            {
                                "IsoCode": r["IsoCode"],
                                "ConversionRate": r["ConversionRate"],
                                "StartDate": FIRST_RATE_DATE,
                            },
                        )
                        for r in rows
                    ],
                )
        self.fill_currency()

    def fill_currency(self) -> None:
        """Give every record without a CurrencyIsoCode the corporate currency."""
        with self.transaction() as conn:
            for info in self.objects.values():
                if "CurrencyIsoCode" in info.fields:
                    conn.execute(
                        f'UPDATE "{info.name}" SET "CurrencyIsoCode" = ? '
                        'WHERE "CurrencyIsoCode" IS NULL',
                        (self.features.corporate_currency,),
                    )

    def _system_row(self, object_name: str, values: Mapping[str, Any]) -> dict[str, Any]:
        new = self.created_fields(self.ids.new(object_name), self.integration_user_id)
        return {**new, **values}

    def soql_schema(self) -> dict[str, Any]:
        """The schema as the SOQL compiler sees it: only the objects and fields the current
        call's user may read."""
        from localorg import soql

        key = (
            sum(len(o.fields) for o in self.objects.values()),
            self._permission_version,
            CURRENT_USER.get(),
        )
        if self._soql_cache is not None and self._soql_cache[0] == key:
            return self._soql_cache[1]
        schema = {
            info.name: soql.ObjectInfo(
                name=info.name,
                fields={
                    f.name: soql.FieldInfo(
                        name=f.name,
                        type=f.type,
                        reference_to=f.reference_to[0] if f.reference_to else None,
                        relationship_name=f.relationship_name,
                    )
                    for f in info.fields.values()
                    if self.field_visible(info.name, f)
                },
            )
            for info in self.objects.values()
            if self.access.object_readable(info.name)
        }
        self._soql_cache = (key, schema)
        return schema

    def object(self, name: str) -> ObjectInfo:
        """The object called ``name`` (case-insensitive) or NOT_FOUND."""
        canonical = self._lower_objects.get(name.lower())
        # An object the API user may not read does not exist for it (localorg.access).
        if canonical is None or not self.access.object_readable(canonical):
            raise fault(
                "NOT_FOUND",
                f"The requested resource does not exist: sObject type '{name}' is not supported.",
                status=404,
            )
        return self.objects[canonical]

    # ------------------------------------------------------------------ raw access
    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One SQLite transaction, under the org lock."""
        with self.lock:
            self._conn.execute("BEGIN")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                # A rolled-back permission change may have been read inside the transaction.
                self._permission_version += 1
                raise
            self._conn.execute("COMMIT")

    def execute(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one read statement and return every row."""
        with self.lock:
            return self._conn.execute(sql, tuple(params)).fetchall()

    def load_rows(self, object_name: str, rows: list[dict[str, Any]]) -> None:
        """Insert rows already in storage form, unchecked: for seeds and fixtures."""
        if not rows:
            return
        columns = list(rows[0])
        quoted = ", ".join(f'"{c}"' for c in columns)
        sql = f'INSERT INTO "{object_name}" ({quoted}) VALUES ({", ".join("?" * len(columns))})'
        with self.transaction() as conn:
            conn.executemany(sql, [tuple(row.get(c) for c in columns) for row in rows])

    def count(self, object_name: str) -> int:
        """Live (not deleted) rows of an object."""
        return int(
            self.execute(f'SELECT COUNT(*) FROM "{object_name}" WHERE "IsDeleted" = 0')[0][0]
        )

    # ------------------------------------------------------------------ records
    def get(
        self,
        object_name: str,
        record_id: str,
        fields: list[str] | None = None,
        *,
        include_deleted: bool = False,
    ) -> dict[str, Any] | None:
        """One record as REST returns it, or None."""
        info = self.object(object_name)
        names = [self._field(info, f).name for f in fields] if fields else list(info.fields)
        cols = ", ".join(f'"{n}"' for n in names)
        deleted = "" if include_deleted else ' AND "IsDeleted" = 0'
        rows = self.execute(
            f'SELECT {cols} FROM "{info.name}" WHERE "Id" = ?{deleted}', [record_id]
        )
        if not rows:
            return None
        return self.to_rest(info, names, rows[0])

    def to_rest(self, info: ObjectInfo, names: list[str], row: tuple[Any, ...]) -> dict[str, Any]:
        """A stored row as a REST record (with ``attributes``)."""
        record: dict[str, Any] = {
            "attributes": {
                "type": info.name,
                "url": self.record_url(
                    info.name, row[names.index("Id")] if "Id" in names else None
                ),
            }
        }
        for name, value in zip(names, row, strict=True):
            if value is not None and info.fields[name].type == "boolean":
                value = bool(value)
            record[name] = value
        return record

    def record_url(self, object_name: str, record_id: str | None, version: str = "59.0") -> str:
        """The REST path of a record, as ``attributes.url`` gives it."""
        return f"/services/data/v{version}/sobjects/{object_name}/{record_id or ''}"

    def find_by(self, object_name: str, field_name: str, value: Any) -> list[str]:
        """Ids of live records whose ``field_name`` equals ``value`` (external id lookups)."""
        info = self.object(object_name)
        f = self._field(info, field_name)
        rows = self.execute(
            f'SELECT "Id" FROM "{info.name}" WHERE "{f.name}" = ? AND "IsDeleted" = 0', [value]
        )
        return [str(r[0]) for r in rows]

    def insert(
        self,
        object_name: str,
        body: Mapping[str, Any],
        *,
        record_id: str | None = None,
        run_flows: bool = True,
        user_id: str | None = None,
    ) -> str:
        """Validate and create one record as ``user_id`` (the integration user unless given);
        returns its id or raises :class:`RecordFault`."""
        info = self.object(object_name)
        values = self.clean(info, body, creating=True)
        user = user_id or self.integration_user_id
        values.update(self.created_fields(record_id or self.ids.new(info.name), user))
        if "OwnerId" in info.fields and not values.get("OwnerId"):
            values["OwnerId"] = user
        for f in info.fields.values():
            if f.name not in values and f.default is not None:
                values[f.name] = _store_default(f)
        self.derive(info, values)
        cols = list(values)
        with self.transaction() as conn:
            conn.execute(
                f'INSERT INTO "{info.name}" ({", ".join(chr(34) + c + chr(34) for c in cols)}) '
                f"VALUES ({', '.join('?' * len(cols))})",
                [values[c] for c in cols],
            )
            self.rollup(conn, info, values)
        if run_flows:
            self.flows.after_save(self, info.name, None, self._bool_view(info, values))
        return str(values["Id"])

    def update(
        self,
        object_name: str,
        record_id: str,
        body: Mapping[str, Any],
        *,
        run_flows: bool = True,
        user_id: str | None = None,
    ) -> dict[str, Any]:
        """Validate and update one record as ``user_id`` (the integration user unless given);
        returns the record's values before the change.

        Every save sets ``LastModifiedDate``, ``SystemModstamp`` and ``LastModifiedById`` (the
        saving user), even one that changes no value, as Salesforce does ("System Fields",
        SOAP API Developer Guide): a record saved by an admin and then by the integration
        user in one window shows only the integration user and the later stamp."""
        info = self.object(object_name)
        before = self.get(info.name, record_id)
        if before is None:
            raise self._missing(info, record_id)
        refuse_converted(info.name, before)
        person_contact = (
            person_accounts.check_update(self, info.name, before, body)
            if self.features.person_accounts
            else None
        )
        contact_before = self.get("Contact", person_contact) if person_contact else None
        values = self.clean(info, body, creating=False)
        merged = {k: v for k, v in before.items() if k != "attributes"}
        merged.update(values)
        if info.name in _PERMISSION_OBJECTS:
            refused = self.access.save_refusal(info.name, merged, record_id)
            if refused is not None:
                raise refused
        self.derive(info, merged)
        derived: dict[str, Any] = {
            k: merged[k] for k in ("Name", "TotalPrice") if k in merged and k in info.fields
        }
        values.update(derived)
        stamp = now_text()
        values.update(
            {
                "LastModifiedDate": stamp,
                "SystemModstamp": stamp,
                "LastModifiedById": user_id or self.integration_user_id,
            }
        )
        assignments = ", ".join(f'"{c}" = ?' for c in values)
        with self.transaction() as conn:
            conn.execute(
                f'UPDATE "{info.name}" SET {assignments} WHERE "Id" = ?',
                [*values.values(), record_id],
            )
            self.rollup(conn, info, merged)
            if person_contact:
                person_accounts.copy_to_contact(conn, person_contact, values, stamp)
        if run_flows:
            after = self.get(info.name, record_id)
            assert after is not None
            self.flows.after_save(self, info.name, before, after)
            if person_contact and contact_before is not None:
                contact_after = self.get("Contact", person_contact)
                assert contact_after is not None
                self.flows.after_save(self, "Contact", contact_before, contact_after)
        return before

    def delete(self, object_name: str, record_id: str, *, user_id: str | None = None) -> None:
        """Soft-delete a record as ``user_id`` (the integration user unless given): queryAll
        still returns it with ``IsDeleted`` true.

        A delete is a modification: it moves ``LastModifiedDate`` and ``SystemModstamp`` and
        names the deleting user in ``LastModifiedById`` (the Apex emulator aer documents the
        same expectation of a real org, octoberswimmer/aer-dist#13)."""
        info = self.object(object_name)
        refused = self.access.delete_refusal(info.name)
        if refused is not None:
            raise refused
        before = self.get(info.name, record_id)
        if before is None:
            raise self._missing(info, record_id)
        stamp = now_text()
        with self.transaction() as conn:
            conn.execute(
                f'UPDATE "{info.name}" SET "IsDeleted" = 1, "SystemModstamp" = ?, '
                '"LastModifiedDate" = ?, "LastModifiedById" = ? WHERE "Id" = ?',
                (stamp, stamp, user_id or self.integration_user_id, record_id),
            )
            self.rollup(conn, info, before)

    # ------------------------------------------------------------------ recycle bin
    def purge_deleted(self, cutoff: datetime) -> dict[str, int]:
        """Empty the Recycle Bin of rows deleted before ``cutoff``; rows purged per object.

        A soft delete stamps ``SystemModstamp`` and nothing may change a deleted row after
        that, so the stamp is the deletion time. Purged rows are gone for good: queryAll and
        getDeleted no longer list them, as in a real org once the Recycle Bin lets go.
        """
        stamp = format_datetime(cutoff)
        purged: dict[str, int] = {}
        with self.transaction() as conn:
            for name in self.objects:
                cursor = conn.execute(
                    f'DELETE FROM "{name}" WHERE "IsDeleted" = 1 AND "SystemModstamp" < ?',
                    (stamp,),
                )
                if cursor.rowcount:
                    purged[name] = cursor.rowcount
                    conn.execute(
                        "INSERT OR REPLACE INTO _meta VALUES (?, ?)", (f"purged:{name}", stamp)
                    )
        return purged

    def deleted_between(
        self, object_name: str, start: datetime, end: datetime
    ) -> tuple[list[tuple[str, str]], str | None]:
        """(id, deletion stamp) of the rows of ``object_name`` deleted in ``[start, end]``
        and still in the Recycle Bin, oldest first; and when its bin was last purged."""
        info = self.object(object_name)
        rows = self.execute(
            f'SELECT "Id", "SystemModstamp" FROM "{info.name}" WHERE "IsDeleted" = 1 '
            'AND "SystemModstamp" >= ? AND "SystemModstamp" <= ? ORDER BY "SystemModstamp"',
            [format_datetime(start), format_datetime(end)],
        )
        purged = self.execute("SELECT value FROM _meta WHERE key = ?", [f"purged:{info.name}"])
        return [(str(r[0]), str(r[1])) for r in rows], (str(purged[0][0]) if purged else None)

    def _missing(self, info: ObjectInfo, record_id: str) -> RecordFault:
        if self.get(info.name, record_id, include_deleted=True) is not None:
            return fault("ENTITY_IS_DELETED", "entity is deleted", status=404)
        return fault(
            "NOT_FOUND",
            f"The requested resource does not exist: {info.name} {record_id}",
            status=404,
        )

    # ------------------------------------------------------------------ validation
    def _field(self, info: ObjectInfo, name: str) -> FieldInfo:
        f = info.field(name)
        if f is None or not self.field_visible(info.name, f):
            raise fault(
                "INVALID_FIELD", f"No such column '{name}' on sobject of type {info.name}", [name]
            )
        return f

    def field_visible(self, object_name: str, f: FieldInfo) -> bool:
        """A field under field-level security (a Tooling-made field, a permissionable standard
        field) is visible to the user only once its profile or an assigned set grants read."""
        if not self.access.field_secured(object_name, f):
            return True
        return self._permission(object_name, f.name, "PermissionsRead")

    def field_editable(self, object_name: str, f: FieldInfo) -> bool:
        """Such a field is editable by the user once its profile or a set grants edit."""
        if not self.access.field_secured(object_name, f):
            return True
        return self._permission(object_name, f.name, "PermissionsEdit")

    def _permission(self, object_name: str, field_name: str, column: str) -> bool:
        contact_field = person_accounts.contact_name(field_name)
        if object_name == "Account" and contact_field is not None:
            # a __pc field is the person contact's field: its Contact grant is what counts
            object_name, field_name = "Contact", contact_field
        # Only permission sets assigned to the user (or its profile's) count: localorg.access.
        return self.access.field_allows(object_name, field_name, column)

    def clean(self, info: ObjectInfo, body: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
        """Check a write body against the schema; every problem reported at once.

        The rules live in :meth:`row_checker`; this compiles a checker for the one body.
        """
        return self.row_checker(info, list(body), creating=creating)(body)

    def row_checker(
        self, info: ObjectInfo, columns: Iterable[str], *, creating: bool
    ) -> RowChecker:
        """A compiled :meth:`clean` for many bodies keyed by ``columns`` (a Bulk API header).

        Field names, field-level security and each field's coercion are resolved once, here,
        not once per cell. The checker takes one body (a key left out is not set; a key outside
        ``columns`` is resolved on first sight) and returns its values in storage form, or
        raises :class:`RecordFault` with the same errors :meth:`clean` gives. Referenced
        records found to exist are remembered for the checker's life, so keep one per job.
        """
        plan: dict[str, _Column] = {}
        # lower-case key -> the keys spelled that way (required fields match any case)
        spellings: dict[str, list[str]] = {}

        def resolve(key: str) -> _Column:
            column = plan[key] = self._column(info, key, creating=creating)
            spellings.setdefault(key.lower(), []).append(key)
            return column

        for key in columns:
            if key not in plan:
                resolve(key)
        required = [
            (f.name, f.name.lower())
            for f in info.fields.values()
            if f.required and f.createable and f.default is None
        ]
        required_any = {f.name for f in info.fields.values() if f.required}
        refused = self.access.write_refusal(info.name, creating=creating)

        def check(body: Mapping[str, Any]) -> dict[str, Any]:
            if refused is not None:
                raise refused
            errors: list[RecordError] = []
            values: dict[str, Any] = {}
            for key, raw in body.items():
                name, coerce, refusal = plan.get(key) or resolve(key)
                if refusal is not None:
                    errors.append(RecordError(refusal[0], refusal[1], [refusal[2]]))
                elif coerce is not None:
                    try:
                        values[name] = coerce(raw)
                    except RecordFault as exc:
                        errors.extend(exc.errors)
            if creating:
                missing = [
                    name for name, lower in required if _unset(body, spellings.get(lower, ()))
                ]
                if missing:
                    errors.append(
                        RecordError(
                            "REQUIRED_FIELD_MISSING",
                            f"Required fields are missing: [{', '.join(missing)}]",
                            missing,
                        )
                    )
            elif None in values.values() or "" in values.values():
                cleared = [n for n, v in values.items() if v in (None, "") and n in required_any]
                if cleared:
                    errors.append(
                        RecordError(
                            "REQUIRED_FIELD_MISSING",
                            f"Required fields are missing: [{', '.join(cleared)}]",
                            cleared,
                        )
                    )
            if errors:
                raise RecordFault(errors)
            if creating:
                duplicate = self.access.duplicate(info.name, values)
                if duplicate is not None:
                    raise duplicate
                if info.name in _PERMISSION_OBJECTS:
                    refused_save = self.access.save_refusal(info.name, values)
                    if refused_save is not None:
                        raise refused_save
            return values

        return check

    def _column(self, info: ObjectInfo, key: str, *, creating: bool) -> _Column:
        """What a write does with body key ``key``: skip it, refuse it, or coerce its value."""
        if key == "attributes":
            return ("", None, None)
        f = info.field(key)
        if f is None or not self.field_visible(info.name, f):
            return (
                key,
                None,
                ("INVALID_FIELD", f"No such column '{key}' on sobject of type {info.name}", key),
            )
        allowed = f.createable if creating else f.updateable
        if not allowed or not self.field_editable(info.name, f):
            return (
                f.name,
                None,
                (
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    f"Unable to create/update fields: {f.name}. Please check the security "
                    "settings of this field and verify that it is read/write for your profile "
                    "or permission set.",
                    f.name,
                ),
            )
        return (f.name, self._coercer(f), None)

    def _coercer(self, f: FieldInfo) -> Callable[[Any], Any]:
        """The function turning a raw value of field ``f`` into storage form (or a fault).

        Null and "" mean null for every type but boolean.
        """
        kind = f.type
        if kind == "boolean":

            def boolean(raw: Any) -> Any:
                if raw is None:
                    return None
                if isinstance(raw, bool):
                    return int(raw)
                if isinstance(raw, str):
                    lowered = raw.lower()
                    if lowered in ("true", "false"):
                        return int(lowered == "true")
                raise _json_error(kind, raw)

            return boolean
        if kind in ("double", "currency", "percent", "int"):
            limit = 10 ** (f.precision - f.scale if f.precision else 18)
            scale: int | None = f.scale

            def number(raw: Any) -> Any:
                if raw is None or raw == "":
                    return None
                if isinstance(raw, bool):
                    raise _json_error(kind, raw)
                if isinstance(raw, str):
                    try:
                        raw = float(raw)
                    except ValueError:
                        raise _json_error(kind, raw) from None
                if not isinstance(raw, int | float):
                    raise _json_error(kind, raw)
                if kind == "int":
                    if float(raw) != int(raw):
                        raise _json_error(kind, raw)
                    return int(raw)
                if abs(raw) >= limit:
                    raise fault(
                        "NUMBER_OUTSIDE_VALID_RANGE",
                        f"{f.label}: value outside of valid range on numeric field: {raw}",
                        [f.name],
                    )
                return round(float(raw), scale) if scale is not None else float(raw)

            return number
        if kind in ("date", "datetime"):
            storage_form = _date_text if kind == "date" else _datetime_text

            def when(raw: Any) -> Any:
                if raw is None or raw == "":
                    return None
                if not isinstance(raw, str):
                    raise _json_error(kind, raw)
                try:
                    return storage_form(raw)
                except ValueError:
                    raise _json_error(kind, raw) from None

            return when
        if kind in ("reference", "id"):
            targets = f.reference_to
            exists: set[str] = set()  # ids seen live, for this field only

            def reference(raw: Any) -> Any:
                if raw is None or raw == "":
                    return None
                if not isinstance(raw, str):
                    raise _json_error(kind, raw)
                if raw in exists:
                    return raw
                if len(raw) == 15 and raw.isalnum():
                    raw = to18(raw)  # Salesforce accepts either form and stores 18
                if not is_valid(raw):
                    raise fault(
                        "MALFORMED_ID", f"{f.label}: id value of incorrect type: {raw}", [f.name]
                    )
                target = object_for_id(raw)
                if target not in targets:
                    raise fault(
                        "FIELD_INTEGRITY_EXCEPTION",
                        f"{f.label}: id value of incorrect type: {raw}",
                        [f.name],
                    )
                assert target is not None
                if not self.execute(
                    f'SELECT 1 FROM "{target}" WHERE "Id" = ? AND "IsDeleted" = 0', [raw]
                ):
                    raise fault(
                        "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [f.name]
                    )
                exists.add(raw)
                return raw

            return reference
        from_number = kind in ("string", "textarea", "picklist")
        email = kind == "email"
        choices = frozenset(f.picklist) if kind == "picklist" and f.picklist else None
        length = f.length

        def text(raw: Any) -> Any:
            if raw is None or raw == "":
                return None
            if not isinstance(raw, str):
                if from_number and isinstance(raw, int | float):
                    raw = str(raw)
                else:
                    raise _json_error(kind, raw)
            if email and not _EMAIL_RE.match(raw.strip()):
                raise fault(
                    "INVALID_EMAIL_ADDRESS", f"{f.label}: invalid email address: {raw}", [f.name]
                )
            if choices is not None and raw not in choices:
                raise fault(
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    f"{f.label}: bad value for restricted picklist field: {raw}",
                    [f.name],
                )
            if length and len(raw) > length:
                raise fault(
                    "STRING_TOO_LONG",
                    f"{f.label}: data value too large: {raw[:40]} (max length={length})",
                    [f.name],
                )
            return raw

        return text

    def derive(self, info: ObjectInfo, values: dict[str, Any]) -> None:
        """Set the fields the org computes, in place: a person's Name, an order product's
        TotalPrice, an Order's OrderNumber (from its Id)."""
        if info.name in _NAME_OBJECTS and "Name" in info.fields:
            first, last = values.get("FirstName"), values.get("LastName")
            if first and last:
                values["Name"] = str(first) + " " + str(last)
            else:
                values["Name"] = str(first or last or "")
        if info.name == "OrderItem":
            qty, price = values.get("Quantity"), values.get("UnitPrice")
            if qty is not None and price is not None:
                values["TotalPrice"] = round(float(qty) * float(price), 2)
        if info.name == "Order" and not values.get("OrderNumber"):
            values["OrderNumber"] = f"{_counter_of(str(values.get('Id', '0' * 18))):08d}"

    def rollup(self, conn: sqlite3.Connection, info: ObjectInfo, values: Mapping[str, Any]) -> None:
        """Refresh the roll-ups a written record feeds, inside the write's transaction.

        ``values`` are the record's (an OrderItem's ``OrderId`` is enough): its Order's
        TotalAmount becomes the sum of the live items' TotalPrice.
        """
        if info.name == "DatedConversionRate" and values.get("IsoCode"):
            # NextStartDate is read-only: the StartDate of the next rate of the same currency.
            conn.execute(
                'UPDATE "DatedConversionRate" AS d SET "NextStartDate" = (SELECT '
                'MIN(n."StartDate") FROM "DatedConversionRate" n WHERE n."IsoCode" = d."IsoCode" '
                'AND n."StartDate" > d."StartDate" AND n."IsDeleted" = 0) WHERE d."IsoCode" = ?',
                (values["IsoCode"],),
            )
        if info.name == "OrderItem" and values.get("OrderId"):
            # A roll-up recalculation is an automated process: it moves the parent's
            # SystemModstamp, not its LastModifiedDate or LastModifiedById (Salesforce Help,
            # "Difference between SystemModStamp and LastModifiedDate", 000387261), so an
            # incremental pull on SystemModstamp sees the Order's new total.
            total = (
                '(SELECT COALESCE(SUM("TotalPrice"), 0) FROM "OrderItem" '
                'WHERE "OrderId" = ? AND "IsDeleted" = 0)'
            )
            conn.execute(
                f'UPDATE "Order" SET "TotalAmount" = {total}, "SystemModstamp" = ? '
                f'WHERE "Id" = ? AND "TotalAmount" IS NOT {total}',
                (values["OrderId"], now_text(), values["OrderId"], values["OrderId"]),
            )


def refuse_converted(object_name: str, record: Mapping[str, Any]) -> None:
    """Refuse any update of a converted Lead, as Salesforce does (REST, collections, Bulk API).

    Salesforce answers ``CANNOT_UPDATE_CONVERTED_LEAD`` / "cannot reference converted lead"
    (simple-salesforce issue #341; gravityplus/Gravity-Forms-Salesforce #342): a converted
    Lead is read-only, its person lives on as the ConvertedContactId Contact.
    """
    if object_name == "Lead" and record.get("IsConverted") in (True, 1, "1", "true"):
        raise fault("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead")


def _column_sql(f: FieldInfo) -> str:
    """The column definition of field ``f`` (generated fields as virtual columns)."""
    if f.generated:
        return f'"{f.name}" {f.sql_type} GENERATED ALWAYS AS ({f.generated}) VIRTUAL'
    return f'"{f.name}" {f.sql_type}' + (" PRIMARY KEY" if f.name == "Id" else "")


def body_value_blank(body: Mapping[str, Any], name: str) -> bool:
    """True when ``body`` sets field ``name`` (any case) to null or empty."""
    return any(v in (None, "") for k, v in body.items() if k.lower() == name.lower())


def _unset(body: Mapping[str, Any], keys: Iterable[str]) -> bool:
    """True when none of ``keys`` is in ``body``, or one of them is null or empty there."""
    given = [body[k] for k in keys if k in body]
    return not given or any(v in (None, "") for v in given)


def _date_text(raw: str) -> str:
    """A date, or the date of a datetime, as ``YYYY-MM-DD``; ValueError when it is neither."""
    if not _DATE_RE.match(raw):
        return parse_datetime(raw).date().isoformat()
    date.fromisoformat(raw)
    return raw


def _datetime_text(raw: str) -> str:
    """Any ISO 8601 datetime in storage form; ValueError when it is not one."""
    return format_datetime(parse_datetime(raw))


def _store_default(f: FieldInfo) -> Any:
    return int(bool(f.default)) if f.type == "boolean" else f.default


def _json_error(kind: str, raw: Any) -> RecordFault:
    soap = {
        "double": "double",
        "currency": "double",
        "percent": "double",
        "int": "int",
        "boolean": "boolean",
        "date": "date",
        "datetime": "datetime",
    }.get(kind, "string")
    return fault(
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {soap} from VALUE_STRING value {raw!s:.40} "
        "or request may be missing a required field",
        [],
    )


def _counter_of(record_id: str) -> int:
    digits = record_id[5:15]
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    n = 0
    for ch in digits:
        n = n * 62 + alphabet.index(ch) if ch in alphabet else n * 62
    return n


def utc_today() -> date:
    """Today in UTC."""
    return datetime.now(UTC).date()
