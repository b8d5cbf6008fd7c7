"""Typed loyalty programs: the source of truth for ``models/loyalty.yaml``.

A file holds one or more programs. Each program keeps a redeemable points currency and a
qualifying (tier) currency, earns by rules, may run promotions, assess tiers, expire points in
lots and issue vouchers. Everything an admin can tune is here, validated with ``file:line``
errors by :func:`connector.mapping.load_yaml_model`.
"""

from __future__ import annotations

from datetime import date
from itertools import pairwise
from typing import Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from connector.bounds import MAX_AMOUNT, MAX_POINTS
from connector.loyalty.ledger import JournalKind
from connector.predictions.outputs import SEGMENT_NAMES

_ID = r"^[a-z][a-z0-9_]{0,39}$"

#: Segment names and codes a promotion may name -> the segment's readable name.
SEGMENTS: dict[str, str] = {
    **{name: name for name in SEGMENT_NAMES.values()},
    **{f"P{p}-C{c}": name for (p, c), name in SEGMENT_NAMES.items()},
}

# Earning factors stay small enough that the largest order (MAX_AMOUNT) times the largest
# rate and multiplier (10^12 x 10^3 x 10^2 = 10^17) is still far inside 64 bits.
MAX_POINTS_PER_UNIT = 1_000
MAX_MULTIPLIER = 100

ProgramType = Literal["points", "tiered", "cashback", "progressive_discount"]

#: The JournalType (by Name) each journal kind is mirrored as unless a program says otherwise:
#: the two types the Connect API's transaction history names, and the default Manual Points
#: Adjustment type for everything else (Loyalty Management Developer Guide, "JournalType").
DEFAULT_JOURNAL_TYPES: dict[str, str] = {"accrual": "Accrual", "redemption": "Redemption"}
OTHER_JOURNAL_TYPE = "Manual Points Adjustment"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Cap(_Strict):
    """At most ``points`` earned by one rule per member and period."""

    points: int = Field(
        gt=0, le=MAX_POINTS, description="Most points this rule may earn per member and period."
    )
    period: Literal["day", "week", "month", "year"] = Field(
        default="month", description="Calendar period in the program's time zone."
    )


class EarningRule(_Strict):
    """One way to earn. ``kind`` says which of the other keys apply.

    - ``spend``: ``points_per_unit`` per currency unit of the order's amount;
    - ``product``: ``multiplier`` on the spend rule for order lines of ``products`` (Product2 Ids)
      or of ``categories`` (Product2 ``Family`` values, Salesforce's product category: a
      picklist, "Name of the product family associated with this record", Platform Field
      Reference, "Product2");
    - ``threshold``: ``points`` once per order whose amount reaches ``min_amount``;
    - ``event``: ``points`` per stored event named ``event`` (a review, a referral, a survey).
    """

    id: str = Field(pattern=_ID, description="Stable id; journal entries name it.")
    kind: Literal["spend", "product", "threshold", "event"]
    points_per_unit: float | None = Field(
        default=None, gt=0, le=MAX_POINTS_PER_UNIT, description="spend: points per unit."
    )
    multiplier: float | None = Field(
        default=None, gt=0, le=MAX_MULTIPLIER, description="product: spend multiplier."
    )
    products: list[str] = Field(default_factory=list, description="product: Product2 Ids.")
    categories: list[str] = Field(
        default_factory=list, description="product: Product2 Family values (categories)."
    )
    min_amount: float | None = Field(
        default=None, gt=0, le=MAX_AMOUNT, description="threshold: order amount."
    )
    event: str | None = Field(default=None, description="event: the event name that earns.")
    points: int | None = Field(
        default=None, gt=0, le=MAX_POINTS, description="threshold/event: points earned."
    )
    qualifying: bool = Field(default=True, description="Also counts towards tiers.")
    cap: Cap | None = Field(default=None, description="Most points per member and period.")
    partner: str | None = Field(default=None, description="Partner that funds this rule.")

    @model_validator(mode="after")
    def _keys_for_kind(self) -> Self:
        if self.kind == "product" and not (self.products or self.categories):
            raise ValueError("a product rule needs products or categories (or both)")
        if self.kind != "product" and self.categories:
            raise ValueError("categories apply to product rules only")
        needs = {
            "spend": ("points_per_unit",),
            "product": ("multiplier",),
            "threshold": ("min_amount", "points"),
            "event": ("event", "points"),
        }[self.kind]
        missing = [k for k in needs if not getattr(self, k)]
        if missing:
            raise ValueError(f"a {self.kind} rule needs {', '.join(missing)}")
        return self


