"""The ``lead2loyalty`` command: thin, parse -> call -> print.

Errors are handled in one place, :class:`CleanErrors` (the root group): library errors, bad
settings and OS errors become one clean line (no traceback) and exit code 1.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from connector.bounds import INT64_MAX, MAX_POINTS
from connector.cli_project import COMMANDS, MAPPING_FORMAT_HELP
from connector.errors import ConfigError, Lead2LoyaltyError

if TYPE_CHECKING:
    from connector.config import Settings

# Numbers on the command line have documented ranges (connector/bounds.py): click refuses the
# rest with one line, before anything is read or written.
PORT = click.IntRange(0, 65_535)


class FiniteRange(click.FloatRange):
    """A FloatRange that also refuses nan (which compares false with both ends)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """The number, or click's one-line usage error."""
        number = super().convert(value, param, ctx)
        if number != number:
            self.fail(f"{value!r} is not a number.", param, ctx)
        return number


class CleanErrors(click.Group):
    """The root group: every command runs inside its ``invoke``, so no command has to
    remember to catch anything. A :class:`Lead2LoyaltyError` (settings, mappings, Salesforce,
    a run in progress, a database that is busy or cannot be used) or an OS error (a file that
    cannot be read or written) becomes ``Error: <one line>`` on stderr and exit code 1;
    anything else is a bug and keeps its traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command line, turning expected failures into one line and exit code 1."""
        try:
            return super().invoke(ctx)
        except Lead2LoyaltyError as exc:
            _fail(ctx, str(exc))
        except OSError as exc:
            where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
            _fail(ctx, f"{where}{exc.strerror or exc}")
        return None


def _fail(ctx: click.Context, message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    ctx.exit(1)


def _setup_logging(verbose: bool) -> None:
    """Log to stderr through a filter that masks every configured secret and bearer token."""
    import logging

    from connector.errors import ConfigError
    from connector.logs import RedactSecrets

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    try:
        handler.addFilter(RedactSecrets.from_settings(_settings()))
    except ConfigError:
        handler.addFilter(RedactSecrets())  # still masks bearer tokens and session ids
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING, handlers=[handler], force=True
    )


@click.group(cls=CleanErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lead2loyalty")
@click.option("-v", "--verbose", is_flag=True, help="Log every step (secrets are masked).")
def main(verbose: bool) -> None:
    """lead2loyalty: ecommerce behaviour in, Salesforce fields out.

    \b
    Example:
      lead2loyalty demo            # a local org, seeded, synced, in one go
    """
    _setup_logging(verbose)


@main.group()
def localorg() -> None:
    """A Salesforce-compatible org on this machine, for development, tests and demos.

    \b
    Example:
      lead2loyalty localorg serve --seed small
    """


@localorg.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=0, show_default=True, type=PORT, help="Port; 0 picks a free one.")
@click.option(
    "--seed",
    "size",
    type=click.Choice(["none", "small", "medium", "large"]),
    default="none",
    show_default=True,
    help="Seed a synthetic store first.",
)
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep the org in this folder (default: in memory).",
)
@click.option(
    "--faults", default="", help="Fault spec, e.g. 'latency=20ms,UNABLE_TO_LOCK_ROW=0.1'."
)
@click.option(
    "--daily-limit",
    default=1_000_000,
    show_default=True,
    type=click.IntRange(1, INT64_MAX),
    help="Daily API request limit.",
)
@click.option(
    "--flows",
    "flows_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Record-triggered and autolaunched flow rules (YAML).",
)
@click.option(
    "--flows-source",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Serve the autolaunched Flows under this SFDX folder (`fields export` writes them to "
    "salesforce/): their declared inputs, status and elements, as a deployed org would.",
)
@click.option(
    "--recycle-bin-days",
    default=15,
    show_default=True,
    type=click.IntRange(min=0),
    help="Days a deleted record stays in the Recycle Bin (queryAll) before it is purged.",
)
@click.option("--no-orders", is_flag=True, help="Serve an org with Orders turned off.")
@click.option("--no-person-accounts", is_flag=True, help="Serve an org without person accounts.")
@click.option(
    "--enhanced-email",
    type=click.Choice(["on", "off"]),
    default="on",
    show_default=True,
    help="off: EmailMessage has no RelatedToId (Email-to-Case only); an email reaches its "
    "person through its Task (ActivityId).",
)
@click.option(
    "--multi-currency", is_flag=True, help="Multiple currencies (CurrencyIsoCode, CurrencyType)."
)
@click.option(
    "--advanced-currency",
    is_flag=True,
    help="Advanced currency management (DatedConversionRate); needs --multi-currency.",
)
@click.option(
    "--loyalty-management",
    is_flag=True,
    help="Salesforce Loyalty Management objects (LoyaltyProgramMember, TransactionJournal, "
    "...) a program with `mirror: loyalty_management` writes its journal into, with the "
    "journal types Accrual, Redemption and Manual Points Adjustment.",
)
@click.option(
    "--user",
    "api_user",
    type=click.Choice(["admin", "minimal", "integration"]),
    default="admin",
    show_default=True,
    help="The API user: System Administrator; minimal (a Salesforce-licensed profile with API "
    "Enabled only); or integration, the README's recommended user (the Salesforce "
    "Integration license and its Minimum Access - API Only Integrations profile: API Enabled "
    "only, and only sets of the Salesforce API Integration permission set license).",
)
def localorg_serve(
    host: str,
    port: int,
    size: str,
    data_dir: Path | None,
    faults: str,
    daily_limit: int,
    flows_file: Path | None,
    flows_source: Path | None,
    recycle_bin_days: int,
    no_orders: bool,
    no_person_accounts: bool,
    enhanced_email: str,
    multi_currency: bool,
    advanced_currency: bool,
    loyalty_management: bool,
    api_user: str,
) -> None:
    """Serve a local org over HTTPS until stopped.

    The first line on stdout is one JSON object with instance_url, login_url, client_id,
    client_secret, username, password, ca_cert, jwt_private_key, api_user, and the
    admin_client_id / admin_client_secret of a second connected app that signs in as the
    org's administrator (to grant the API user what it needs through the API).

    \b
    Example:
      lead2loyalty localorg serve --seed small --port 8443
      lead2loyalty localorg serve --multi-currency --advanced-currency --recycle-bin-days 1
    """
    from connector.errors import ConfigError
    from connector.progress import Progress
    from localorg.cli import LocalOrgUsageError, serve
    from localorg.features import OrgFeatures

    try:
        serve(
            host=host,
            port=port,
            size=size,
            data_dir=data_dir,
            faults=faults,
            daily_limit=daily_limit,
            flows_file=flows_file,
            flows_source=flows_source,
            recycle_bin_days=recycle_bin_days,
            features=OrgFeatures(
                orders=not no_orders,
                person_accounts=not no_person_accounts,
                multi_currency=multi_currency,
                advanced_currency=advanced_currency,
                loyalty_management=loyalty_management,
                enhanced_email=enhanced_email == "on",
            ),
            api_user=api_user,
            progress=Progress(),
        )
    except LocalOrgUsageError as exc:
        raise ConfigError(str(exc)) from None


@localorg.command("seed")
@click.option(
    "--size",
    type=click.Choice(["small", "medium", "large"]),
    default="small",
    show_default=True,
    help="How big a store to generate.",
)
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder to write the org, its ground truth and events into.",
)
@click.option(
    "--rng-seed",
    default=7,
    show_default=True,
    type=click.IntRange(0, 2**32 - 1),
    help="Random seed (same seed, same org).",
)
def localorg_seed(size: str, data_dir: Path, rng_seed: int) -> None:
    """Write a seeded org (and its ground truth and event file) without serving it.

    \b
    Example:
      lead2loyalty localorg seed --size medium --data var/org
    """
    from connector.errors import ConfigError
    from connector.progress import Progress
    from localorg.cli import LocalOrgUsageError, seed

    try:
        written = seed(size=size, data_dir=data_dir, rng_seed=rng_seed, progress=Progress())
    except LocalOrgUsageError as exc:
        raise ConfigError(str(exc)) from None
    click.echo(json.dumps(written))


