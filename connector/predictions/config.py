"""Typed settings for the predictions models; the source of truth for models/predictions.yaml."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from connector.predictions.timezones import zone_info


class PredictionsConfig(BaseModel):
    """What an admin can tune about CLV, purchase and churn predictions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: Literal["bg_nbd", "mbg_nbd", "pareto_nbd"] = Field(
        default="bg_nbd",
        description="Transaction model: BG/NBD (default, robust), MBG/NBD (one-time buyers can "
        "also have churned) or Pareto/NBD.",
    )
    time_unit: Literal["day", "week"] = Field(
        default="week",
        description="Time unit the models are fitted in; weeks are better conditioned.",
    )
    penalizer_coef: float = Field(
        default=0.0,
        ge=0.0,
        description="L2 penalty on model parameters; raise (e.g. 0.001) if fits fail.",
    )
    horizon_months: int = Field(
        default=12, ge=1, le=120, description="Months of future value in CLV."
    )
    currency: str = Field(
        default="USD",
        pattern=r"^[A-Z]{3}$",
        description="ISO 4217 code of the store's money (the org's corporate currency), shown "
        "beside CLV and revenue in reports and the demo.",
    )
    margin: float = Field(
        default=1.0,
        gt=0.0,
        le=1.0,
        description="Profit margin applied to revenue (1.0 = revenue CLV).",
    )
    monthly_discount_rate: float = Field(
        default=0.01, ge=0.0, lt=1.0, description="Monthly discount rate for future value."
    )
    churn_horizon_days: int | None = Field(
        default=None,
        ge=1,
        description="churn_risk = P(no order within this many days); None (default) learns it "
        "from the store: the 90th percentile of its gaps between repeat orders.",
    )
    buy_again: Literal["learned", "btyd"] = Field(
        default="learned",
        description="Purchase probabilities from the learned, calibrated layer over the "
        "transaction model (falls back to it, with the reason, on short history) or from the "
        "transaction model alone.",
    )
    next_order_window_days: int = Field(
        default=365,
        ge=1,
        description="Window for the expected next order date and its probability.",
    )
    min_buyers: int = Field(
        default=500, ge=1, description="Gate: buyers needed before fitting BTYD."
    )
    min_history_days: int = Field(
        default=180, ge=1, description="Gate: days between the first and last order in the data."
    )
    min_repeat_buyers: int = Field(
        default=25, ge=0, description="Gate: customers with 3 or more orders needed before fitting."
    )
    max_days_since_last_order: int | None = Field(
        default=30,
        ge=1,
        description="Gate: the store must have an order this recent (None switches it off).",
    )
    channel_prior_strength: float = Field(
        default=20.0,
        gt=0.0,
        description="Pseudo-sends pulling a person's channel rate to the org's.",
    )
    send_hour_prior_strength: float = Field(
        default=5.0, gt=0.0, description="Pseudo-events spread over the org's hour-of-week profile."
    )
    send_hour_min_events: int = Field(
        default=5, ge=0, description="Fewer engagement events than this: use the org's best hour."
    )
    default_zone: str = Field(
        default="UTC",
        description=(
            "Time zone (IANA name, e.g. Europe/Berlin) of people neither their events nor their "
            "mailing address place; best send times are said in each person's zone."
        ),
    )
    zone_field: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z][A-Za-z0-9_]{0,79}$",
        description=(
            "A Contact field holding each person's time zone as an IANA name (e.g. "
            "Time_Zone__c), read when neither their events nor their mailing address place them."
        ),
    )
    attribution_days: float = Field(
        default=7.0,
        gt=0.0,
        description="A click converts when its person orders within this many days after it.",
    )

    @field_validator("default_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        zone_info(value)  # ValueError names the zone: pydantic reports it as the field's error
        return value