class Promotion(_Strict):
    """A time-limited bonus: a multiplier on earning, or fixed points per order, for those
    eligible (tiers, partners), on orders dated from ``start`` to ``end`` inclusive."""

    id: str = Field(pattern=_ID)
    start: date
    end: date
    multiplier: float | None = Field(default=None, gt=0, le=MAX_MULTIPLIER)
    bonus_points: int | None = Field(
        default=None, gt=0, le=MAX_POINTS, description="Fixed points per order."
    )
    tiers: list[str] = Field(default_factory=list, description="Only members of these tiers.")
    segments: list[str] = Field(
        default_factory=list,
        description="Only members in these purchase x churn segments (names such as Champions, "
        "or codes such as P4-C1).",
    )
    voucher: str | None = Field(
        default=None,
        description="A voucher id of the program given (free) once per qualifying order.",
    )
    partners: list[str] = Field(
        default_factory=list,
        description="Only partner accruals of these partners (not orders): the multiplier "
        "scales the partner's points, the bonus adds to them.",
    )

    @field_validator("segments")
    @classmethod
    def _known_segments(cls, segments: list[str]) -> list[str]:
        unknown = sorted(set(segments) - set(SEGMENTS))
        if unknown:
            raise ValueError(f"unknown segments {unknown}; segments are names or codes P1-C1..")
        return segments

    @field_validator("partners")
    @classmethod
    def _partner_ids(cls, partners: list[str]) -> list[str]:
        bad = [p for p in partners if not p.strip() or p != p.strip()]
        if bad:
            raise ValueError(f"partner ids must be non-empty without surrounding spaces: {bad}")
        return partners

    def segment_names(self) -> set[str]:
        """The readable names of :attr:`segments` (codes translated)."""
        return {SEGMENTS[s] for s in self.segments}

    @model_validator(mode="after")
    def _sensible(self) -> Self:
        if self.end < self.start:
            raise ValueError("end is before start")
        if self.multiplier is not None and self.bonus_points is not None:
            raise ValueError("give one of multiplier or bonus_points, not both")
        if self.multiplier is None and self.bonus_points is None and self.voucher is None:
            raise ValueError("give one of multiplier or bonus_points, or a voucher")
        if self.voucher is not None and self.partners:
            raise ValueError("a promotion for partners cannot give vouchers (it has no order)")
        if self.partners and self.segments:
            # partner accruals arrive through the API, where no segment is known
            raise ValueError("a promotion for partners cannot also be limited to segments")
        return self


class Tier(_Strict):
    """A tier reached at ``min_points`` qualifying points."""

    name: str = Field(min_length=1, max_length=40)
    min_points: int = Field(ge=0, le=MAX_POINTS)
    discount_percent: float = Field(default=0.0, ge=0, le=100, description="Progressive discount.")


class Tiers(_Strict):
    """How qualifying points become a tier."""

    basis: Literal["rolling_12_months", "calendar_year"] = "rolling_12_months"
    levels: list[Tier] = Field(min_length=1)
    assessment_month: int = Field(default=1, ge=1, le=12, description="Yearly assessment date.")
    assessment_day: int = Field(default=1, ge=1, le=28)
    grace_days: int = Field(
        default=0, ge=0, le=3_660, description="Days a downgrade waits after it."
    )
    flow: str | None = Field(default=None, description="Autolaunched Flow told of tier changes.")

    @field_validator("levels")
    @classmethod
    def _ascending(cls, levels: list[Tier]) -> list[Tier]:
        mins = [t.min_points for t in levels]
        if mins != sorted(mins) or len(set(mins)) != len(mins):
            raise ValueError("levels must have strictly ascending min_points")
        if mins[0] != 0:
            raise ValueError("the first level must start at min_points 0")
        if len({t.name for t in levels}) != len(levels):
            raise ValueError("tier names must be unique")
        return levels


class SpendLevel(_Strict):
    """A discount reached at ``min_spend`` net spend within the program's discount window."""

    min_spend: float = Field(
        ge=0, description="Net spend (orders minus refunds, corporate currency) it starts at."
    )
    percent: float = Field(ge=0, le=100, description="Discount percent at this level.")


DiscountWindow = Literal["lifetime", "rolling_12_months", "calendar_year"]