def _settings() -> Settings:
    from connector.config import load_settings

    return load_settings()


def _print_report(report: dict[str, Any]) -> None:
    click.echo(f"run {report['run_id']}: {report['status']} in {report['duration_s']:.1f}s")
    for name, counts in report["objects"].items():
        click.echo(f"  pulled {name:<10} {counts['pulled']:>8,}  deleted {counts['deleted']:,}")
    w = report["writes"]
    if report["planned"]:
        click.echo("  planned writes (dry run, nothing written):")
        for name, plan in report["planned"].items():
            how = "Bulk API 2.0 job" if plan["bulk"] else "collection calls"
            click.echo(
                f"    {name:<10} {plan['records']:>8,} records, {plan['fields']:,} fields,"
                f" {plan['api_calls']:,} {how}"
            )
    else:
        click.echo(
            f"  fields changed {w['fields_changed']:,}; records written {w['succeeded']:,}"
            f", failed {w['failed']:,}, carried over {w['carried_over']:,}"
            + (f", values no mapping can write {w['unmappable']:,}" if w.get("unmappable") else "")
        )
    for name, rec in report.get("reconciled", {}).items():
        click.echo(
            f"  reconciled {name:<10} {rec['held']:>8,} held, {rec['forgotten']:,} gone from the"
            f" org and forgotten ({rec['api_calls']} calls)"
        )
    for name, model in report.get("models", {}).items():
        click.echo(f"  {name}: {model.get('method', '?')}")
    if report.get("compute") == "skipped":
        click.echo("  compute skipped: no new or changed record, no new event, same day")
    if report.get("phases_s"):
        click.echo("  seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in report["phases_s"].items()))
    calls = report["api_calls"]
    kinds = ", ".join(f"{k} {v}" for k, v in calls.items() if k != "total")
    click.echo(f"  API calls {calls.get('total', 0):,}" + (f" ({kinds})" if kinds else ""))
    for run in report.get("recovered_runs", []):
        click.echo(f"  run {run['id']} (pid {run['pid']} on {run['host']}) died: marked crashed")
    for error in report["errors"][:5]:
        click.echo(f"  ! {error}")


@main.command("sync")
@click.option(
    "--dry-run", is_flag=True, help="Pull and compute, print planned writes; write nothing."
)
@click.option(
    "--objects",
    multiple=True,
    type=click.Choice(["Account", "Contact", "Lead", "Order", "OrderItem"]),
    help="Pull only these objects (repeatable).",
)
@click.option("--full", is_flag=True, help="Ignore watermarks and pull everything.")
@click.option(
    "--retry-failed",
    is_flag=True,
    help="Send again values Salesforce refused (after fixing the cause in the org).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def sync_cmd(
    dry_run: bool, objects: tuple[str, ...], full: bool, retry_failed: bool, as_json: bool
) -> None:
    """Run one sync: pull, compute, write back only what changed.

    Exit code 0 when the run succeeded, 2 when it was partial (values refused, carried over
    or unwritable) or stopped by the quota guard, 1 when it failed (a refused sign-in too).

    \b
    Example:
      lead2loyalty sync --dry-run
      lead2loyalty sync --objects Order --json
    """
    from connector.progress import Progress
    from connector.sync import SyncOptions, build_engine, exit_code

    show = None if as_json else Progress()
    engine = build_engine(_settings(), progress=show)
    report = engine.run(
        SyncOptions(
            dry_run=dry_run, objects=list(objects) or None, full=full, retry_failed=retry_failed
        )
    )
    if show is not None:
        show.done()
    out = report.as_json()
    click.echo(json.dumps(out)) if as_json else _print_report(out)
    sys.exit(exit_code(report.status))


@main.command("runs")
@click.option(
    "--limit",
    default=10,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="How many runs to show.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def runs_cmd(limit: int, as_json: bool) -> None:
    """List recent sync runs, newest first.

    \b
    Example:
      lead2loyalty runs --limit 5
    """
    from connector.store import Store

    store = Store(_settings().store_location)
    store.runs.close_dead()
    runs = store.runs.latest(limit)
    if as_json:
        click.echo(json.dumps(runs))
        return
    for run in runs:
        stats = run["stats"]
        writes = stats.get("writes", {})
        click.echo(
            f"{run['id']:>5} {run['started_at']} {run['mode']:<12} {run['status']:<14}"
            f" written {writes.get('succeeded', 0):,} calls "
            f"{stats.get('api_calls', {}).get('total', 0):,}"
        )
        if run["status"] in ("failed", "crashed") and stats.get("errors"):
            click.echo(f"      {stats['errors'][0]}")


@main.command("status")
def status_cmd() -> None:
    """Show watermarks, the outbox and the last run.

    \b
    Example:
      lead2loyalty status
    """
    from connector.store import Store

    settings = _settings()
    store = Store(settings.store_location)
    store.runs.close_dead()
    click.echo(f"database: {settings.database_label}")
    for object_name, modstamp in store.records.watermarks().items():
        click.echo(f"  watermark {object_name:<10} {modstamp}")
    click.echo(f"  outbox: {store.outbox.counts() or 'empty'}")
    runs = store.runs.latest(1)
    if runs:
        click.echo(f"  last run {runs[0]['id']}: {runs[0]['status']} at {runs[0]['started_at']}")


@main.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def backup_cmd(path: Path) -> None:
    """Copy the SQLite database into a new file, safely while web and worker write.

    The copy is one consistent moment (SQLite's online backup API); PATH must not exist. With
    DATABASE_URL (PostgreSQL) it says the pg_dump command to use instead.

    \b
    Example:
      lead2loyalty backup backups/l2l-$(date +%F).sqlite
    """
    from connector.store import Store

    settings = _settings()
    store = Store(settings.store_location)
    try:
        store.backup(path)
    finally:
        store.close()
    click.echo(f"backed up {settings.database_label} to {path}")


@main.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--replace",
    is_flag=True,
    help="Replace a database that already holds runs or loyalty entries.",
)
def restore_cmd(path: Path, replace: bool) -> None:
    """Put a backup (from `lead2loyalty backup`) back as the database.

    Waits for no sync: it refuses while one runs. A database that already holds runs or
    loyalty entries is replaced only with --replace. Run `lead2loyalty sync` after it: the
    journal's keys keep it from booking anything twice. With DATABASE_URL (PostgreSQL) it
    says the pg_restore command to use instead.

    \b
    Example:
      lead2loyalty restore --replace backups/l2l-2026-12-01.sqlite
    """
    from connector.store import Store

    settings = _settings()
    store = Store(settings.store_location)
    try:
        if store.url is None and store.holds_data() and not replace:
            raise ConfigError(
                f"{settings.database_label} already holds runs or loyalty entries: add "
                "--replace to overwrite them with the backup"
            )
        version = store.restore(path)
    finally:
        store.close()
    click.echo(f"restored {path} (schema version {version}) into {settings.database_label}")


@main.command("validate", epilog=MAPPING_FORMAT_HELP)
@click.option("--offline", is_flag=True, help="Check the files only, not the org.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def validate_cmd(offline: bool, as_json: bool) -> None:
    """Check mappings/ and models/ (every error as file:line) and, unless --offline, that the
    org has the mapped fields with fitting types.

    \b
    Example:
      lead2loyalty validate --offline
    """
    from connector.errors import MappingError
    from connector.mapping import check_against_describe, load_registered_mappings
    from connector.sync import load_predictions_config

    settings = _settings()
    problems: list[str] = []
    mappings = []
    try:
        mappings = load_registered_mappings(settings.mappings_dir)
    except MappingError as exc:
        problems.extend(exc.problems)
    try:
        load_predictions_config(settings)
    except MappingError as exc:
        problems.extend(exc.problems)
    try:
        from connector.sync.intent import load_scoring

        load_scoring(settings)
    except MappingError as exc:
        problems.extend(exc.problems)
    try:
        from connector.loyalty.wiring import load_config
        from connector.sync import check_programs

        check_programs(mappings, load_config(settings))
    except MappingError as exc:
        problems.extend(exc.problems)
    if mappings and not offline:
        from connector.salesforce import SalesforceClient

        client = SalesforceClient.from_settings(settings)
        objects = sorted({m.object for m in mappings})
        problems.extend(check_against_describe(mappings, {o: client.describe(o) for o in objects}))
    fields = sum(len(m.fields) for m in mappings)
    if as_json:
        click.echo(
            json.dumps(
                {"ok": not problems, "files": len(mappings), "fields": fields, "problems": problems}
            )
        )
    else:
        for problem in problems:
            click.echo(problem)
        click.echo(
            f"{len(mappings)} files, {fields} fields: "
            + ("ok" if not problems else f"{len(problems)} problems")
        )
    sys.exit(1 if problems else 0)


@main.command("values")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, one object a value.")
def values_cmd(as_json: bool) -> None:
    """List the computed values a mapping may name: key, type, unit, model, meaning.

    \b
    Example:
      lead2loyalty values --json
    """
    from connector.mapping.values import value_rows, value_table

    click.echo(json.dumps(value_rows()) if as_json else value_table().rstrip("\n"))


@main.group()
def fields() -> None:
    """Deploy or export the custom fields that mappings/ writes.

    \b
    Example:
      lead2loyalty fields deploy
    """


@fields.command("deploy")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--assign-read",
    "assign_read",
    multiple=True,
    metavar="USERNAME",
    help="Assign the read-only L2L_Read permission set to this user (repeatable): the reps "
    "and admins who should see the scores. Nobody gets it by default.",
)
def fields_deploy(as_json: bool, assign_read: tuple[str, ...]) -> None:
    """Create missing custom fields (Tooling API), grant them and the objects the sync reads
    and writes in the L2L_Integration permission set, and assign it to the integration user.
    A program with `mirror: loyalty_management` adds its External ID fields on the Loyalty
    Management objects and Create/Edit on those objects.

    Also creates L2L_Read, a read-only permission set on the same fields for people
    (assigned only with --assign-read).

    Safe to re-run: it reads first and writes only what is missing. When the integration
    user lacks a permission the writes need, it changes nothing and prints what an admin
    must grant (exit 1).

    \b
    Example:
      lead2loyalty fields deploy --json
      lead2loyalty fields deploy --assign-read rep@example.com --assign-read admin@example.com
    """
    from connector.admin.deploy import deploy
    from connector.errors import AccessMissing
    from connector.loyalty.wiring import load_config
    from connector.mapping import load_registered_mappings
    from connector.salesforce import SalesforceClient
    from connector.salesforce.read_access import (
        AssigneesUnknown,
        apply_read_set,
        plan_read_set,
    )
    from connector.sync.intent import load_scoring
    from connector.sync.loyalty import org_needs
    from connector.sync.texts_stage import texts_needs

    settings = _settings()
    mappings = load_registered_mappings(settings.mappings_dir)
    extra = texts_needs(org_needs(load_config(settings)), load_scoring(settings).texts)
    client = SalesforceClient.from_settings(settings)
    try:
        read_plan = plan_read_set(client, mappings, assign_read)
    except AssigneesUnknown:
        raise
    except AccessMissing as blocked:
        # The field deploy speaks first: with work to do and rights missing it stops before
        # any write, naming every permission (these too); with nothing to do it writes nothing.
        done = deploy(client, mappings, extra=extra)
        if (
            done.created
            or done.widened
            or done.permissions_granted
            or done.objects_granted
            or done.assigned
        ):
            raise AccessMissing(
                "fields deploy made the fields and L2L_Integration, but not L2L_Read: "
                + str(blocked).removeprefix("fields deploy changed nothing: ")
            ) from None
        raise
    deployed = deploy(client, mappings, extra=extra)
    read = apply_read_set(client, mappings, read_plan, [*deployed.created, *deployed.existing])
    report = {**deployed.as_json(), "read_permission_set": read.as_json()}
    if as_json:
        click.echo(json.dumps(report))
        return
    click.echo(
        f"created {len(report['created'])} fields, {len(report['existing'])} existed; "
        f"granted {len(report['permissions_granted'])} fields and "
        f"{len(report['objects_granted'])} objects in {report['permission_set']}"
        + ("; assigned it to the integration user" if report["assigned"] else "")
    )
    if report["widened"]:
        click.echo("widened (characters): " + ", ".join(report["widened"]))
    click.echo(
        "permission set L2L_Read (read-only, for people): "
        + ("created; " if read.created else "")
        + f"granted {len(read.fields_granted)} fields"
        + (f"; assigned to {', '.join(read.assigned)}" if read.assigned else "")
        + ("" if read_plan.assignees else "; assign it with --assign-read USERNAME")
    )
    if report["objects_absent"]:
        click.echo(
            "not in this org, so not granted: " + ", ".join(report["objects_absent"]) + " "
            "(for Order and OrderItem: Setup > Order Settings > Enable Orders; the Loyalty "
            "Management objects need that product, which `mirror: loyalty_management` in "
            "models/loyalty.yaml writes to)"
        )


@fields.command("export")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("salesforce"),
    show_default=True,
    help="SFDX project folder.",
)
@click.option(
    "--user-license",
    type=click.Choice(["integration", "salesforce"]),
    default="integration",
    show_default=True,
    help="The integration user's license: integration (Salesforce Integration; the set carries "
    "the Salesforce API Integration permission set license) or salesforce (no license on the "
    "set).",
)
def fields_export(out: Path, user_license: str) -> None:
    """Write SFDX source: every mapped custom field, the L2L_Integration and L2L_Read
    permission sets, the record page component (lwc/l2lScores) with a record page per
    object, list views, report types and reports, and the Flows models/ names.

    \b
    Example:
      lead2loyalty fields export --out salesforce
    """
    from connector.admin.deploy import export
    from connector.loyalty.wiring import load_config
    from connector.mapping import load_registered_mappings
    from connector.salesforce.sfdx import flow_specs, hot_line
    from connector.sync.intent import load_scoring
    from connector.sync.loyalty import org_needs
    from connector.sync.texts_stage import texts_needs

    settings = _settings()
    mappings = load_registered_mappings(settings.mappings_dir)
    loyalty = load_config(settings)
    scoring = load_scoring(settings)
    intent = scoring.intent
    from connector.sync.orders_intel import load_settings as load_orders_settings

    orders = load_orders_settings(settings.models_dir / "orders.yaml")
    flows = flow_specs(intent, loyalty, orders, scoring.texts)
    paths = export(
        mappings,
        out,
        extra=texts_needs(org_needs(loyalty), scoring.texts),
        flows=flows,
        hot=hot_line(intent),
        integration_license=user_license == "integration",
    )
    click.echo(
        f"wrote {len(paths)} files under {out}: fields, permission sets, the record page "
        f"component, list views, reports and {len(flows)} Flow(s)"
    )


