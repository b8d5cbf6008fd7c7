"""Commands that start and explain a project: ``init``, ``mappings`` and ``shopify app-config``.

Registered on the root group in :mod:`connector.cli`; errors reach its one clean-line handler.
"""

from __future__ import annotations

from pathlib import Path

import click

MAPPING_FORMAT_HELP = """\b
The format of a mapping file (mappings/<object>.yaml):
  object: Contact          Salesforce object written (Contact, Lead, Account)
  person: contact          whose values: contact | lead | account
  fields:                  one entry per field written
    - value: rfm.revenue   computed value (`lead2loyalty values` lists them)
      field: L2L_Revenue__c   field API name; custom fields end in __c
      type: currency       number currency percent text textarea date
                           datetime checkbox picklist
      precision/scale, length, visible_lines, picklist, picklist_default,
      label, description, help, min_change, program
      transform: [round: 2, multiply: 0.001, percent, clamp: [0, 100],
                  template: "{value} orders", date: date, picklist: {..},
                  truncate: 255, default: 0]
`lead2loyalty mappings --example` prints a commented example file."""


def example_mapping() -> str:
    """The commented example mapping file (connector/mapping/example.yaml)."""
    return (Path(__file__).parent / "mapping" / "example.yaml").read_text(encoding="utf-8")


@click.command("init")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite the shipped files that exist.")
def init_cmd(directory: Path, force: bool) -> None:
    """Write a project folder to edit: mappings/, models/, salesforce/, Procfile,
    .env.example and a README. Refuses to overwrite a file unless --force (then only the
    shipped files; your other files stay).

    \b
    Example:
      lead2loyalty init my-connector && cd my-connector && lead2loyalty demo
    """
    from connector.project import init_project

    written = init_project(directory, force=force)
    folders = sorted({p.parts[0] for p in written if len(p.parts) > 1})
    click.echo(
        f"wrote {len(written)} files in {directory}: "
        + ", ".join(f"{f}/" for f in folders)
        + ", "
        + ", ".join(str(p) for p in written if len(p.parts) == 1)
    )
    click.echo(f"next: cd {directory}, then `lead2loyalty demo`; README.md lists the steps")


@click.command("mappings")
@click.option("--example", is_flag=True, help="Print a commented example mapping file.")
def mappings_cmd(example: bool) -> None:
    """List what the mappings write (object.field <- value, file:line), or with --example
    print a commented mapping file that explains every key.

    \b
    Example:
      lead2loyalty mappings --example > mappings/contact.yaml
    """
    if example:
        click.echo(example_mapping(), nl=False)
        return
    from connector.config import load_settings
    from connector.mapping import load_mappings
    from connector.mapping.values import KNOWN_VALUES

    settings = load_settings()
    mappings = load_mappings(settings.mappings_dir, set(KNOWN_VALUES))
    click.echo(f"mappings from {settings.mappings_dir}:")
    for mapping in mappings:
        for field in mapping.fields:
            click.echo(
                f"  {mapping.object}.{field.field:<34} <- {field.key:<36} ({field.type}) "
                f"{field.where}"
            )


@click.group("shopify")
def shopify() -> None:
    """Connect a Shopify store: the app configuration its webhooks need.

    \b
    Example:
      lead2loyalty shopify app-config --host https://l2l.example.com
    """


@shopify.command("app-config")
@click.option(
    "--host",
    required=True,
    help="Public HTTPS URL this connector's web process serves (a path prefix is kept).",
)
@click.option(
    "--api-version",
    default=None,
    help="Shopify API version of the payloads (YYYY-01/04/07/10); default: the one this "
    "release reads.",
)
def shopify_app_config(host: str, api_version: str | None) -> None:
    """Print the [webhooks] section of a shopify.app.toml: every topic lead2loyalty reads,
    and the three mandatory compliance topics, delivered to HOST/webhooks/shopify. Paste it
    into the app's shopify.app.toml and run `shopify app deploy`.

    \b
    Example:
      lead2loyalty shopify app-config --host https://l2l.example.com >> shopify.app.toml
    """
    from connector.webhooks.shopify_app import DEFAULT_API_VERSION, app_config_toml

    click.echo(app_config_toml(host, api_version or DEFAULT_API_VERSION), nl=False)


COMMANDS = (init_cmd, mappings_cmd, shopify)
