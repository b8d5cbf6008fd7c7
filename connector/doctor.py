"""``lead2loyalty doctor``: the integration-user checklist, checked line by line against the org.

Each check signs in as the connector does and asks the org what the integration user can do,
in the checklist's order:

1. sign-in with the configured OAuth flow (connected app, login URL, credentials);
2. the API version the connector speaks is served by the org;
3. API Enabled (any versioned call answers ``API_DISABLED_FOR_ORG`` without it);
4. daily API requests remaining, against the configured share (``L2L_QUOTA_SHARE``);
5. every pulled object readable and every written object editable (describe: a 404 means
   the user cannot see it, or the feature is off, as Orders may be);
6. every standard field the pull and the models read visible (describe drops a field that
   field-level security hides), and every mapped field visible and editable;
7. the L2L_Integration permission set assigned to the integration user;
8. the permissions ``fields deploy`` needs (View Setup and Configuration, Customize
   Application, Manage Profiles and Permission Sets, Assign Permission Sets): warnings, as a
   sync does not need them once the fields are deployed;
9. every Flow models/ names (intent moments, loyalty tier changes): active, declaring every
   input the connector sends (connector/salesforce/flow_checks.py);
10. who holds L2L_Read, the read-only set for people (a warning when nobody does);
11. readiness, as ``GET /readyz`` answers it (:mod:`connector.readiness`): the last scheduled
    sync and the schedule, read from the local database; a warning when a run failed or the
    schedule is late (not before the first sync), and either way the line says how to point an
    uptime monitor at ``/readyz``. Checked only when nothing above blocks a sync;
12. where the database lives (:func:`ephemeral_reason`), also only when nothing blocks a
    sync: a warning when the SQLite file is on a temporary or ephemeral place (/tmp,
    /var/tmp, ``$TMPDIR``, a tmpfs mount, a Heroku dyno's disk), where the loyalty journal
    would not survive a reboot or a restart.
13. once a lead conversion model is stored: which learner writes the score (logistic or
    gradient boosting, as time-split cross-validation chose), when it was fitted, its AUC.

A failed check blocks a sync (exit 1); warnings do not. Each line carries its fix.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from connector.admin.deploy import DEPLOY_RIGHTS, MANAGE_USERS, is_assigned, read_rights
from connector.config import Settings
from connector.errors import FatalError, Lead2LoyaltyError, SalesforceError
from connector.loyalty.config import LoyaltyConfig
from connector.loyalty.ledger import KINDS
from connector.loyalty.wiring import load_config as load_loyalty_config
from connector.mapping.deploy import PERMISSION_SET, access_needs
from connector.mapping.models import MappingFile
from connector.salesforce import SalesforceClient
from connector.salesforce.flow_checks import check_flows, check_read_set
from connector.salesforce.rights import NO_SETUP_ACCESS
from connector.salesforce.sfdx import flow_specs
from connector.sync.intent import load_scoring
from connector.sync.loyalty import org_needs
from connector.sync.loyalty_mirror import JournalTypeMissing, journal_type_ids
from connector.sync.orders_intel import load_settings as load_orders_settings
from connector.sync.streams import DEFAULT_OBJECTS, STREAMS
from connector.sync.texts_stage import texts_needs

Status = Literal["ok", "warn", "fail"]
DEPLOY_FIX = (
    f"run `lead2loyalty fields deploy` (it grants this in permission set {PERMISSION_SET} and "
    "assigns it), or have an admin grant it"
)
SIGN_IN_FIX = (
    "check L2L_SALESFORCE_LOGIN_URL (the org's My Domain URL), the connected app "
    "(client credentials: enabled with a Run As user; JWT: the certificate uploaded and "
    "the user pre-authorized) and the L2L_SALESFORCE_* credentials"
)
# Objects that can be switched off for the whole org (Setup > Order Settings > Enable Orders).
_FEATURE_OBJECTS = {"Order": "Orders", "OrderItem": "Orders"}


@dataclass(frozen=True)
class Check:
    """One checklist line: what was checked, its status, what was found, how to fix it."""

    name: str
    status: Status
    detail: str
    fix: str = ""

    def line(self) -> str:
        """The check as one line of text."""
        text = f"{self.status.upper():<4}  {self.name}: {self.detail}"
        return text + (f" -> fix: {self.fix}" if self.fix and self.status != "ok" else "")

    def as_json(self) -> dict[str, str]:
        """The check as a JSON object."""
        return {"check": self.name, "status": self.status, "detail": self.detail, "fix": self.fix}


@dataclass
class DoctorReport:
    """Every check made, in checklist order."""

    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing blocks a sync (warnings allowed)."""
        return all(c.status != "fail" for c in self.checks)

    def add(self, name: str, status: Status, detail: str, fix: str = "") -> None:
        """Record one check."""
        self.checks.append(Check(name, status, detail, fix))

    def as_json(self) -> dict[str, Any]:
        """The ``doctor --json`` object."""
        return {"ok": self.ok, "checks": [c.as_json() for c in self.checks]}