@main.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def doctor_cmd(as_json: bool) -> None:
    """Check the org and the integration user, one line per checklist item with its fix.

    Signs in, then checks the API version, API Enabled, daily API requests left, Read on
    every pulled object, Edit on every written one, every standard field the pull reads
    visible, every mapped field visible and editable, and the permissions `fields deploy`
    needs (warnings only). Exit 1 when
    anything blocks a sync, 0 otherwise. The checks are kept in the database: the admin
    page's mappings show each field's deploy state from the last run.

    \b
    Example:
      lead2loyalty doctor --json
    """
    from connector.doctor import run_doctor, save_report
    from connector.mapping import load_registered_mappings

    settings = _settings()
    mappings = load_registered_mappings(settings.mappings_dir)
    report = run_doctor(settings, mappings)
    save_report(settings, report)
    if as_json:
        click.echo(json.dumps(report.as_json()))
    else:
        for check in report.checks:
            click.echo(check.line())
        failed = sum(c.status == "fail" for c in report.checks)
        click.echo("ready to sync" if report.ok else f"{failed} problem(s) block a sync")
    sys.exit(0 if report.ok else 1)


@main.command("demo")
@click.option(
    "--size",
    type=click.Choice(["small", "medium", "large"]),
    default="small",
    show_default=True,
    help="Seeded store size.",
)
@click.option(
    "--keep",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep the demo's database and org files here (default: a temp folder, then removed).",
)
def demo_cmd(size: str, keep: Path | None) -> None:
    """Start a local org, seed it, deploy fields, sync, then sync again (zero writes).

    Exits like `sync`, by the first run that did not succeed: 0 when both succeeded.

    \b
    Example:
      lead2loyalty demo --size small
    """
    from connector.demo import run_demo
    from connector.sync import exit_code

    runs = run_demo(size=size, workdir=keep, echo=click.echo)
    sys.exit(next((c for c in (exit_code(r["status"]) for r in runs.values()) if c), 0))


