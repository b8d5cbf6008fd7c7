"""Loyalty for the CLI: a member's standing and journal, admin adjustments, expiry, and the
program report (members per tier, points issued/redeemed/expired/reversed/adjusted,
outstanding liability, top earning rules, partner settlement), as JSON-ready data and text.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from connector.config import Settings
from connector.loyalty.wiring import open_service, run_expiry


def member_command(settings: Settings, ident: str, program_id: str | None) -> dict[str, Any]:
    """Balance, tier, lots and the journal (each entry's source and rule) of one member."""
    with open_service(settings) as service:
        return service.member(service.member_key(ident), program_id)


def adjust_command(
    settings: Settings,
    ident: str,
    points: int,
    reason: str,
    key: str | None,
    program_id: str | None,
) -> dict[str, Any]:
    """A journaled admin adjustment; the same ``key`` again adjusts nothing more."""
    request_key = key or "cli-" + secrets.token_hex(8)
    with open_service(settings) as service:
        out = service.adjust(service.member_key(ident), points, reason, request_key, program_id)
    return {**out, "key": request_key}


def expire_command(settings: Settings, program_id: str | None) -> dict[str, int]:
    """Points expired now, per program."""
    return run_expiry(settings, program_id)


def report_command(settings: Settings, program_id: str | None, png: Path | None) -> dict[str, Any]:
    """The program report; ``outstanding`` is the sum of member balances (the liability)."""
    with open_service(settings) as service:
        out = service.report(program_id)
    if png is not None:
        plot_report(out, png)
        out["png"] = str(png)
    return out


def member_lines(view: dict[str, Any]) -> list[str]:
    """``loyalty member`` as text."""
    tier = view["tier"]
    lines = [
        f"{view['member']} in {view['program']}",
        f"  balance {view['points_balance']:,} points (spendable {view['spendable_points']:,})"
        + (f"; tier {tier}" if tier else "")
        + (
            f", {view['points_to_next_tier']:,} points to the next tier"
            if tier and view["points_to_next_tier"]
            else ""
        ),
        f"  qualifying points {view['qualifying_points']:,}; expiring in 30 days "
        f"{view['points_expiring_30d']:,}; next expiry {view['points_expiry_date'] or '-'}; "
        f"member since {view['member_since'] or '-'}",
    ]
    if view["cashback_balance"]:
        lines.append(f"  cashback balance {view['cashback_balance']:,.2f}")
    lines.append(f"  lots ({len(view['lots'])} holding points):")
    for lot in view["lots"]:
        lines.append(
            f"    {lot['earned_at'][:10]}  {lot['remaining']:>8,} of {lot['points']:>8,}"
            f"  expires {(lot['expires_at'] or 'never')[:10]}  {lot['lot']}"
        )
    for voucher in view["vouchers"]:
        lines.append(
            f"  voucher {voucher['code']} ({voucher['voucher_id']}, uses left "
            f"{voucher['uses_left']}, expires {voucher['expires_at'][:10]})"
        )
    lines.append(f"  journal ({len(view['journal'])} entries):")
    for e in view["journal"]:
        source = f"{e['source_type']} {e['source_id'] or ''}".strip()
        extra = "".join(
            f"  {label} {e[k]}"
            for label, k in (("rule", "rule_id"), ("partner", "partner"), ("brand", "brand"))
            if e[k]
        )
        reason = f"  ({e['reason']})" if e["reason"] else ""
        lines.append(
            f"    {e['at'][:10]}  {e['kind']:<17} {e['currency']:<10} {e['points']:>+9,}"
            f"  {source}{extra}{reason}"
        )
    return lines


def report_lines(report: dict[str, Any]) -> list[str]:
    """``report loyalty`` as text."""
    p = report["points"]
    tiers = ", ".join(f"{k} {v:,}" for k, v in report["tiers"].items())
    lines = [
        f"{report['program']}: {report['members']:,} members" + (f" ({tiers})" if tiers else ""),
        f"  points issued {p['issued']:,}, redeemed {p['redeemed']:,}, expired {p['expired']:,},"
        f" reversed {p['reversed']:,}, adjusted {p['adjusted']:+,}",
        f"  outstanding (the liability) {p['outstanding']:,} points",
    ]
    if report.get("cashback_outstanding"):
        lines.append(f"  cashback outstanding {report['cashback_outstanding']:,.2f}")
    if report["top_rules"]:
        rules = ", ".join(f"{r['rule']} {r['points']:,}" for r in report["top_rules"])
        lines.append(f"  top earning rules: {rules}")
    if report["partners"]:
        partners = ", ".join(f"{k} {v:,}" for k, v in report["partners"].items())
        lines.append(f"  partner settlement (points issued): {partners}")
    return lines


def plot_report(report: dict[str, Any], path: Path) -> Path:
    """A PNG: members per tier beside the points flows and the outstanding liability."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.5))
    tiers = report["tiers"] or {"members": report["members"]}
    left.bar(list(tiers), list(tiers.values()), color="#4c72b0")
    left.set_title("Members per tier")
    flows = report["points"]
    names = ["issued", "redeemed", "expired", "reversed", "adjusted", "outstanding"]
    right.bar(names, [flows[n] for n in names], color="#dd8452")
    right.set_title("Points")
    right.tick_params(axis="x", rotation=30)
    fig.suptitle(f"Loyalty program {report['program']}")
    out = Path(path)
    fig.savefig(out, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return out