def run_doctor(
    settings: Settings,
    mappings: list[MappingFile],
    *,
    pulled: Sequence[str] = DEFAULT_OBJECTS,
    client: SalesforceClient | None = None,
) -> DoctorReport:
    """Check the org and the integration user; see the module docstring for the list."""
    report = DoctorReport()
    try:
        client = client or SalesforceClient(settings)
        client.authenticate()
    except Lead2LoyaltyError as exc:
        report.add("sign-in", "fail", str(exc), SIGN_IN_FIX)
        return report
    report.add("sign-in", "ok", f"{client.auth_flow} flow at {settings.salesforce_login_url}")
    try:
        _check_org(client, settings, mappings, pulled, report)
    except SalesforceError as exc:
        report.add("org", "fail", str(exc), "check the network and the org, then run again")
    if report.ok:  # after a blocking failure the checklist stops there, as the sync would
        _check_readiness(settings, report)
        _check_database(settings, report)
        _check_conversion_model(settings, report)
        _check_text_intents(settings, report)
    return report


def _check_text_intents(settings: Settings, report: DoctorReport) -> None:
    """Which intents ``fit texts`` learnt (an information line, once fitted)."""
    from connector.texts.intent_classifier import CLASSIFIER_FILE, load_intent_classifier

    try:
        learnt = load_intent_classifier(settings.models_dir)
    except Lead2LoyaltyError as exc:
        report.add("learnt intents", "warn", str(exc), "run `lead2loyalty fit texts` again")
        return
    if learnt is None:
        return
    names = ", ".join(learnt.intents_) or "none (too few labels of each)"
    report.add(
        "learnt intents",
        "ok",
        f"{names} from {learnt.rows_:,} labelled messages ({CLASSIFIER_FILE}); the other "
        "intents are zero-shot; `lead2loyalty fit texts` refits",
    )


def _check_conversion_model(settings: Settings, report: DoctorReport) -> None:
    """Which learner writes the lead conversion score (an information line, once fitted)."""
    import sqlite3

    from connector.store import Store
    from connector.sync.intent import MODEL_NAME

    try:
        store = Store(settings.store_location)
        try:
            stored = store.scoring.load_model(MODEL_NAME)
        finally:
            store.close()
    except (sqlite3.Error, OSError, Lead2LoyaltyError):
        return  # the readiness line above already says the database cannot be read
    if stored is None:
        return
    # a model stored before the learner was chosen is the logistic one
    learner = str(stored.record.get("learner", "logistic")).replace("_", " ")
    auc = stored.record.get("holdout_auc")
    report.add(
        "lead conversion model",
        "ok",
        f"{learner} writes the score (fitted {stored.fitted_at:%Y-%m-%d %H:%M} UTC"
        + (f", holdout AUC {auc}" if auc is not None else "")
        + "); `lead2loyalty fit lead-conversion` refits it",
    )


DATABASE_FIX = (
    "keep the database on a disk that survives restarts (L2L_DATABASE=/var/lib/lead2loyalty/"
    "l2l.sqlite, a mounted volume), or use PostgreSQL (DATABASE_URL); back it up with "
    "`lead2loyalty backup` (README: Where the database lives)"
)


