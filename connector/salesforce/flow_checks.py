"""``doctor``'s lines for what people and Flows need: every Flow the configuration names
exists, is active and declares every input the connector sends; who holds L2L_Read.

How a Flow is asked: ``GET actions/custom/flow/<name>``, the Actions API describe, which
answers only for an active autolaunched Flow (404 NOT_FOUND otherwise) and lists its input
variables (Actions Developer Guide, "Flow Actions"). A Flow that lacks an input the connector
sends fails every call at run time; doctor says so before the first run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from connector.errors import FatalError
from connector.salesforce.port import SalesforcePort
from connector.salesforce.read_access import read_set_exists, read_set_holders
from connector.salesforce.sfdx import READ_PERMISSION_SET, FlowSpec, flow_path

Status = Literal["ok", "warn", "fail"]
#: (check name, status, what was found, how to fix it): one doctor line.
Line = tuple[str, Status, str, str]


def check_flows(client: SalesforcePort, specs: Sequence[FlowSpec]) -> list[Line]:
    """One line per Flow the configuration names (see the module docstring)."""
    lines: list[Line] = []
    for spec in specs:
        name = f"flow {spec.name}"
        deploy_fix = (
            f"deploy the exported Flow (salesforce/{flow_path(spec.name)}, status Active) with "
            "`sf project deploy start --source-dir salesforce/force-app`, or activate it in "
            "Setup > Flows"
        )
        if not spec.enabled:
            lines.append((name, "ok", f"not called: {spec.called_by} is disabled", ""))
            continue
        try:
            described = client.describe_flow(spec.name)
        except FatalError as exc:
            if exc.status != 404 and exc.error_code != "NOT_FOUND":
                raise
            lines.append(
                (
                    name,
                    "fail",
                    f"missing or not active in the org; {spec.called_by} calls it, and every "
                    "call would fail",
                    deploy_fix,
                )
            )
            continue
        declared = {str(i.get("name")) for i in described.get("inputs") or []}
        sent = [i.name for i in spec.inputs]
        undeclared = [n for n in sent if n not in declared]
        if undeclared:
            lines.append(
                (
                    name,
                    "fail",
                    f"active, but it does not declare the input(s) {', '.join(undeclared)} "
                    f"that {spec.called_by} sends; every call would fail",
                    "add them as variables available for input (" + ", ".join(undeclared) + "), "
                    "or " + deploy_fix,
                )
            )
        else:
            lines.append((name, "ok", f"active; declares every input sent ({', '.join(sent)})", ""))
    return lines


def check_read_set(client: SalesforcePort) -> Line:
    """Who holds L2L_Read: a warning when nobody does (no rep sees a score), never a failure
    (a sync does not need it)."""
    name = f"permission set {READ_PERMISSION_SET}"
    assign_fix = (
        "`lead2loyalty fields deploy --assign-read <username>` for each rep and admin, or "
        f"`sf org assign permset --name {READ_PERMISSION_SET} --on-behalf-of <username>`"
    )
    exists = read_set_exists(client)
    if exists is None:
        return (name, "warn", "unknown without View Setup and Configuration", assign_fix)
    if not exists:
        return (
            name,
            "warn",
            "not in the org: reps and admins cannot see the scores",
            "run `lead2loyalty fields deploy` (it creates the set), then " + assign_fix,
        )
    holders = read_set_holders(client) or []
    if not holders:
        return (name, "warn", "in the org, assigned to nobody: no rep sees a score", assign_fix)
    shown = ", ".join(holders[:10]) + (
        f" and {len(holders) - 10} more" if len(holders) > 10 else ""
    )
    return (name, "ok", f"held by {len(holders)} user(s): {shown}", "")


__all__ = ["Line", "check_flows", "check_read_set"]