@main.command("clock")
@click.option("--once", is_flag=True, help="Run the sync job once now and exit.")
def clock_cmd(once: bool) -> None:
    """Run the scheduler: an incremental sync every L2L_SYNC_INTERVAL_MINUTES, the loyalty
    expiry daily at 00:15 UTC, the lead conversion refit every retrain_every_days.

    With --once, one sync now, exiting like `sync`: 0 succeeded, 2 partial or quota-stopped,
    1 failed or skipped (another sync holds the database).

    \b
    Example:
      L2L_SYNC_INTERVAL_MINUTES=5 lead2loyalty clock
      lead2loyalty clock --once    # e.g. from cron
    """
    from connector.scheduler import run_clock
    from connector.sync import exit_code

    status = run_clock(_settings(), once=once)
    if status is not None:
        click.echo(f"sync {status}", err=exit_code(status) != 0)
        sys.exit(exit_code(status))


@main.command("import")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--source",
    default="import",
    show_default=True,
    help="Source name; a message id is stored once per source.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def import_cmd(path: Path, source: str, as_json: bool) -> None:
    """Backfill behavioural events from a JSON-lines file of track/identify messages.

    Lines that cannot be stored are listed with their line numbers and skipped; a re-import
    stores nothing twice.

    \b
    Example:
      lead2loyalty import var/org/events.jsonl --source shop
    """
    from connector.events import import_file
    from connector.progress import Progress
    from connector.store import Store

    show = None if as_json else Progress()
    report = import_file(
        Store(_settings().store_location),
        path,
        source=source,
        progress=(lambda n: show(f"import: {n:,} lines")) if show else None,
    )
    out = report.as_json()
    if show is None:
        click.echo(json.dumps(out))
    else:
        show.done()
        click.echo(
            f"read {out['read']:,}, stored {out['stored']:,}, already stored "
            f"{out['duplicates']:,}, rejected {out['rejected']:,}"
        )
        for problem in report.rejected[:20]:
            click.echo(f"  {problem}")
    sys.exit(1 if report.rejected else 0)


@main.group()
def evaluate() -> None:
    """Check a model against history before trusting it.

    \b
    Example:
      lead2loyalty evaluate predictions --orders orders.csv --calibration-end 2025-06-30 \\
          --holdout-end 2025-12-31
    """


@evaluate.command("predictions")
@click.option(
    "--orders",
    "orders_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="CSV with customer_id, ordered_at, amount (default: the orders of the last sync).",
)
@click.option(
    "--calibration-end",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Fit on orders up to this date (default: holdout end minus 180 days).",
)
@click.option(
    "--holdout-end",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Score on orders after the calibration end up to this date (default: today).",
)
@click.option(
    "--time-unit",
    type=click.Choice(["day", "week"]),
    default="week",
    show_default=True,
    help="Unit the models are fitted (and params reported) in.",
)
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write a PNG: predicted vs actual holdout purchases by frequency.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def evaluate_predictions(
    orders_file: Path | None,
    calibration_end: Any,
    holdout_end: Any,
    time_unit: str,
    plot: Path | None,
    as_json: bool,
) -> None:
    """Fit BG/NBD, MBG/NBD and Pareto/NBD on a calibration window and score the holdout.

    Prints per model its parameters, log-likelihood, and holdout MAE, correlation, cumulative
    error, AUC and Brier score of the buy-again probability; beside it the same figures of the
    learned buy-again layer over that model (trained on back-shifted windows before the
    calibration end), and both decile tables (predicted vs observed share who bought).

    \b
    Example:
      lead2loyalty evaluate predictions --orders orders.csv --calibration-end 2025-06-30 \\
          --holdout-end 2025-12-31 --json
    """
    from connector.reports import evaluate_command

    out = evaluate_command(_settings(), orders_file, calibration_end, holdout_end, time_unit, plot)
    if as_json:
        click.echo(json.dumps(out, default=str))
        return
    click.echo(
        f"{out['customers']:,} customers; calibration to {out['calibration_end'][:10]}, "
        f"holdout to {out['holdout_end'][:10]} ({out['time_unit']}s)"
    )
    for name, model in out["models"].items():
        if "error" in model:
            click.echo(f"  {name:<10} could not be fitted: {model['error']}")
            continue
        h = model["holdout"]
        params = ", ".join(f"{k}={v:.4g}" for k, v in model["params"].items())
        click.echo(f"  {name:<10} LL {model['log_likelihood']:,.1f}  ({params})")
        click.echo(
            f"             holdout: MAE {_num(h['mae'], '.3f')}, correlation "
            f"{_num(h['correlation'], '.3f')}, cumulative error "
            f"{_num(h['cumulative_error'], '+.1%')}, AUC {_num(h['auc_buy_again'], '.3f')},"
            f" Brier {_num(h['brier_buy_again'], '.3f')}"
        )
        learned = model["learned"]
        if learned["method"] == "learned":
            click.echo(
                f"             learned layer: AUC {_num(learned['auc_buy_again'], '.3f')}, Brier "
                f"{_num(learned['brier_buy_again'], '.3f')} (trained on "
                f"{learned['training_rows']:,} back-shifted rows)"
            )
        else:
            click.echo(f"             learned layer: not used ({learned['method']})")
    if out["models"]:
        _print_deciles(out["models"])
    if plot:
        click.echo(f"plot written to {plot}")