def ephemeral_reason(
    database: Path, env: Mapping[str, str], mounts: Sequence[tuple[str, str]]
) -> str | None:
    """Why a SQLite file at ``database`` would not outlive its host, or None.

    ``env`` is the environment; ``mounts`` is (mount point, filesystem type) as
    ``/proc/mounts`` lists them. A Heroku dyno (``DYNO`` set) has an ephemeral filesystem,
    discarded when the dyno restarts, which happens at least daily
    (https://devcenter.heroku.com/articles/dynos#ephemeral-filesystem and #restarting); a
    tmpfs lives in memory; /tmp, /var/tmp and ``$TMPDIR`` are cleared by the system.
    """
    path = Path(database).resolve()
    if env.get("DYNO"):
        return (
            f"this is a Heroku dyno (DYNO={env['DYNO']}): its disk is discarded at every "
            "restart, at least daily"
        )
    temporary = [Path("/tmp"), Path("/var/tmp")]  # noqa: S108 - named to warn, not used
    if env.get("TMPDIR"):
        temporary.append(Path(env["TMPDIR"]).resolve())
    for folder in temporary:
        if path == folder or folder in path.parents:
            return f"{folder} is a temporary folder, cleared by the system"
    # The mount the file lives on: the longest mount point that contains it.
    holding = [
        (Path(point), kind) for point, kind in mounts if Path(point) in (path, *path.parents)
    ]
    if holding:
        point, kind = max(holding, key=lambda m: len(m[0].parts))
        if kind in ("tmpfs", "ramfs"):
            return f"{point} is a {kind} mount, held in memory and gone at reboot"
    return None


def _mounts() -> list[tuple[str, str]]:
    try:
        text = Path("/proc/mounts").read_text(encoding="utf-8")
    except OSError:  # not Linux: the path rules still apply
        return []
    return [(f[1], f[2]) for f in (line.split() for line in text.splitlines()) if len(f) >= 3]


def _check_database(settings: Settings, report: DoctorReport) -> None:
    """Where the database lives: a warning when it would not survive its host."""
    if settings.database_url.get_secret_value():
        report.add("database", "ok", f"PostgreSQL at {settings.database_label}")
        return
    reason = ephemeral_reason(settings.database, os.environ, _mounts())
    if reason is None:
        report.add("database", "ok", f"SQLite file {settings.database}")
        return
    report.add(
        "database",
        "warn",
        f"SQLite file {settings.database} will be lost: {reason}; the loyalty journal is the "
        "only record of every member's points",
        DATABASE_FIX,
    )


def save_report(settings: Settings, report: DoctorReport) -> None:
    """Keep ``report`` (with when it was made) in the database, for the admin page's deploy
    state per field: checking asks the org (describe, permission sets), which a page must not
    do per request. A database that cannot be opened keeps nothing; the checklist stands."""
    from datetime import UTC, datetime

    from connector.store import Store
    from connector.store.admin import DOCTOR_REPORT

    try:
        store = Store(settings.store_location)
    except Lead2LoyaltyError:
        return
    try:
        kept = {"at": datetime.now(UTC).isoformat(timespec="seconds"), **report.as_json()}
        store.records.set_state(DOCTOR_REPORT, json.dumps(kept))
    finally:
        store.close()


MONITOR_HOWTO = (
    "point an uptime monitor (UptimeRobot, Pingdom, a Kubernetes readinessProbe...) at GET "
    "https://<web host>/readyz: it answers 503 with the reasons when the last sync failed or no "
    "sync started within 2 x L2L_SYNC_INTERVAL_MINUTES; keep /healthz for liveness"
)


def _check_readiness(settings: Settings, report: DoctorReport) -> None:
    """What /readyz would answer now, from the local database (a warning when not ready)."""
    import sqlite3
    from datetime import UTC, datetime

    from connector.readiness import ReadinessFacts, read_facts, readiness
    from connector.store import Store

    facts: ReadinessFacts | Exception
    try:
        store = Store(settings.store_location)
        try:
            facts = read_facts(store)
        finally:
            store.close()
    except (sqlite3.Error, OSError, Lead2LoyaltyError) as exc:
        facts = exc
    status, body = readiness(facts, datetime.now(UTC), settings.sync_interval_minutes)
    if status == 200:
        report.add("readiness", "ok", f"/readyz answers 200; to watch it, {MONITOR_HOWTO}")
    elif body["problems"] == ["no_sync_yet"]:  # a new install: nothing is wrong yet
        report.add(
            "readiness", "ok", f"/readyz answers 503 until the first sync; then {MONITOR_HOWTO}"
        )
    else:
        problems = ", ".join(body["problems"])
        report.add("readiness", "warn", f"/readyz answers 503 ({problems})", MONITOR_HOWTO)


