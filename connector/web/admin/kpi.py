"""KPI: the lead-to-loyalty funnel (leads, hot leads, converted, buyers, repeat buyers,
members, tiers), revenue from members and from everyone else, the redemption rate and the
liability; each figure explained, the whole exportable as CSV, the funnel drawn as SVG made on
the server (no script).

Where each figure comes from (a figure whose source is missing is 0):

- leads and converted: the pulled Leads (``IsConverted``);
- hot leads: Leads whose intent score, as last written, is 4 or more (the crossing the Effects
  step acts on, DESIGN.md "Effects");
- buyers and repeat buyers: Contacts and Leads whose order count, as last written, is at least
  1 and at least 2;
- members, tiers, liability, redemption rate: the first loyalty program's totals as the store
  keeps them while entries are booked (the figures of ``lead2loyalty report loyalty``; tiers as
  last told to Salesforce); revenue split: each Contact's revenue as last written, by
  whether the Contact is in that program's journal.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Response, render_template
from flask.typing import ResponseReturnValue

from connector.errors import Lead2LoyaltyError
from connector.loyalty.wiring import load_config
from connector.web import intake
from connector.web.admin.blueprint import bp
from connector.web.admin.cache import kept
from connector.web.admin.mappings import mapped_field

#: An intent score from which a Lead counts as hot (scores run 0 to 5).
HOT_FROM = 4.0


def figures() -> list[dict[str, Any]]:
    """Every KPI: name, value and what it means. Kept until a run writes, a record is pulled
    or an entry is booked (:mod:`.cache`): the funnel reads every written order count and
    revenue (150 ms on the medium seed)."""
    try:
        programs = load_config(intake.settings()).programs
    except Lead2LoyaltyError:
        programs = []
    program = programs[0].id if programs else None
    fields = (
        mapped_field("Lead", "intent.score"),
        mapped_field("Contact", "rfm.order_count"),
        mapped_field("Contact", "rfm.revenue"),
    )
    return kept("kpi", lambda: _figures(program, *fields), program, fields)


def _figures(
    program: str | None,
    intent_field: str | None,
    orders_field: str | None,
    revenue_field: str | None,
) -> list[dict[str, Any]]:
    # the totals kept as entries are booked: adding up the journal took 57 s on medium
    report = intake.store().admin.loyalty_report(program) if program else {}
    f = intake.store().admin.funnel(
        program=report.get("program"),
        intent_field=intent_field,
        orders_field=orders_field,
        revenue_field=revenue_field,
        hot_from=HOT_FROM,
    )
    points = report.get("points", {})
    issued = points.get("issued", 0)
    rows: list[dict[str, Any]] = [
        {
            "name": "Leads",
            "value": f.leads,
            "funnel": True,
            "means": "Leads in the org (pulled, not deleted).",
        },
        {
            "name": "Hot leads",
            "value": f.hot_leads,
            "funnel": True,
            "means": f"Leads whose intent score is {HOT_FROM:g} or more.",
        },
        {
            "name": "Converted leads",
            "value": f.converted,
            "funnel": True,
            "means": "Leads converted to a Contact.",
        },
        {
            "name": "Buyers",
            "value": f.buyers,
            "funnel": True,
            "means": "People with at least one order.",
        },
        {
            "name": "Repeat buyers",
            "value": f.repeat_buyers,
            "funnel": True,
            "means": "People with two orders or more.",
        },
        {
            "name": "Loyalty members",
            "value": f.members,
            "funnel": True,
            "means": "Members of the loyalty program (anyone in its journal).",
        },
    ]
    for tier, count in (report.get("tiers") or {}).items():
        rows.append(
            {
                "name": f"Members in tier {tier}",
                "value": count,
                "funnel": False,
                "means": f"Members whose tier is {tier} today.",
            }
        )
    rows += [
        {
            "name": "Revenue from members",
            "value": f.revenue_members,
            "funnel": False,
            "means": "Order revenue of the Contacts who are loyalty members.",
        },
        {
            "name": "Revenue from everyone else",
            "value": f.revenue_others,
            "funnel": False,
            "means": "Order revenue of the Contacts who are not members.",
        },
        {
            "name": "Redemption rate",
            "value": round(points.get("redeemed", 0) / issued, 4) if issued else 0,
            "funnel": False,
            "means": "Points redeemed per point issued (0.25: a quarter of what was earned).",
        },
        {
            "name": "Liability (points)",
            "value": points.get("outstanding", 0),
            "funnel": False,
            "means": "Points members hold and may still spend: what the business owes.",
        },
    ]
    return rows


def funnel_bars(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The funnel's bars: each figure's width as a share of the widest (SVG percent)."""
    steps = [r for r in rows if r["funnel"]]
    widest = max((r["value"] for r in steps), default=0) or 1
    return [
        {**r, "width": round(100 * r["value"] / widest, 1), "y": 28 * i}
        for i, r in enumerate(steps)
    ]


@bp.get("/kpi")
def kpi() -> ResponseReturnValue:
    """The KPI page."""
    rows = figures()
    return render_template("admin/kpi.html", rows=rows, bars=funnel_bars(rows))


@bp.get("/kpi.csv")
def kpi_csv() -> ResponseReturnValue:
    """The KPI figures as CSV: figure, value, what it means."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["figure", "value", "means"])
    for r in figures():
        writer.writerow([r["name"], r["value"], r["means"]])
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=lead2loyalty-kpi.csv"},
    )
