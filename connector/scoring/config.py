"""Typed settings for the intent score and the lead conversion model: the source of truth for
``models/intent.yaml`` and ``models/lead_conversion.yaml`` (validated with file:line errors by
``connector.mapping.load_yaml_model``)."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, model_validator

from connector.events.names import EMAIL_CLICK_EVENTS, EMAIL_OPEN_EVENTS, EMAIL_SEND_EVENTS

_FLOW_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,79}$")


class Signal(BaseModel):
    """One behavioural signal: which events feed it and how much they count."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        pattern=r"^[a-z][a-z0-9_]*$", description="Stable key, e.g. cart_adds (lower_snake_case)."
    )
    label: str = Field(
        min_length=1,
        max_length=40,
        description="Plain words reps read in the reasons, e.g. 'Cart adds'.",
    )
    events: list[str] = Field(
        min_length=1,
        description="Event names that feed this signal (Segment ecommerce spec names, e.g. "
        "'Product Added').",
    )
    weight: float = Field(
        description="Points one fresh event adds (negative lowers the score, e.g. returns)."
    )
    max_points: float = Field(
        gt=0.0,
        description="Saturation: the most this signal adds (or takes away) however many events; "
        "each further event adds less (diminishing returns).",
    )
    half_life_days: float = Field(
        gt=0.0, description="An event counts half after this many days, a quarter after twice."
    )
    cap_per_day: int | None = Field(
        default=None,
        ge=1,
        description="At most this many events a day count (40 reloads are not 40 views); "
        "null: no cap.",
    )
    value_property: str | None = Field(
        default=None,
        description="Optional numeric event property that scales each event, e.g. "
        "dwell_seconds; an event counts value / value_unit, between 0 and 10.",
    )
    value_unit: float = Field(
        default=1.0, gt=0.0, description="What one unit of value_property is worth one event."
    )
    web: bool = Field(
        default=False,
        description="A web or app component (used by the Summit baseline in evaluate intent).",
    )


class MachineOpens(BaseModel):
    """Email opens and clicks made by privacy proxies and security scanners, not people."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    open_within_seconds: float = Field(
        default=10.0,
        ge=0.0,
        description="An open this soon after the send (the 'Email Delivered'/'Email Sent' event "
        "of the same email, or its sent_at property) is a machine.",
    )
    clicks_at_once: int = Field(
        default=3,
        ge=2,
        description="This many clicks on one email within click_window_seconds: a scanner "
        "following every link.",
    )
    click_window_seconds: float = Field(default=2.0, ge=0.0, description="See clicks_at_once.")
    counts_as: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="What a machine open or click still counts (0 ignores it, 1 counts it fully).",
    )
    send_events: list[str] = Field(
        default_factory=lambda: list(EMAIL_SEND_EVENTS),
        description="Events that mark an email's send time.",
    )
    open_events: list[str] = Field(
        default_factory=lambda: list(EMAIL_OPEN_EVENTS), description="Events that are opens."
    )
    click_events: list[str] = Field(
        default_factory=lambda: list(EMAIL_CLICK_EVENTS),
        description="Events that are clicks.",
    )


class Moment(BaseModel):
    """A crossing that invokes an autolaunched Flow once, e.g. intent rising to 4.0 or above."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="Stable key, e.g. turned_hot.")
    threshold: float = Field(
        ge=0.0, description="The moment fires when the intent score rises to this or above."
    )
    rearm_below: float | None = Field(
        default=None,
        ge=0.0,
        description="It fires again only after the score fell below this (default: the "
        "threshold), so a score that wobbles around the line does not fire on every sync.",
    )
    flow: str = Field(
        description="API name of the autolaunched Flow to invoke (Actions API); it receives "
        "recordId, objectName, intentScore and intentReasons."
    )
    objects: list[str] = Field(
        default_factory=lambda: ["Lead", "Contact"], description="Lead, Contact or both."
    )
    enabled: bool = Field(default=True, description="false keeps the moment without firing it.")

    @model_validator(mode="after")
    def _valid(self) -> Moment:
        if not _FLOW_NAME.match(self.flow):
            raise ValueError(f"flow '{self.flow}' is not a Flow API name (letters, digits, _)")
        if self.rearm_below is not None and self.rearm_below > self.threshold:
            raise ValueError("rearm_below must not be above threshold")
        unknown = [o for o in self.objects if o not in ("Lead", "Contact")]
        if unknown:
            raise ValueError(f"objects must be Lead or Contact, got {unknown}")
        return self

    @property
    def rearm(self) -> float:
        """The score below which the moment can fire again."""
        return self.threshold if self.rearm_below is None else self.rearm_below


