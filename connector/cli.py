"""The ``lead2loyalty`` command: thin, parse -> call -> print.

Library errors become one clean line (no traceback) and exit code 1.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from connector.errors import Lead2LoyaltyError

F = TypeVar("F", bound=Callable[..., Any])


def clean_errors(func: F) -> F:
    """Turn a :class:`Lead2LoyaltyError` into one line on stderr and exit code 1."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except Lead2LoyaltyError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def _setup_logging(verbose: bool) -> None:
    """Log to stderr through a filter that masks every configured secret and bearer token."""
    import logging

    from connector.errors import ConfigError
    from connector.salesforce import RedactSecrets

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    try:
        handler.addFilter(RedactSecrets.from_settings(_settings()))
    except ConfigError:
        handler.addFilter(RedactSecrets())  # still masks bearer tokens and session ids
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING, handlers=[handler], force=True
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
@click.option("--port", default=0, show_default=True, help="Port; 0 picks a free one.")
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
    "--daily-limit", default=1_000_000, show_default=True, help="Daily API request limit."
)
@click.option(
    "--flows",
    "flows_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Record-triggered and autolaunched flow rules (YAML).",
)
@clean_errors
def localorg_serve(
    host: str,
    port: int,
    size: str,
    data_dir: Path | None,
    faults: str,
    daily_limit: int,
    flows_file: Path | None,
) -> None:
    """Serve a local org over HTTPS until stopped.

    The first line on stdout is one JSON object with instance_url, login_url, client_id,
    client_secret, username, password, ca_cert and jwt_private_key.

    \b
    Example:
      lead2loyalty localorg serve --seed small --port 8443
    """
    from localorg.cli import serve

    serve(
        host=host,
        port=port,
        size=size,
        data_dir=data_dir,
        faults=faults,
        daily_limit=daily_limit,
        flows_file=flows_file,
    )


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
@click.option("--rng-seed", default=7, show_default=True, help="Random seed (same seed, same org).")
@clean_errors
def localorg_seed(size: str, data_dir: Path, rng_seed: int) -> None:
    """Write a seeded org (and its ground truth and event file) without serving it.

    \b
    Example:
      lead2loyalty localorg seed --size medium --data var/org
    """
    from localorg.cli import seed

    click.echo(json.dumps(seed(size=size, data_dir=data_dir, rng_seed=rng_seed)))