class Discounts(_Strict):
    """Where a progressive discount's level comes from.

    ``basis: tier`` takes each tier's ``discount_percent`` (the tiers' own window applies);
    ``basis: spend`` takes the highest of ``levels`` whose ``min_spend`` the member's net spend
    (orders minus refunds, in the corporate currency orders are counted in) within ``window``
    reaches, evaluated in the program's time zone.
    """

    basis: Literal["tier", "spend"] = Field(
        description="tier: the tier's discount_percent; spend: levels by net spend."
    )
    window: DiscountWindow | None = Field(
        default=None,
        description="spend: which spend counts: lifetime (default) | rolling_12_months "
        "(the last twelve months) | calendar_year (since 1 January, program time zone).",
    )
    levels: list[SpendLevel] = Field(
        default_factory=list, description="spend: the levels, ascending in min_spend."
    )

    @field_validator("levels")
    @classmethod
    def _progressive(cls, levels: list[SpendLevel]) -> list[SpendLevel]:
        for n, (low, high) in enumerate(pairwise(levels), start=2):
            if high.min_spend <= low.min_spend:
                raise ValueError(
                    f"levels must rise in min_spend: level {n} ({high.min_spend:g}) is not above "
                    f"level {n - 1} ({low.min_spend:g})"
                )
            if high.percent < low.percent:
                raise ValueError(
                    f"a higher level cannot give less: level {n} has percent {high.percent:g}, "
                    f"level {n - 1} has {low.percent:g}"
                )
        return levels

    @model_validator(mode="after")
    def _one_basis(self) -> Self:
        if self.basis == "tier" and self.levels:
            raise ValueError(
                "basis: tier takes each tier's discount_percent; remove levels, or use basis: spend"
            )
        if self.basis == "tier" and self.window is not None:
            raise ValueError("window applies to basis: spend; a tier's window is tiers.basis")
        if self.basis == "spend" and not self.levels:
            raise ValueError(
                "basis: spend needs levels, e.g. [{min_spend: 0, percent: 0}, "
                "{min_spend: 500, percent: 5}]"
            )
        return self

    @property
    def spend_window(self) -> DiscountWindow:
        """The window spend counts over (``lifetime`` when not given)."""
        return self.window or "lifetime"


class Expiry(_Strict):
    """When points expire: each lot ``months`` after it was earned, or every point after
    ``months`` without activity; always at the end of the day in the program's time zone."""

    mode: Literal["lot", "inactivity", "never"] = "lot"
    months: int = Field(default=12, ge=1, le=120)


class Voucher(_Strict):
    """A voucher members can get for points (or that a promotion gives)."""

    id: str = Field(pattern=_ID)
    kind: Literal["fixed", "percent", "free_item"]
    value: float = Field(
        gt=0, le=MAX_AMOUNT, description="Amount off, percent off, or the item's value."
    )
    cost_points: int | None = Field(
        default=None, gt=0, le=MAX_POINTS, description="Points it costs."
    )
    valid_days: int = Field(default=90, ge=1)
    uses: int = Field(default=1, ge=1, description="How many times one code can be used.")


class ApiCaps(_Strict):
    """What one loyalty API token may accrue (partner accruals), checked per request and per
    day in the program's time zone; a request over either is refused with 403."""

    accrual_points_per_request: int | None = Field(
        default=None, gt=0, le=10**12, description="Most points one accrual request may add."
    )
    accrual_points_per_day: int | None = Field(
        default=None,
        gt=0,
        le=10**12,
        description="Most points one token may accrue per day (the program's time zone).",
    )


