"""Helpers shared by the tests that sync against localorg: mappings, settings, rows, variables.

Plain functions and constants; the fixtures built on them live in ``tests/conftest.py``.
Import them as ``from tests.support import ...``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from connector.admin.deploy import deploy
from connector.config import Settings, load_settings
from connector.mapping import load_mappings
from connector.mapping.values import KNOWN_VALUES
from connector.sync import SyncEngine, build_engine
from connector.sync.loyalty import org_needs
from connector.sync.texts_stage import texts_needs
from localorg.org import LocalOrg, OrgConfig
from localorg.server import Running
from localorg.store import format_datetime
from tests.backends import database_env, store_location

REPO = Path(__file__).resolve().parent.parent

# The RFM fields the tests map on each person object: the tests' own mappings, so the expected
# fields do not move when mappings/ in the repository grows. The one source of every test mapping.
RFM_MAPPED: tuple[dict[str, Any], ...] = (
    {
        "value": "rfm.order_count",
        "field": "L2L_Order_Count__c",
        "type": "number",
        "precision": 18,
        "scale": 0,
        "label": "Order Count",
    },
    {
        "value": "rfm.revenue",
        "field": "L2L_Revenue__c",
        "type": "currency",
        "precision": 18,
        "scale": 2,
        "label": "Revenue",
    },
    {
        "value": "rfm.last_order_date",
        "field": "L2L_Last_Order_Date__c",
        "type": "date",
        "label": "Last Order Date",
    },
    {
        "value": "rfm.avg_order_value",
        "field": "L2L_Avg_Order_Value__c",
        "type": "currency",
        "precision": 18,
        "scale": 2,
        "label": "Average Order Value",
    },
    {
        "value": "rfm.days_since_last_order",
        "field": "L2L_Days_Since_Last_Order__c",
        "type": "number",
        "precision": 18,
        "scale": 0,
        "label": "Days Since Last Order",
    },
)
RFM_FIELDS: tuple[str, ...] = tuple(spec["field"] for spec in RFM_MAPPED)
"""All five RFM field names, in mapping order."""
RFM_PLAIN_FIELDS: tuple[str, ...] = RFM_FIELDS[:4]
"""The four RFM fields whose values do not depend on the day the sync runs."""


def rfm_mappings(
    directory: Path,
    fields: Sequence[str] = RFM_FIELDS,
    objects: Iterable[str] = ("Contact", "Lead"),
) -> Path:
    """Write one mapping file per person object, mapping `fields` of ``RFM_MAPPED``; returns
    `directory`. Files are ``contact.yaml``/``lead.yaml``, one line per key, in that order."""
    specs = [spec for spec in RFM_MAPPED if spec["field"] in fields]
    assert len(specs) == len(fields), f"not in RFM_MAPPED: {set(fields) - set(RFM_FIELDS)}"
    directory.mkdir(parents=True, exist_ok=True)
    for obj in objects:
        mapping = {"object": obj, "person": obj.lower(), "fields": specs}
        text = yaml.safe_dump(mapping, sort_keys=False)
        (directory / f"{obj.lower()}.yaml").write_text(text, encoding="utf-8")
    return directory


def serve_fresh(running: Running, config: OrgConfig) -> LocalOrg:
    """Serve a new empty org with ``config`` behind the running server, in place of the one it
    served (what the org fixtures do for each test); returns it."""
    fresh = LocalOrg(None, config=config)
    fresh.instance_url = running.org.instance_url
    running.server.app.config["LOCALORG"] = fresh  # type: ignore[attr-defined]
    running.org = fresh
    return fresh


def localorg_settings(org: LocalOrg, server: Running, tmp_path: Path, **extra: Any) -> Settings:
    """Settings that log in to the served org with client credentials, keep the database in
    `tmp_path`, pull up to now (no lag) and retry without waiting; `extra` adds or overrides
    settings (``mappings_dir`` is the repository's unless given; a ``database`` that is a
    PostgreSQL URL is given as ``DATABASE_URL`` instead)."""
    database = extra.pop("database", store_location(tmp_path))
    settings: dict[str, Any] = {
        "salesforce_login_url": org.instance_url,
        "salesforce_client_id": org.config.client_id,
        "salesforce_client_secret": org.config.client_secret,
        "salesforce_auth": "client_credentials",
        "salesforce_ca_bundle": server.tls.cert,
        **(
            {"DATABASE_URL": database}
            if str(database).startswith("postgresql://")
            else {"database": database}
        ),
        "retry_base_seconds": 0.0,
        "pull_lag_seconds": 0,
    }
    return load_settings(**{**settings, **extra})


def deployed_engine(settings: Settings, **options: Any) -> SyncEngine:
    """A sync engine for `settings` whose mapped fields are deployed to the org; `options`
    go to ``build_engine`` (``clock``, ``progress``)."""
    engine = build_engine(settings, **options)
    deploy(
        engine.client,  # type: ignore[arg-type]
        load_mappings(settings.mappings_dir, set(KNOWN_VALUES)),
        extra=texts_needs(
            org_needs(engine.loyalty), engine.scoring.texts if engine.scoring else None
        ),
    )
    return engine


def salesforce_env(org: LocalOrg, server: Running) -> dict[str, str]:
    """The ``L2L_SALESFORCE_*`` variables that log the CLI in to the served org."""
    return {
        "L2L_SALESFORCE_LOGIN_URL": org.instance_url,
        "L2L_SALESFORCE_CLIENT_ID": org.config.client_id,
        "L2L_SALESFORCE_CLIENT_SECRET": org.config.client_secret,
        "L2L_SALESFORCE_AUTH": "client_credentials",
        "L2L_SALESFORCE_CA_BUNDLE": str(server.tls.cert),
    }


def sync_env(database: Path | str, mappings_dir: Path) -> dict[str, str]:
    """The other ``L2L_*`` variables of a test run: its database and mappings, no pull lag,
    retries without waiting."""
    return {
        **database_env(database),
        "L2L_MAPPINGS_DIR": str(mappings_dir),
        "L2L_PULL_LAG_SECONDS": "0",
        "L2L_RETRY_BASE_SECONDS": "0",
    }


def past() -> str:
    """A stamp two seconds ago: pull windows end on whole seconds before the run starts, so
    rows stamped with it are safely inside the next pull."""
    return format_datetime(datetime.now(UTC) - timedelta(seconds=2))


def load_rows(org: LocalOrg, object_name: str, rows: list[dict[str, Any]]) -> list[str]:
    """Store `rows` of `object_name` in the org as live records stamped ``past()``, with new
    ids; returns the ids in order."""
    stamp = past()
    ids = org.store.ids.batch(object_name, len(rows))
    full = [
        {
            "Id": i,
            "IsDeleted": 0,
            "CreatedDate": stamp,
            "LastModifiedDate": stamp,
            "SystemModstamp": stamp,
            **r,
        }
        for i, r in zip(ids, rows, strict=True)
    ]
    org.store.load_rows(object_name, full)
    return ids


def day_ago(days: int) -> str:
    """The UTC date ``days`` before today, ISO (an Order's EffectiveDate)."""
    return (datetime.now(UTC) - timedelta(days=days)).date().isoformat()


def order_row(account: str, contact: str, days_ago: int, amount: float) -> dict[str, Any]:
    """An activated Order row for :func:`load_rows`: ``account``'s, billed to ``contact``,
    dated ``days_ago`` days back, of ``amount``."""
    return {
        "AccountId": account,
        "BillToContactId": contact,
        "Status": "Activated",
        "EffectiveDate": day_ago(days_ago),
        "TotalAmount": amount,
    }


def account_contacts(org: LocalOrg, names: Sequence[str]) -> tuple[str, list[str]]:
    """One Account and a Contact on it per name (email ``<name>@example.com``): their ids."""
    account = load_rows(org, "Account", [{"Name": "Acme"}])[0]
    rows = [
        {"LastName": name, "Email": f"{name.lower()}@example.com", "AccountId": account}
        for name in names
    ]
    return account, load_rows(org, "Contact", rows)


def seed(org: LocalOrg, contacts: int, orders: Sequence[tuple[str, float]]) -> list[str]:
    """`contacts` Contacts of one business account, each with an activated order billed to it
    per (effective date, total amount) of `orders`; returns the contact ids."""
    account = load_rows(org, "Account", [{"Name": "Acme"}])[0]
    ids = load_rows(
        org,
        "Contact",
        [
            {"LastName": f"C{i:04d}", "Email": f"c{i}@example.com", "AccountId": account}
            for i in range(contacts)
        ],
    )
    load_rows(
        org,
        "Order",
        [
            {
                "AccountId": account,
                "BillToContactId": cid,
                "Status": "Activated",
                "EffectiveDate": day,
                "TotalAmount": amount,
            }
            for cid in ids
            for day, amount in orders
        ],
    )
    return ids


def settle() -> None:
    """Wait past the current whole second: a pull window ends on the last whole second before
    its run, so a row stamped before this returns is inside the next sync's pull."""
    now = time.time()
    time.sleep(math.ceil(now) - now + 0.01)


def activated_order(
    org: LocalOrg,
    account: str,
    contact: str,
    lines: Sequence[dict[str, Any]],
    *,
    settled: bool = True,
) -> str:
    """An Order of ``contact`` dated today, with OrderItems ``lines`` (Quantity, UnitPrice,
    Product2Id...), created as Draft then Activated, as a shop would; its id. With
    ``settled`` (the default) it returns once the next sync is sure to pull it."""
    order = org.store.insert(
        "Order",
        {
            "AccountId": account,
            "BillToContactId": contact,
            "Status": "Draft",
            "EffectiveDate": datetime.now(UTC).date().isoformat(),
        },
    )
    for line in lines:
        org.store.insert("OrderItem", {"OrderId": order, **line})
    org.store.update("Order", order, {"Status": "Activated"})
    if settled:
        settle()
    return order


def field_values(
    org: LocalOrg, contact_ids: list[str], fields: Sequence[str]
) -> dict[str, tuple[Any, ...]]:
    """The stored values of `fields`, in that order, for each of `contact_ids`."""
    cols = ", ".join(f'"{f}"' for f in fields)
    rows = org.store.execute(f'SELECT "Id", {cols} FROM "Contact"')
    wanted = set(contact_ids)
    return {r[0]: tuple(r[1:]) for r in rows if r[0] in wanted}


#: The system permissions the integration-user checklist has an admin grant for `fields deploy`.
DEPLOY_PERMISSIONS: tuple[str, ...] = (
    "PermissionsViewSetup",
    "PermissionsCustomizeApplication",
    "PermissionsManageProfilesPermissionsets",
    "PermissionsAssignPermissionSets",
)


def grant_permissions(
    admin: Any, user_id: str, permissions: Sequence[str], name: str = "L2L_Deployer"
) -> str:
    """As an admin (a simple-salesforce client), create permission set `name` holding the
    system `permissions` and assign it to `user_id`; returns the set's id."""
    set_id = str(
        admin.PermissionSet.create(
            {"Name": name, "Label": name, **dict.fromkeys(permissions, True)}
        )["id"]
    )
    admin.PermissionSetAssignment.create({"AssigneeId": user_id, "PermissionSetId": set_id})
    return set_id


def loyalty_pass(
    store: Any,
    config: Any,
    *,
    orders: Any,
    contacts: Any,
    now: datetime,
    accounts: Any = None,
    leads: Any = None,
    events: Any = None,
) -> tuple[Any, dict[str, Any]]:
    """The loyalty part of one sync over these frames, as the engine runs it: Resolve,
    the pure loyalty compute, then the Effects step (booking, vouchers, tiers). Returns the
    values and the run record, with what the Effects step booked and gave."""
    import pandas as pd

    from connector.sync.effects import apply
    from connector.sync.loyalty import load_inputs, loyalty_values
    from connector.sync.resolve import resolve_run

    empty = pd.DataFrame(columns=["name", "occurred_at", "email", "anonymous_id", "properties"])
    resolved = resolve_run(
        now=now,
        contacts=contacts,
        leads=leads
        if leads is not None
        else pd.DataFrame(columns=["Id", "Email", "IsConverted", "ConvertedContactId"]),
        accounts=accounts
        if accounts is not None
        else pd.DataFrame(columns=["Id", "PersonContactId"]),
        orders=orders,
        events=events if events is not None else empty,
        shop_keys=store.events.shop_order_keys(),
        reference_field="OrderReferenceNumber",
        orders_are_events=False,
    )
    values, effects, record = loyalty_values(config, resolved, load_inputs(store, config, resolved))
    applied = apply(effects, _NoFlows(), store, None)
    for program, booked in applied.booked.items():
        record[program]["booked"] = booked
    if applied.vouchers:
        record[config.programs[0].id]["vouchers_given"] = applied.vouchers
    return values, record


class _NoFlows:
    """A Salesforce that is never called: these passes plan no Flow (no tier Flow set)."""

    def invoke_flow(self, name: str, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        raise AssertionError(f"no Flow expected, got {name}")


# A shop-order ledger: one tiered program over webhook orders (tests/loyalty/test_shop_refunds.py,
# tests/loyalty/test_backup_restore.py). Ada's Contact is the shopper of the Shopify fixtures.
SHOP_LEDGER_NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
SHOP_LEDGER_ADA = "003A"
SHOP_LEDGER_EMAIL = "ada.shopper@example.com"


def shop_ledger_config() -> Any:
    """The club program: 1 point per unit (floor), 50 more from 100, never expiring."""
    from connector.loyalty.config import LoyaltyConfig

    return LoyaltyConfig.model_validate(
        {
            "programs": [
                {
                    "id": "club",
                    "name": "Club",
                    "type": "tiered",
                    "rounding": "floor",
                    "earning": [
                        {"id": "base", "kind": "spend", "points_per_unit": 1},
                        {"id": "big", "kind": "threshold", "min_amount": 100, "points": 50},
                    ],
                    "tiers": {"levels": [{"name": "Bronze", "min_points": 0}]},
                    "expiry": {"mode": "never"},
                }
            ]
        }
    )


def book_shop_orders(store: Any, config: Any = None, now: datetime = SHOP_LEDGER_NOW) -> int:
    """The sync's loyalty step over the store's orders (``config``: the club program);
    returns how many entries it booked."""
    from connector.sync.order_merge import orders_frame
    from connector.sync.orders import FILTER_COLUMNS
    from connector.sync.resolve import ORDER_COLUMNS

    orders = orders_frame(store, [*ORDER_COLUMNS, *FILTER_COLUMNS, "OrderReferenceNumber"])
    _, record = loyalty_pass(
        store,
        config if config is not None else shop_ledger_config(),
        orders=orders,
        accounts=store.records.frame("Account", ["Id", "PersonContactId"]),
        contacts=store.records.frame("Contact", ["Id", "Email", "AccountId"]),
        leads=store.records.frame("Lead", ["Id", "Email", "IsConverted", "ConvertedContactId"]),
        now=now,
    )
    booked: int = record["club"]["booked"]
    return booked


def ada_journal(store: Any, currency: str = "points") -> Any:
    """Ada's entries in the club's journal in ``currency`` (a DataFrame)."""
    journal = store.loyalty.journal("club")
    member = journal["member"] == f"Contact:{SHOP_LEDGER_ADA}"
    return journal[member & (journal["currency"] == currency)]