def _settings() -> Any:
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
    for name, model in report.get("models", {}).items():
        click.echo(f"  {name}: {model.get('method', '?')}")
    if report.get("compute") == "skipped":
        click.echo("  compute skipped: no new or changed record, no new event, same day")
    if report.get("phases_s"):
        click.echo("  seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in report["phases_s"].items()))
    calls = report["api_calls"]
    kinds = ", ".join(f"{k} {v}" for k, v in calls.items() if k != "total")
    click.echo(f"  API calls {calls.get('total', 0):,}" + (f" ({kinds})" if kinds else ""))
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
@clean_errors
def sync_cmd(
    dry_run: bool, objects: tuple[str, ...], full: bool, retry_failed: bool, as_json: bool
) -> None:
    """Run one sync: pull, compute, write back only what changed.

    Exit code 0 when the run succeeded, 2 when it was partial or stopped by the quota guard,
    1 when it failed.

    \b
    Example:
      lead2loyalty sync --dry-run
      lead2loyalty sync --objects Order --json
    """
    from connector.progress import Progress
    from connector.sync import SyncOptions, build_engine

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
    sys.exit({"succeeded": 0, "failed": 1}.get(report.status, 2))


@main.command("runs")
@click.option("--limit", default=10, show_default=True, help="How many runs to show.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@clean_errors
def runs_cmd(limit: int, as_json: bool) -> None:
    """List recent sync runs, newest first.

    \b
    Example:
      lead2loyalty runs --limit 5
    """
    from connector.store import Store

    runs = Store(_settings().database).runs(limit)
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


@main.command("status")
@clean_errors
def status_cmd() -> None:
    """Show watermarks, the outbox and the last run.

    \b
    Example:
      lead2loyalty status
    """
    from connector.store import Store

    settings = _settings()
    store = Store(settings.database)
    click.echo(f"database: {settings.database}")
    for row in store.db["watermarks"].rows:
        click.echo(f"  watermark {row['object']:<10} {row['modstamp']}")
    click.echo(f"  outbox: {store.outbox_counts() or 'empty'}")
    runs = store.runs(1)
    if runs:
        click.echo(f"  last run {runs[0]['id']}: {runs[0]['status']} at {runs[0]['started_at']}")


@main.command("validate")
@click.option("--offline", is_flag=True, help="Check the files only, not the org.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@clean_errors
def validate_cmd(offline: bool, as_json: bool) -> None:
    """Check mappings/ and models/ (every error as file:line) and, unless --offline, that the
    org has the mapped fields with fitting types.

    \b
    Example:
      lead2loyalty validate --offline
    """
    from connector.errors import MappingError
    from connector.mapping import check_against_describe, load_mappings
    from connector.mapping.values import KNOWN_VALUES
    from connector.sync import load_predictions_config

    settings = _settings()
    problems: list[str] = []
    mappings = []
    try:
        mappings = load_mappings(settings.mappings_dir, set(KNOWN_VALUES))
    except MappingError as exc:
        problems.extend(exc.problems)
    try:
        load_predictions_config(settings)
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


@main.group()
def fields() -> None:
    """Deploy or export the custom fields that mappings/ writes.

    \b
    Example:
      lead2loyalty fields deploy
    """


@fields.command("deploy")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@clean_errors
def fields_deploy(as_json: bool) -> None:
    """Create missing custom fields (Tooling API) and grant the integration permission set.

    \b
    Example:
      lead2loyalty fields deploy --json
    """
    from connector.mapping import load_mappings
    from connector.mapping.values import KNOWN_VALUES
    from connector.salesforce import SalesforceClient
    from connector.sync.fields import deploy

    settings = _settings()
    mappings = load_mappings(settings.mappings_dir, set(KNOWN_VALUES))
    report = deploy(SalesforceClient.from_settings(settings), mappings).as_json()
    if as_json:
        click.echo(json.dumps(report))
        return
    click.echo(
        f"created {len(report['created'])} fields, {len(report['existing'])} existed; "
        f"granted {len(report['permissions_granted'])} in {report['permission_set']}"
    )


@fields.command("export")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("salesforce"),
    show_default=True,
    help="SFDX project folder.",
)
@clean_errors
def fields_export(out: Path) -> None:
    """Write SFDX source for every mapped custom field.

    \b
    Example:
      lead2loyalty fields export --out salesforce
    """
    from connector.mapping import load_mappings
    from connector.mapping.values import KNOWN_VALUES
    from connector.sync.fields import export

    mappings = load_mappings(_settings().mappings_dir, set(KNOWN_VALUES))
    paths = export(mappings, out)
    click.echo(f"wrote {len(paths)} field files under {out}")


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
@clean_errors
def demo_cmd(size: str, keep: Path | None) -> None:
    """Start a local org, seed it, deploy fields, sync, then sync again (zero writes).

    Exit code 0 when both syncs succeeded, 2 otherwise.

    \b
    Example:
      lead2loyalty demo --size small
    """
    from connector.demo import run_demo

    runs = run_demo(size=size, workdir=keep, echo=click.echo)
    sys.exit(0 if all(r["status"] == "succeeded" for r in runs.values()) else 2)


@main.command("clock")
@click.option("--once", is_flag=True, help="Run the sync job once now and exit.")
@clean_errors
def clock_cmd(once: bool) -> None:
    """Run the scheduler: an incremental sync every L2L_SYNC_INTERVAL_MINUTES.

    \b
    Example:
      L2L_SYNC_INTERVAL_MINUTES=5 lead2loyalty clock
    """
    from connector.scheduler import run_clock

    run_clock(_settings(), once=once)


@main.command("import")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--source",
    default="import",
    show_default=True,
    help="Source name; a message id is stored once per source.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@clean_errors
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
        Store(_settings().database),
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
@clean_errors
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
    error, AUC and Brier score of the buy-again probability, plus a calibration table.

    \b
    Example:
      lead2loyalty evaluate predictions --orders orders.csv --calibration-end 2025-06-30 \\
          --holdout-end 2025-12-31 --json
    """
    from connector.sync.reports import evaluate_command

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
            f"             holdout: MAE {h['mae']:.3f}, correlation {h['correlation']:.3f},"
            f" cumulative error {h['cumulative_error']:+.1%}, AUC {h['auc_buy_again']:.3f},"
            f" Brier {h['brier_buy_again']:.3f}"
        )
    if plot:
        click.echo(f"plot written to {plot}")


@main.group()
def report() -> None:
    """Org-wide figures from the last sync's data.

    \b
    Example:
      lead2loyalty report predictions
    """


@report.command("predictions")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@clean_errors
def report_predictions(as_json: bool) -> None:
    """Average CLV, order value, purchase frequency and more, with the method used.

    \b
    Example:
      lead2loyalty report predictions --json
    """
    from connector.sync.reports import report_command

    out = report_command(_settings())
    if as_json:
        click.echo(json.dumps(out, default=str))
        return
    click.echo(f"method: {out['method']}")
    for key, value in out["org"].items():
        click.echo(f"  {key:<30} {value:,.2f}")


@main.command("config")
@clean_errors
def config_cmd() -> None:
    """Show every setting, its environment variable, value and default (secrets masked).

    \b
    Example:
      L2L_DATABASE=var/l2l.sqlite lead2loyalty config
    """
    from connector.config import describe_settings, load_settings

    for variable, value, default, description in describe_settings(load_settings()):
        click.echo(f"{variable}={value}\n    default: {default or '(empty)'}; {description}")


if __name__ == "__main__":  # pragma: no cover
    main()