def _check_org(
    client: SalesforceClient,
    settings: Settings,
    mappings: list[MappingFile],
    pulled: Sequence[str],
    report: DoctorReport,
) -> None:
    version = settings.salesforce_api_version
    served = client.api_versions()
    if version in served:
        report.add("API version", "ok", f"{version} is served by the org")
    else:
        report.add(
            "API version",
            "fail",
            f"{version} is not served by the org (it serves {', '.join(served[-3:])}...)",
            f"set L2L_SALESFORCE_API_VERSION to one of {', '.join(served[-3:])}",
        )
        return
    try:
        limits = client.limits()
    except FatalError as exc:
        if exc.error_code in ("API_DISABLED_FOR_ORG", "API_CURRENTLY_DISABLED"):
            report.add(
                "API Enabled",
                "fail",
                "the integration user may not use the API",
                'turn on "API Enabled" in its profile or a permission set assigned to it',
            )
            return
        raise
    report.add("API Enabled", "ok", "the integration user may use the API")
    daily = limits.get("DailyApiRequests") or {}
    most, left = int(daily.get("Max", 0)), int(daily.get("Remaining", 0))
    usable = left - most * (1 - settings.quota_share)
    if usable <= 0:
        report.add(
            "daily API requests",
            "fail",
            f"{left:,} of {most:,} left, none within this connector's share "
            f"({settings.quota_share:.0%})",
            "wait for the daily limit to reset or raise L2L_QUOTA_SHARE",
        )
    else:
        status: Status = "warn" if left < most * 0.1 else "ok"
        report.add("daily API requests", status, f"{left:,} of {most:,} left", "watch the quota")

    loyalty = load_loyalty_config(settings)
    needs = access_needs(
        mappings, pulled, texts_needs(org_needs(loyalty), load_scoring(settings).texts)
    )
    described: dict[str, dict[str, Any]] = {}
    for obj in needs.read_objects:
        try:
            described[obj] = client.describe(obj)
        except FatalError as exc:
            if exc.status != 404:
                raise
            fix = f"grant Read on {obj}: {DEPLOY_FIX}"
            feature = _FEATURE_OBJECTS.get(obj)
            if feature:
                fix += f"; if {feature} are off in this org, enable them (Setup > Order Settings)"
            report.add(f"object {obj}", "fail", "not visible to the integration user", fix)
            continue
        if obj in needs.create_objects and not described[obj].get("createable"):
            report.add(
                f"object {obj}",
                "fail",
                "not creatable (the Loyalty Management mirror upserts its records)",
                f"grant Create and Edit on {obj}: {DEPLOY_FIX}",
            )
        elif obj in needs.edit_objects and not described[obj].get("updateable"):
            report.add(
                f"object {obj}",
                "fail",
                "readable but not editable",
                f"grant Edit on {obj}: {DEPLOY_FIX}",
            )
        else:
            access = "read and edit" if obj in needs.edit_objects else "read"
            report.add(f"object {obj}", "ok", access)
    _check_pulled_fields(described, needs.read_objects, report)
    for name in needs.fields:
        obj, _, field_name = name.partition(".")
        if obj not in described:
            report.add(f"field {name}", "fail", f"its object {obj} is not visible", DEPLOY_FIX)
            continue
        fields = {f["name"]: f for f in described[obj]["fields"]}
        found = fields.get(field_name)
        if found is None:
            report.add(
                f"field {name}",
                "fail",
                "missing, or not visible to the integration user",
                DEPLOY_FIX,
            )
        elif not found.get("updateable"):
            report.add(f"field {name}", "fail", "read-only for the integration user", DEPLOY_FIX)
        else:
            report.add(f"field {name}", "ok", "visible and editable")
    _check_field_lengths(client, mappings, report)
    if "JournalType" in described:
        _check_journal_types(client, loyalty, report)
    _check_deploy_rights(client, report)
    orders = load_orders_settings(settings.models_dir / "orders.yaml")
    scoring = load_scoring(settings)
    specs = flow_specs(scoring.intent, loyalty, orders, scoring.texts)
    for line in [*check_flows(client, specs), check_read_set(client)]:
        report.add(*line)