class IntentConfig(BaseModel):
    """What an admin can tune about the intent score (``models/intent.yaml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scale: float = Field(default=5.0, gt=0.0, description="The score runs from 0 to this.")
    signals: list[Signal] = Field(min_length=1, description="The signal catalog.")
    orders_from_salesforce: bool = Field(
        default=True,
        description="Count the synced Orders as 'Order Completed' events (and reduction orders "
        "as 'Order Refunded'); set false when your event source already sends them.",
    )
    machine_opens: MachineOpens = Field(default_factory=MachineOpens)
    reasons_top: int = Field(
        default=3,
        ge=1,
        le=8,
        description="How many signals the reasons name; the rest are summed as 'Other activity'.",
    )
    moments: list[Moment] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> IntentConfig:
        names = [s.name for s in self.signals]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"signal names must be unique; repeated: {', '.join(twice)}")
        seen: dict[str, str] = {}
        for s in self.signals:
            for event in s.events:
                if event in seen:
                    raise ValueError(
                        f"event '{event}' feeds both {seen[event]} and {s.name}; "
                        "an event belongs to one signal"
                    )
                seen[event] = s.name
        moments = [m.name for m in self.moments]
        if len(set(moments)) != len(moments):
            raise ValueError("moment names must be unique")
        return self

    def event_signal(self) -> dict[str, int]:
        """Event name -> index of its signal."""
        return {e: i for i, s in enumerate(self.signals) for e in s.events}


class Gate(BaseModel):
    """The minimum data before the learned lead score is written."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Einstein Lead Scoring's own minimum (Salesforce Help, "Considerations for Setting Up
    # Einstein Lead Scoring", help.salesforce.com ai.einstein_sales_els_setup_considerations):
    # at least 1,000 leads created in the last 200 days, and of those at least 120 converted.
    min_leads: int = Field(default=1000, ge=1, description="Leads created in the window.")
    min_converted: int = Field(
        default=120, ge=1, description="Of the Leads created in the window, how many converted."
    )
    window_days: int = Field(default=200, ge=1, description="The window, in days before now.")


#: The Lead fields the conversion model reads unless ``categorical`` says otherwise; the Lead
#: stream pulls them whatever the settings (``connector/sync/streams.py``).
LEAD_MODEL_FIELDS = (
    "LeadSource",
    "Industry",
    "Rating",
    "Country",
    "Title",
    "NumberOfEmployees",
    "AnnualRevenue",
    "Email",
)


class LeadConversionConfig(BaseModel):
    """What an admin can tune about the lead conversion model (``models/lead_conversion.yaml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(default=True, description="false: no conversion score is computed.")
    categorical: list[str] = Field(
        default_factory=lambda: list(LEAD_MODEL_FIELDS),
        description="Lead fields the model reads. Title becomes seniority, NumberOfEmployees "
        "and AnnualRevenue become size bands, Email becomes free vs business domain.",
    )
    behaviour: bool = Field(
        default=True,
        description="Also use each intent signal's decayed value (models/intent.yaml) as a "
        "feature.",
    )
    regularization: float = Field(
        default=1.0, gt=0.0, description="Inverse L2 strength of the logistic model (C)."
    )
    holdout_share: float = Field(
        default=0.25,
        gt=0.0,
        lt=1.0,
        description="Share of the latest-created Leads held out to measure the model.",
    )
    gate: Gate = Field(default_factory=Gate)
    retrain_every_days: float = Field(
        default=10.0,
        gt=0.0,
        description="The clock refits the model this often (Einstein: every 10 days).",
    )
    factors_top: int = Field(
        default=2, ge=1, le=5, description="Positive and negative factors named per Lead."
    )