def _print_deciles(models: dict[str, Any]) -> None:
    # predicted vs observed share who bought, per decile of the prediction, model beside layer
    for name, model in models.items():
        if "error" in model:
            continue
        tables = [("model", model["holdout"]["calibration"])]
        if model["learned"]["method"] == "learned":
            tables.append(("learned", model["learned"]["calibration"]))
        click.echo(f"  {name} deciles (predicted / bought):")
        for i in range(len(tables[0][1])):
            cells = "   ".join(
                f"{label} {_num(t[i]['mean_predicted'], '.3f')} / "
                f"{_num(t[i]['share_bought'], '.3f')}"
                for label, t in tables
            )
            click.echo(f"    {i + 1:>2}  {cells}")


def _num(value: float | None, spec: str) -> str:
    # A metric the holdout cannot support (no variance, one class) is null in the JSON.
    return "n/a" if value is None else format(value, spec)


@evaluate.command("texts")
@click.option(
    "--csv",
    "csv_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A CSV of labelled texts (repeatable); each is reported on its own.",
)
@click.option(
    "--replies-truth",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A seed's truth/replies.csv: score the synced EmailMessages against its tones.",
)
@click.option(
    "--cases-truth",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A seed's truth/cases.csv: score the synced Cases' tone and intent against it.",
)
@click.option(
    "--intents-csv",
    "intents_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A CSV of texts labelled with intents (repeatable): zero-shot (n-grams, LSA) beside "
    "a classifier fitted on the rows of the other split.",
)
@click.option(
    "--intents-column",
    default="intents",
    show_default=True,
    help="The column of intents: names or labels of models/texts.yaml, several joined by ';', "
    "empty or none for none.",
)
@click.option("--text-column", default="text", show_default=True, help="The column of texts.")
@click.option(
    "--label-column",
    default="label",
    show_default=True,
    help="The column of labels: negative/neutral/positive (or neg/neu/pos, -1/0/1).",
)
@click.option(
    "--split-column",
    default="split",
    show_default=True,
    help="If the file has this column, only rows whose value is --split are scored.",
)
@click.option("--split", default="test", show_default=True, help="The held-out rows' value.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def evaluate_texts(
    csv_files: tuple[Path, ...],
    replies_truth: Path | None,
    cases_truth: Path | None,
    intents_files: tuple[Path, ...],
    intents_column: str,
    text_column: str,
    label_column: str,
    split_column: str,
    split: str,
    as_json: bool,
) -> None:
    """Score the sentiment models on labelled texts: the default beside the VADER lexicon.

    Prints per file macro-F1, accuracy, per-class precision (P) and recall (R), and each
    model's confusion matrix (rows: the truth; columns: the prediction).

    \b
    Example:
      lead2loyalty evaluate texts --csv tests/fixtures/texts/vader_tweets.csv \\
          --text-column text --label-column label
      lead2loyalty evaluate texts --replies-truth seed/truth/replies.csv \\
          --cases-truth seed/truth/cases.csv
      lead2loyalty evaluate texts --intents-csv tests/fixtures/intents/intents_written.csv
    """
    from connector.reports.texts import (
        evaluate_cases_command,
        evaluate_intents_command,
        evaluate_synced_command,
        evaluate_texts_command,
    )
    from connector.texts.evaluate import render, render_intents

    if not csv_files and replies_truth is None and cases_truth is None and not intents_files:
        raise click.UsageError(
            "give --csv FILE (labelled texts), --intents-csv FILE, --replies-truth FILE or "
            "--cases-truth FILE"
        )
    out = evaluate_texts_command(list(csv_files), text_column, label_column, split_column, split)
    if replies_truth is not None:
        out["sets"].update(evaluate_synced_command(_settings(), replies_truth)["sets"])
    if cases_truth is not None:
        out["sets"].update(evaluate_cases_command(_settings(), cases_truth)["sets"])
    if intents_files:
        texts = _texts_config()
        found = evaluate_intents_command(
            texts, list(intents_files), text_column, intents_column, split
        )
        out["sets"].update(found["sets"])
    if as_json:
        click.echo(json.dumps(out))
        return
    for name, results in out["sets"].items():
        lines = render_intents if name.endswith(" intents") else render
        for line in lines(name, results):
            click.echo(line)


def _texts_config() -> Any:
    # models/texts.yaml of the models folder (L2L_MODELS_DIR, ./models, or the shipped one)
    import os

    from connector.mapping.loader import load_yaml_model
    from connector.project import project_dir
    from connector.texts.text_config import TextsConfig

    folder = Path(os.environ.get("L2L_MODELS_DIR") or project_dir("models"))
    path = folder / "texts.yaml"
    if not path.exists():
        raise ConfigError(f"{path} does not exist: intents are those of models/texts.yaml")
    return load_yaml_model(path, TextsConfig)