def _check_field_lengths(
    client: SalesforceClient, mappings: list[MappingFile], report: DoctorReport
) -> None:
    """A mapped Text field the org holds shorter than the mappings write (an org deployed
    before it grew): a longer value is refused with STRING_TOO_LONG, so the sync would fail
    on it. Read from the Tooling API, which needs View Setup and Configuration: without it,
    the deploy-rights line says so and this check is skipped."""
    from connector.admin.deploy import too_short_fields

    try:
        short = too_short_fields(client, mappings)
    except FatalError as exc:
        if exc.error_code in NO_SETUP_ACCESS:  # no View Setup: the Tooling API is closed
            return
        raise
    for name, (have, need) in sorted(short.items()):
        report.add(
            f"field {name}",
            "fail",
            f"holds {have} characters, the connector writes up to {need}: a longer value is "
            "refused (STRING_TOO_LONG)",
            "run `lead2loyalty fields deploy` (it widens the field), or raise its length in "
            "Setup > Object Manager",
        )


def _check_pulled_fields(
    described: dict[str, dict[str, Any]], pulled: Sequence[str], report: DoctorReport
) -> None:
    """The standard fields the pull and the models read, visible to the integration user:
    describe leaves out a field field-level security hides, and a pull without it would read
    less (leads and contacts stop matching without Email)."""
    for obj in pulled:
        stream = STREAMS.get(obj)
        if stream is None or obj not in described:
            continue
        shown = {f["name"] for f in described[obj]["fields"]}
        hidden = [f for f in stream.expected_fields() if f not in shown]
        if hidden:
            report.add(
                f"fields read from {obj}",
                "fail",
                f"not visible to the integration user: {', '.join(hidden)}",
                f"grant Read on them: {DEPLOY_FIX}",
            )
        else:
            report.add(f"fields read from {obj}", "ok", "every field the pull reads is visible")


def _check_journal_types(
    client: SalesforceClient, loyalty: LoyaltyConfig, report: DoctorReport
) -> None:
    """Each mirroring program's journal kinds name JournalTypes the org holds."""
    for program in loyalty.programs:
        if program.mirror != "loyalty_management":
            continue
        try:
            journal_type_ids(client, program, set(KINDS))
        except JournalTypeMissing as exc:
            report.add(
                f"journal types of {program.id}",
                "fail",
                str(exc).split(": create it", 1)[0],
                "create the JournalType in Setup (Loyalty Management, Journal Types), or map "
                "the kinds to existing types with journal_types in models/loyalty.yaml",
            )
        else:
            report.add(f"journal types of {program.id}", "ok", "every journal kind has its type")


def _check_assignment(client: SalesforceClient, report: DoctorReport, user_id: str) -> None:
    name = f"permission set {PERMISSION_SET}"
    try:
        assigned = is_assigned(client, user_id)
    except FatalError as exc:
        if exc.error_code not in ("INVALID_TYPE", "INVALID_FIELD"):
            raise
        report.add(name, "warn", "unknown without View Setup and Configuration", DEPLOY_FIX)
        return
    if assigned:
        report.add(name, "ok", "assigned to the integration user")
    else:
        # Not blocking by itself: the field and object lines above say whether access is there.
        report.add(name, "warn", "not assigned to the integration user", DEPLOY_FIX)


def _check_deploy_rights(client: SalesforceClient, report: DoctorReport) -> None:
    user_id = client.user_id()
    _check_assignment(client, report, user_id)
    held = read_rights(client, user_id)
    fix = "needed by `lead2loyalty fields deploy` only: an admin grants it in a permission set "
    fix += "assigned to the integration user (or deploys salesforce/ and assigns "
    fix += f"{PERMISSION_SET} instead)"
    for api_name, label in DEPLOY_RIGHTS:
        name = f'permission "{label}"'
        if held is None:
            if api_name == DEPLOY_RIGHTS[0][0]:
                report.add(name, "warn", "missing (cannot read permission sets)", fix)
            else:
                report.add(name, "warn", "unknown without View Setup and Configuration", fix)
            continue
        granted = api_name in held or (
            api_name == "PermissionsAssignPermissionSets" and MANAGE_USERS[0] in held
        )
        if granted:
            report.add(name, "ok", "granted")
        else:
            report.add(name, "warn", "missing", fix)


__all__ = ["Check", "DoctorReport", "run_doctor"]
