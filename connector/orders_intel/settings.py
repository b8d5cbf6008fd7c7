"""What an admin can tune about order risk, fulfilment trends and recommendations
(``models/orders.yaml``; without the file, nothing here runs).

Each part turns into its model's plain settings (:meth:`RiskSettings.model`...), so the models
stay free of pydantic and of YAML.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from connector.orders_intel.fulfilment import FulfilmentConfig
from connector.orders_intel.recommend import RecommendConfig
from connector.orders_intel.risk import RiskConfig


class RiskSettings(BaseModel):
    """Order risk (``risk:``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    threshold: int = Field(
        default=99,
        ge=1,
        le=100,
        description="A score at or above it is a risky order: 99 flags about 1% of orders.",
    )
    label_field: str | None = Field(
        default=None,
        description="Order field holding the outcome (e.g. a chargeback picklist): with enough "
        "labelled orders the model turns supervised.",
    )
    fraud_values: list[str] = Field(
        default_factory=lambda: ["Fraud", "Chargeback"],
        description="Values of label_field that mean fraud; any other value means good.",
    )
    min_labels: int = Field(default=20, ge=1)
    min_orders: int = Field(
        default=200, ge=2, description="Below this many orders nothing is scored (no usual yet)."
    )
    held_days: int = Field(
        default=30,
        ge=1,
        description="A webhook order's score is held until the Salesforce Order naming it is "
        "pulled; a held score older than this many days is dropped (with a log line).",
    )
    flow: str | None = Field(
        default=None,
        description="Autolaunched Flow invoked once when an order crosses the threshold "
        "(inputs recordId, objectName, riskScore, riskReasons): hold the order, make a Task.",
    )

    def model(self) -> RiskConfig:
        """The model's own settings."""
        return RiskConfig(
            threshold=self.threshold, min_labels=self.min_labels, min_orders=self.min_orders
        )


class FulfilmentSettings(BaseModel):
    """Fulfilment trending the wrong way (``fulfilment:``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    ordered_field: str = Field(default="EffectiveDate", description="Order's day.")
    delivered_field: str = Field(
        default="EndDate", description="Delivery day (standard Order End Date by default)."
    )
    status_field: str = Field(default="Status")
    cancelled_statuses: list[str] = Field(default_factory=lambda: ["Cancelled"])
    promised_days: float = Field(default=7.0, gt=0, description="Later than this is late.")
    flow: str | None = Field(
        default=None,
        description="Autolaunched Flow invoked once when a person gets flagged (inputs "
        "recordId, objectName, fulfilmentReasons): a case or a call for service.",
    )

    def model(self) -> FulfilmentConfig:
        """The model's own settings."""
        return FulfilmentConfig(
            ordered_field=self.ordered_field,
            delivered_field=self.delivered_field,
            status_field=self.status_field,
            cancelled_statuses=tuple(self.cancelled_statuses),
            promised_days=self.promised_days,
        )


class RecommendSettings(BaseModel):
    """Product recommendations (``recommendations:``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    top_n: int = Field(default=5, ge=1, le=20)
    shrink: float = Field(default=10.0, ge=0)
    min_support: int = Field(default=2, ge=1)

    def model(self) -> RecommendConfig:
        """The model's own settings."""
        return RecommendConfig(top_n=self.top_n, shrink=self.shrink, min_support=self.min_support)


class OrdersSettings(BaseModel):
    """``models/orders.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    risk: RiskSettings = Field(default_factory=RiskSettings)
    fulfilment: FulfilmentSettings = Field(default_factory=FulfilmentSettings)
    recommendations: RecommendSettings = Field(default_factory=RecommendSettings)