class Program(_Strict):
    """One loyalty program."""

    id: str = Field(pattern=_ID, description="Stable id; fields and the journal name it.")
    name: str = Field(min_length=1)
    type: ProgramType = "tiered"
    brands: list[str] = Field(default_factory=list, description="Brands sharing the currency.")
    timezone: str = Field(default="UTC", description="IANA zone: expiry at the end of its day.")
    rounding: Literal["floor", "half_up"] = Field(
        default="floor", description="How fractional points round (one rule, stated)."
    )
    pending_days: int = Field(
        default=0, ge=0, description="Days before earned points can be spent."
    )
    enrollment: Literal["buyers", "everyone", "field"] = Field(
        default="buyers",
        description="buyers: every Contact with an order; everyone: all; field: Contacts whose "
        "enrollment_field checkbox is true.",
    )
    enrollment_field: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z][A-Za-z0-9_]*$",
        description="field: the Contact checkbox API name, e.g. L2L_Loyalty_Member__c.",
    )
    enrollment_min_orders: int = Field(
        default=1, ge=1, description="enrollment buyers: the purchase orders a member needs."
    )
    pool_by_account: bool = Field(
        default=False, description="B2B: a business Account's contacts pool their points."
    )
    earning: list[EarningRule] = Field(default_factory=list)
    promotions: list[Promotion] = Field(default_factory=list)
    tiers: Tiers | None = None
    expiry: Expiry = Field(default_factory=Expiry)
    refund_policy: Literal["negative_balance", "settle_from_future"] = Field(
        default="negative_balance",
        description="A refund whose points are already spent: let the balance go negative, or "
        "carry the rest as debt that later earning settles first.",
    )
    cashback_percent: float = Field(default=0.0, ge=0, le=100, description="cashback programs.")
    discounts: Discounts | None = Field(
        default=None,
        description="progressive_discount: the discount level from the tier (basis: tier, the "
        "default) or from net spend (basis: spend, with levels).",
    )
    vouchers: list[Voucher] = Field(default_factory=list)
    api_caps: ApiCaps = Field(
        default_factory=ApiCaps,
        description="Caps on the points a loyalty API token may accrue, per request and per day.",
    )
    mirror: Literal["none", "loyalty_management"] = Field(
        default="none",
        description="loyalty_management: also write the journal into Salesforce Loyalty "
        "Management (LoyaltyProgramMember, TransactionJournal, LoyaltyMemberCurrency).",
    )
    journal_types: dict[JournalKind, str] = Field(
        default_factory=dict,
        description="mirror: the org's JournalType (its Name) for a journal kind. Unnamed "
        "kinds: accrual -> Accrual, redemption -> Redemption, the rest -> Manual Points "
        "Adjustment.",
    )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone, e.g. Europe/Berlin") from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        ids = [r.id for r in self.earning]
        if len(set(ids)) != len(ids):
            raise ValueError("earning rule ids must be unique")
        if self.type == "tiered" and self.tiers is None:
            raise ValueError("a tiered program needs tiers")
        if (self.enrollment == "field") != (self.enrollment_field is not None):
            raise ValueError("enrollment: field needs enrollment_field, and only it takes one")
        if self.enrollment_min_orders > 1 and self.enrollment != "buyers":
            raise ValueError("enrollment_min_orders applies to enrollment: buyers only")
        if self.journal_types and self.mirror != "loyalty_management":
            raise ValueError("journal_types applies to mirror: loyalty_management only")
        if any(not name.strip() for name in self.journal_types.values()):
            raise ValueError("journal_types: a JournalType name cannot be empty")
        if self.type == "cashback" and not self.cashback_percent:
            raise ValueError("a cashback program needs cashback_percent")
        self._check_discounts()
        names = {t.name for t in self.tiers.levels} if self.tiers else set()
        for promo in self.promotions:
            unknown = set(promo.tiers) - names
            if unknown:
                raise ValueError(f"promotion {promo.id}: unknown tiers {sorted(unknown)}")
            if promo.voucher is not None and promo.voucher not in {v.id for v in self.vouchers}:
                raise ValueError(f"promotion {promo.id}: unknown voucher {promo.voucher!r}")
        return self

    def _check_discounts(self) -> None:
        discounts = self.discounts
        if discounts is None:
            return
        if self.type != "progressive_discount":
            raise ValueError("discounts apply to type: progressive_discount programs only")
        if discounts.basis == "tier" and self.tiers is None:
            raise ValueError("discounts basis: tier needs tiers with discount_percent levels")
        if discounts.basis == "spend" and self.tiers is not None:
            # two sources for one discount would leave the admin guessing which one holds
            mixed = [t.name for t in self.tiers.levels if t.discount_percent]
            if mixed:
                raise ValueError(
                    "discounts basis: spend takes the discount from discounts.levels; remove "
                    f"discount_percent from tiers {mixed}"
                )

    @property
    def spend_discounts(self) -> Discounts | None:
        """The discounts when they come from spend (``basis: spend``), else ``None``."""
        if self.discounts is not None and self.discounts.basis == "spend":
            return self.discounts
        return None

    @property
    def zone(self) -> ZoneInfo:
        """The program's time zone."""
        return ZoneInfo(self.timezone)

    @property
    def uses_categories(self) -> bool:
        """True when a product rule names categories (Product2 Family): Product2 is pulled."""
        return any(r.kind == "product" and r.categories for r in self.earning)

    def journal_type(self, kind: str) -> str:
        """The JournalType Name a journal entry of ``kind`` is mirrored as."""
        named = {str(k): v for k, v in self.journal_types.items()}
        return named.get(kind) or DEFAULT_JOURNAL_TYPES.get(kind, OTHER_JOURNAL_TYPE)

    def rule(self, rule_id: str) -> EarningRule | None:
        """The earning rule with this id, if any."""
        return next((r for r in self.earning if r.id == rule_id), None)


class LoyaltyConfig(_Strict):
    """``models/loyalty.yaml``: the programs lead2loyalty keeps the books of."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="lead2loyalty loyalty programs")

    programs: list[Program] = Field(default_factory=list)

    @field_validator("programs")
    @classmethod
    def _unique(cls, programs: list[Program]) -> list[Program]:
        ids = [p.id for p in programs]
        if len(set(ids)) != len(ids):
            raise ValueError("program ids must be unique")
        return programs
