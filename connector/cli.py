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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lead2loyalty")
def main() -> None:
    """lead2loyalty: ecommerce behaviour in, Salesforce fields out.

    \b
    Example:
      lead2loyalty demo            # a local org, seeded, synced, in one go
    """


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