@evaluate.command("intent")
@click.option(
    "--as-of",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Score everyone with the events before this date (default: the horizon before the "
    "latest event).",
)
@click.option(
    "--horizon-days",
    default=30,
    show_default=True,
    type=click.IntRange(1, 3_660),
    help="Who converted or ordered this soon.",
)
@click.option(
    "--png",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write a chart of the rate per band.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def evaluate_intent(as_of: Any, horizon_days: int, png: Path | None, as_json: bool) -> None:
    """Judge the intent score on history, against Summit's formula as a baseline.

    Scores every Lead and Contact as of --as-of using only earlier events, then measures who
    converted (Leads) or ordered (Contacts) within --horizon-days: AUC, the rate per band
    0-1 ... 4-5 (it should rise with the band) and the lift of the top decile.

    \b
    Example:
      lead2loyalty evaluate intent --as-of 2026-09-01 --horizon-days 30 --png intent.png
    """
    from connector.sync.intent_reports import evaluate_intent_command

    out = evaluate_intent_command(_settings(), as_of, horizon_days, png)
    if as_json:
        click.echo(json.dumps(out, default=str))
        return
    click.echo(f"as of {out['as_of'][:10]}, horizon {out['horizon_days']} days")
    for obj in ("Lead", "Contact"):
        part = out[obj]
        click.echo(f"  {obj}s: {part['rows']:,} scored, {part['converted']:,} converted")
        for name in ("intent", "summit"):
            r = part[name]
            rates = "  ".join(f"{b['band']}: {_rate(b['rate'])}" for b in r["bands"])
            click.echo(
                f"    {name:<7} AUC {r['auc']}  lift top decile {r['lift_top_decile']}  {rates}"
            )
    if png:
        click.echo(f"chart written to {png}")


def _rate(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.1%}"


@evaluate.command("lead-conversion")
@click.option(
    "--leads",
    "leads_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="CSV of Leads, one row each (default: the synced Leads).",
)
@click.option("--label", default=None, help="The column saying who converted (with --leads).")
@click.option(
    "--time-column", default=None, help="Train on earlier rows, test on later ones by this."
)
@click.option(
    "--positive", default=None, help="The label value that means converted, if not 1/true/yes."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def evaluate_lead_conversion(
    leads_file: Path | None,
    label: str | None,
    time_column: str | None,
    positive: str | None,
    as_json: bool,
) -> None:
    """Measure the lead conversion pipeline on a table or on the synced Leads.

    Every other column is a feature (numbers and categories detected, missing values
    handled), except one whose values exist only after the outcome (filled, or holding a
    value, on converted rows only, or ranking them alone): it is left out and named. A
    regularised logistic model and gradient boosting, both calibrated, compete by
    cross-validation; the winner is used and both are reported. With --time-column: folds and
    the final test in time order; without: stratified 5-fold cross-validation. On the synced
    Leads it also reports the intent score alone and LeadSource alone.

    \b
    Example:
      lead2loyalty evaluate lead-conversion --leads leads.csv --label Converted \\
          --time-column CreatedDate --json
    """
    from connector.sync.intent_reports import evaluate_conversion_command

    out = evaluate_conversion_command(_settings(), leads_file, label, time_column, positive)
    if as_json:
        click.echo(json.dumps(out, default=str))
        return
    click.echo(f"{out['rows']:,} rows, {out['positives']:,} positive; {out['method']}")
    click.echo(
        f"  AUC {out['auc']} ({out['model'].replace('_', ' ')} chosen), "
        f"lift of the top decile {out['lift_top_decile']}"
    )
    for name, row in out["candidates"].items():
        held = f", holdout AUC {row['holdout_auc']}" if "holdout_auc" in row else ""
        click.echo(
            f"  {name.replace('_', ' ')}: cross-validated AUC {row['auc']}, "
            f"Brier {row['brier']}{held}"
        )
    for name, why in out["refused"].items():
        click.echo(f"  left out {name}: {why}")
    for name, value in out.get("baselines", {}).items():
        click.echo(f"  baseline {name}: AUC {value}")
    for factor in out["top_factors"][:6]:
        click.echo(f"  {factor['weight']:+.3f}  {factor['feature']}")


@evaluate.command("risk")
@click.option(
    "--orders",
    "orders_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="CSV of Orders with Salesforce's field names (default: the synced Orders).",
)
@click.option(
    "--frauds",
    "frauds_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="CSV with an order_id column naming the known frauds (e.g. truth/frauds.csv).",
)
@click.option("--label", default=None, help="Or: the Orders' column saying fraud / chargeback.")
@click.option("--threshold", type=click.IntRange(1, 100), default=None, help="Risky from here.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def evaluate_risk(
    orders_file: Path | None,
    frauds_file: Path | None,
    label: str | None,
    threshold: int | None,
    as_json: bool,
) -> None:
    """Measure order risk against known frauds: precision and recall at the flagged share.

    \b
    Example:
      lead2loyalty evaluate risk --frauds var/seed/truth/frauds.csv
    """
    from connector.reports.orders_eval import risk_command

    out = risk_command(_settings(), orders_file, frauds_file, label, threshold)
    if as_json:
        click.echo(json.dumps(out))
        return
    click.echo(
        f"{out['orders']:,} orders, {out['frauds']:,} frauds; {out['method']}, risky at "
        f"{out['threshold']}+: {out['flagged']:,} flagged ({out['flagged_share']:.2%})"
    )
    click.echo(f"  precision {out['precision']:.3f}, recall {out['recall']:.3f}")


@evaluate.command("fulfilment")
@click.option(
    "--orders",
    "orders_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="CSV of Orders with Salesforce's field names (default: the synced Orders).",
)
@click.option(
    "--changes",
    "changes_file",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="CSV of known degradations: account_id or contact_id, change_date.",
)
@click.option(
    "--per", type=click.Choice(["account", "contact"]), default="account", show_default=True
)
@click.option("--within", type=click.IntRange(1, 50), default=3, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def evaluate_fulfilment(
    orders_file: Path | None, changes_file: Path, per: str, within: int, as_json: bool
) -> None:
    """Measure the fulfilment flag: degradations caught within N orders, false flags.

    \b
    Example:
      lead2loyalty evaluate fulfilment --changes var/seed/truth/fulfilment.csv --within 3
    """
    from connector.reports.orders_eval import fulfilment_command

    out = fulfilment_command(_settings(), orders_file, changes_file, per, within)
    if as_json:
        click.echo(json.dumps(out))
        return
    click.echo(
        f"{out['degrading']:,} degrading {per}s: {out['caught']:,} caught within {within} "
        f"orders ({out['detection_rate']:.1%}), {out['mean_orders_to_detect']} orders on average"
    )
    click.echo(f"  {out['others']:,} others, {out['false_flag_rate']:.2%} ever flagged")


@evaluate.command("recommendations")
@click.option(
    "--lines",
    "lines_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="CSV of purchase lines: person, item, day (default: the synced OrderItems).",
)
@click.option(
    "--cutoff",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Train before, test after (default: the day 80% of the lines are before).",
)
@click.option("--k", "ks", type=click.IntRange(1, 50), multiple=True, help="Default: 5 and 10.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def evaluate_recommendations(
    lines_file: Path | None, cutoff: Any, ks: tuple[int, ...], as_json: bool
) -> None:
    """Measure recommendations on a time split: hit rate and NDCG at k beside popularity.

    \b
    Example:
      lead2loyalty evaluate recommendations --cutoff 2025-09-01 --k 5 --k 10
    """
    from connector.reports.orders_eval import recommendations_command

    day = cutoff.date() if cutoff is not None else None
    out = recommendations_command(_settings(), lines_file, day, list(ks) or [5, 10])
    if as_json:
        click.echo(json.dumps(out))
        return
    click.echo(f"time split at {out['cutoff']}")
    for row in out["by_k"]:
        k = row["k"]
        mine, base = row["model"], row["popularity"]
        click.echo(
            f"  k={k}: {row['people']:,} people; hit rate {mine[f'hit_rate@{k}']:.3f} vs "
            f"popularity {base[f'hit_rate@{k}']:.3f} (x{row['ratio']}), NDCG "
            f"{mine[f'ndcg@{k}']:.3f} vs {base[f'ndcg@{k}']:.3f}"
        )


@main.group()
def fit() -> None:
    """Learn model settings from the org's own history, for the admin to review.

    \b
    Example:
      lead2loyalty fit intent
    """


@fit.command("intent")
@click.option(
    "--as-of",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Learn from the events before this date (default: the horizon before the latest).",
)
@click.option(
    "--horizon-days",
    default=30,
    show_default=True,
    type=click.IntRange(1, 3_660),
    help="Who converted or ordered this soon.",
)
@click.option(
    "--regularization",
    default=1.0,
    show_default=True,
    type=FiniteRange(1e-6, 1e6),
    help="Inverse L2 strength (C).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def fit_intent(as_of: Any, horizon_days: int, regularization: float, as_json: bool) -> None:
    """Suggest intent signal weights: writes models/intent.suggested.yaml beside intent.yaml.

    A regularised logistic regression over each person's decayed signal values as of
    --as-of, against who converted (Leads) or ordered (Contacts) within --horizon-days, each
    weight bounded at 0 on the side intent.yaml gives it (a visit counts for, a return
    against); signals that move together are named in a warning. The file keeps every
    comment and setting and notes each signal's lift; review it, then rename it to
    intent.yaml.

    \b
    Example:
      lead2loyalty fit intent --horizon-days 30
    """
    from connector.sync.intent_reports import fit_intent_command

    out = fit_intent_command(_settings(), as_of, horizon_days, regularization)
    if as_json:
        click.echo(json.dumps(out, default=str))
        return
    click.echo(
        f"as of {out['as_of'][:10]}: {out['people']:,} people, {out['converted']:,} converted "
        f"within {out['horizon_days']} days"
    )
    for s in out["signals"]:
        if s["people_with_signal"]:
            click.echo(
                f"  {s['name']:<20} weight {s['current_weight']:>6} -> {s['suggested_weight']:>7}"
                f"  lift {s['lift']}"
            )
    for warning in out["warnings"]:
        click.echo(f"warning: {warning}")
    click.echo(f"wrote {out['written']}")


@fit.command("texts")
@click.option(
    "--csv",
    "csv_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A CSV of texts labelled with intents (repeatable), beside the synced labels.",
)
@click.option("--text-column", default="text", show_default=True, help="The column of texts.")
@click.option(
    "--intents-column",
    default="intents",
    show_default=True,
    help="The column of intents: names or labels, several joined by ';', empty or none.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def fit_texts(
    csv_files: tuple[Path, ...], text_column: str, intents_column: str, as_json: bool
) -> None:
    """Learn intents from labelled messages: writes models/texts.intents.json.

    The labels are the synced EmailMessages' and Cases' L2L_Intent_Override__c (what an admin
    set) and any --csv given. Each intent with at least learn.min_labels labelled messages
    (models/texts.yaml) gets a classifier that starts from the zero-shot similarity; the
    others stay zero-shot. The next sync uses it; delete the file to go back to zero-shot.

    \b
    Example:
      lead2loyalty fit texts --csv labelled.csv --intents-column intents
    """
    from connector.reports.texts import fit_texts_command

    out = fit_texts_command(_settings(), list(csv_files), text_column, intents_column)
    if as_json:
        click.echo(json.dumps(out))
        return
    sources = ", ".join(f"{name}: {count}" for name, count in out["sources"].items())
    click.echo(f"{out['rows']:,} labelled messages ({sources})")
    for name, count in out["counts"].items():
        how = "learnt" if name in out["learnt"] else f"zero-shot (under {out['min_labels']})"
        click.echo(f"  {name:<16} {count:>6} labelled  {how}")
    held = out["held_out"]
    if held is not None:
        click.echo(
            f"held-out fifth ({held['rows']:,} messages): macro-F1 zero-shot "
            f"{held['zero_shot']:.3f}, learnt {held['learnt']:.3f}"
        )
    click.echo(f"wrote {out['written']}")


@fit.command("lead-conversion")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def fit_lead_conversion(as_json: bool) -> None:
    """Refit the lead conversion model now on the synced Leads (the clock does this every
    retrain_every_days of models/lead_conversion.yaml); below the minimum-data gate nothing
    is stored and the reason is printed.

    \b
    Example:
      lead2loyalty fit lead-conversion
    """
    from datetime import UTC, datetime

    from connector.store import Store
    from connector.sync.intent import load_scoring, retrain_now

    settings = _settings()
    out = retrain_now(Store(settings.store_location), load_scoring(settings), datetime.now(UTC))
    if as_json:
        click.echo(json.dumps(out, default=str))
        return
    click.echo(f"lead conversion: {out['method']}")
    if "holdout_auc" in out:
        click.echo(
            f"  {out['rows']:,} Leads, {out['positives']:,} converted; "
            f"AUC on the latest-created {out.get('holdout_rows', 0):,}: {out['holdout_auc']}"
        )
    if "learner" in out:
        learner = out["learner"].replace("_", " ")
        click.echo(f"  learner in use: {learner} (chosen by time-split cross-validation)")
    for factor in out.get("top_factors", [])[:6]:
        click.echo(f"  {factor['weight']:+.3f}  {factor['feature']}")


@main.group()
def report() -> None:
    """Org-wide figures from the last sync's data.

    \b
    Example:
      lead2loyalty report predictions
    """


@report.command("predictions")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def report_predictions(as_json: bool) -> None:
    """Average CLV, order value, purchase frequency and more, with the method used, and how
    many people sit in each of the 16 purchase x churn segments.

    \b
    Example:
      lead2loyalty report predictions --json
    """
    from connector.reports import report_command

    out = report_command(_settings())
    if as_json:
        click.echo(json.dumps(out, default=str))
        return
    click.echo(f"method: {out['method']}")
    for key, value in out["org"].items():
        click.echo(f"  {key:<30} {value:,.2f}")
    click.echo("people per segment (purchase band P4 = likeliest to buy; churn band within it):")
    for cell in out["segments"]:
        click.echo(f"  {cell['segment']}  {cell['name']:<18} {cell['people']:>8,}")


@report.command("loyalty")
@click.option("--program", "program_id", default=None, help="Program id (default: the first).")
@click.option(
    "--png",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write a PNG: members per tier and the points flows.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def report_loyalty(program_id: str | None, png: Path | None, as_json: bool) -> None:
    """Members per tier; points issued, redeemed, expired, reversed, adjusted and outstanding
    (the liability, the sum of member balances); top earning rules; points per partner.

    \b
    Example:
      lead2loyalty report loyalty --json --png loyalty.png
    """
    from connector.reports.loyalty import report_command, report_lines

    out = report_command(_settings(), program_id, png)
    if as_json:
        click.echo(json.dumps(out))
        return
    click.echo("\n".join(report_lines(out)))
    if png:
        click.echo(f"plot written to {png}")


@main.group()
def loyalty() -> None:
    """A loyalty member's books: look one up, adjust points, run expiry.

    \b
    Example:
      lead2loyalty loyalty member ann@example.com
    """


@loyalty.command("member")
@click.argument("member")
@click.option("--program", "program_id", default=None, help="Program id (default: the first).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def loyalty_member(member: str, program_id: str | None, as_json: bool) -> None:
    """Balance, tier, lots and the journal (each entry's source and rule) of a member, by
    Contact email, Contact Id or member key.

    \b
    Example:
      lead2loyalty loyalty member ann@example.com --json
      lead2loyalty loyalty member 003000000000001AAA --program club
    """
    from connector.reports.loyalty import member_command, member_lines

    out = member_command(_settings(), member, program_id)
    click.echo(json.dumps(out) if as_json else "\n".join(member_lines(out)))


@loyalty.command("adjust")
@click.argument("member")
@click.option(
    "--points",
    type=click.IntRange(-MAX_POINTS, MAX_POINTS),
    required=True,
    help="Points to add (negative: to take), at most 10^12 either way.",
)
@click.option("--reason", required=True, help="Why; kept in the journal.")
@click.option(
    "--key",
    default=None,
    help="Idempotency key: the same key again adjusts nothing more (default: a new one).",
)
@click.option("--program", "program_id", default=None, help="Program id (default: the first).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def loyalty_adjust(
    member: str, points: int, reason: str, key: str | None, program_id: str | None, as_json: bool
) -> None:
    """Add or take points by hand, journaled with the reason (an admin adjustment).

    \b
    Example:
      lead2loyalty loyalty adjust ann@example.com --points 250 --reason "case 00001026" \\
          --key case-00001026
    """
    from connector.reports.loyalty import adjust_command

    out = adjust_command(_settings(), member, points, reason, key, program_id)
    if as_json:
        click.echo(json.dumps(out))
    elif out["repeated"]:
        click.echo(f"key {out['key']} was already used: nothing done; balance {out['balance']:,}")
    else:
        click.echo(
            f"adjusted {out['member']} by {out['points']:+,} points (key {out['key']});"
            f" balance {out['balance']:,}"
        )


@loyalty.command("expire")
@click.option("--program", "program_id", default=None, help="Only this program.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def loyalty_expire(program_id: str | None, as_json: bool) -> None:
    """Expire the points due now (lots past their date, at the end of the day in the
    program's time zone); running it twice expires nothing twice. The clock runs it daily.

    \b
    Example:
      lead2loyalty loyalty expire --json
    """
    from connector.reports.loyalty import expire_command

    out = expire_command(_settings(), program_id)
    if as_json:
        click.echo(json.dumps({"expired": out}))
        return
    for program, points in out.items():
        click.echo(f"{program}: expired {points:,} points")


@main.command("web")
@click.option("--host", default="0.0.0.0", show_default=True, help="Interface to bind.")  # noqa: S104
@click.option(
    "--port", default=8000, show_default=True, type=PORT, envvar="PORT", help="Port ($PORT)."
)
@click.option(
    "--workers",
    default=2,
    show_default=True,
    type=click.IntRange(1, 256),
    help="gunicorn worker processes.",
)
def web_cmd(host: str, port: int, workers: int) -> None:
    """Serve the webhooks, the events API and /healthz under gunicorn (the Procfile's web line).

    It verifies, stores and acknowledges; `lead2loyalty worker` does the rest.

    \b
    Example:
      L2L_SHOPIFY_WEBHOOK_SECRETS=... lead2loyalty web --port 8000
    """
    import os

    _settings()  # refuse bad settings here, in one line, not in every gunicorn worker
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        str(workers),
        "--bind",
        f"{host}:{port}",
        "connector.web:create_app()",
    ]
    os.execv(sys.executable, argv)  # noqa: S606 - gunicorn takes over this process and its signals


@main.group()
def admin() -> None:
    """Set up the admin page (/admin of `lead2loyalty web`): its accounts.

    \b
    Example:
      lead2loyalty admin hash-password --name ana
    """


@admin.command("hash-password")
@click.option("--name", default="admin", show_default=True, help="The account's sign-in name.")
def admin_hash_password(name: str) -> None:
    """Ask for a password (twice, hidden) and print the L2L_ADMIN_USERS entry that signs
    NAME in with it; the password itself is stored nowhere.

    \b
    Example:
      lead2loyalty admin hash-password --name ana
      # L2L_ADMIN_USERS=ana:scrypt:32768:8:1$...  (comma-separate several accounts)
    """
    from connector.web.admin.accounts import hash_password

    if not name.strip() or ":" in name or "," in name:
        raise click.UsageError("--name: use a name without ':' or ','")
    password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < 12:
        raise click.UsageError("use a password of 12 characters or more")
    click.echo(f"L2L_ADMIN_USERS={name.strip()}:{hash_password(password)}")


@main.command("worker")
@click.option("--once", is_flag=True, help="Run one pass and exit.")
def worker_cmd(once: bool) -> None:
    """Real-time updates: normalise stored deliveries, then recompute and push the shoppers
    they concern, every L2L_REALTIME_INTERVAL_SECONDS (the Procfile's worker line). With
    DATABASE_URL (PostgreSQL) it works the job queue instead; run as many as needed.

    \b
    Example:
      L2L_REALTIME_INTERVAL_SECONDS=2 lead2loyalty worker
    """
    import logging
    import signal
    import threading

    from connector.sync.realtime import RealtimeWorker

    settings = _settings()
    if settings.database_url.get_secret_value() and not once:
        # PostgreSQL: the job queue's worker (connector.store.queue), several at once.
        from connector.sync.jobs import run_worker

        logging.getLogger("connector").setLevel(logging.INFO)
        click.echo(f"worker: the job queue on {settings.database_label}", err=True)
        run_worker(settings)
        return
    worker = RealtimeWorker(settings)
    if once:
        report = worker.run_pass()
        click.echo(json.dumps(report.__dict__, default=str))
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    logging.getLogger("connector").setLevel(logging.INFO)
    click.echo(
        f"worker: a pass every {settings.realtime_interval_seconds:g} s "
        f"on {settings.database_label}",
        err=True,
    )
    worker.run(stop)


@main.group()
def events() -> None:
    """The webhook and events API log: replay deliveries, show counts.

    \b
    Example:
      lead2loyalty events stats
    """


@events.command("replay")
@click.option("--failed", "failed_only", is_flag=True, help="Only deliveries that failed.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def events_replay(failed_only: bool, as_json: bool) -> None:
    """Normalise stored deliveries again into events and orders (idempotent: what is already
    stored stays once).

    \b
    Example:
      lead2loyalty events replay --failed
    """
    from connector.store import Store
    from connector.sync.realtime import normalise_pending

    store = Store(_settings().store_location)
    queued = store.events.requeue_deliveries(failed_only=failed_only)
    done, failed = normalise_pending(store, limit=10**12)
    out = {"requeued": queued, "normalised": done, "failed": failed}
    if as_json:
        click.echo(json.dumps(out))
    else:
        click.echo(f"normalised {done:,} deliveries, {failed:,} failed")
    sys.exit(1 if failed else 0)


@events.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def events_stats(as_json: bool) -> None:
    """Deliveries, events, duplicates and rejections per source and reason.

    \b
    Example:
      lead2loyalty events stats --json
    """
    from connector.store import Store
    from connector.sync.orders import RATES_KEY, held_and_strangers

    store = Store(_settings().store_location)
    out = store.events.stats()
    out["shop_orders"].update(
        held_and_strangers(
            store.events.shop_orders(),
            json.loads(store.records.state(RATES_KEY) or "{}"),
            store.records.frame("Contact", ["Id", "Email"]),
            store.records.frame("Lead", ["Id", "Email", "IsConverted", "ConvertedContactId"]),
        )
    )
    if as_json:
        click.echo(json.dumps(out))
        return
    for source, s in sorted(out["sources"].items()):
        click.echo(
            f"{source:<12} deliveries {s['deliveries']:>8,}  events {s['events']:>8,}  "
            f"duplicates {s['duplicates']:>6,}  pending {s['pending']:>5,}  "
            f"failed {s['failed']:>5,}  rejected {s['rejected']:>6,}"
        )
        for reason, count in sorted(s["rejections"].items()):
            click.echo(f"    rejected {reason}: {count:,}")
    o = out["shop_orders"]
    click.echo(
        f"shop orders {o['orders']:,} ({o['cancelled']:,} cancelled, "
        f"{o['awaiting_details']:,} awaiting details); dirty people {out['dirty_people']:,}"
    )
    for currency, count in sorted(o["held"].items()):
        click.echo(f"    held {count:,} in {currency}: no rate to the org's currency")
    unknown = o["strangers"]
    click.echo(
        f"strangers {unknown['people']:,} (shoppers no Contact or Lead has), "
        f"{unknown['orders']:,} orders: {', '.join(unknown['emails'][:5]) or '-'}"
    )


@main.command("config")
def config_cmd() -> None:
    """Show every setting, its environment variable, value and default (secrets masked).

    \b
    Example:
      L2L_DATABASE=var/l2l.sqlite lead2loyalty config
    """
    from connector.config import describe_settings, load_settings

    for variable, value, default, description in describe_settings(load_settings()):
        click.echo(f"{variable}={value}\n    default: {default or '(empty)'}; {description}")


# init, mappings and shopify app-config live in their own module (connector/cli_project.py).
for _command in COMMANDS:
    main.add_command(_command)

if __name__ == "__main__":  # pragma: no cover
    main()
