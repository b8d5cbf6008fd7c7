"""Which optional Salesforce features an org has: Orders, person accounts, multi-currency,
Loyalty Management.

A real org may run with Orders turned off (Setup > Order Settings), without person accounts, or
with multiple currencies (and advanced currency management). :func:`apply_features` shapes the
standard objects of :mod:`localorg.schema` the way such an org describes them:

- Orders off: Order and OrderItem do not exist. describe answers 404 ``NOT_FOUND`` and SOQL
  ``INVALID_TYPE`` "sObject type 'Order' is not supported", as for any unknown sObject (REST API
  Developer Guide, "Status Codes and Error Responses"; OrderSettings ``enableOrders``, Metadata
  API Developer Guide).
- Person accounts off: Account has no IsPersonAccount, PersonContactId or PersonEmail (Object
  Reference, Account: "only if person accounts are enabled"; SOAP API Developer Guide, "Person
  Account Record Types").
- Multi-currency on: records carry ``CurrencyIsoCode`` (a restricted picklist of the org's
  currencies, defaulting to the corporate one), and the org has ``CurrencyType`` (IsoCode,
  ConversionRate, DecimalPlaces, IsActive, IsCorporate; Object Reference, CurrencyType: "not
  available in single-currency organizations"). With advanced currency management it also has
  ``DatedConversionRate`` (IsoCode, ConversionRate, StartDate, read-only NextStartDate; Object
  Reference, DatedConversionRate: "for multicurrency organizations with advanced currency
  management enabled").
- Enhanced Email off: EmailMessage stays (Email-to-Case keeps it: "EmailMessage is only
  available for orgs that use Email-to-Case or Enhanced Email", Object Reference,
  "EmailMessage") but has no ``RelatedToId``, the field Enhanced Email adds to relate an email to
  a person or record (Enhanced Email also brings EmailMessageRelation, "available only if you
  have Enhanced Email enabled", Object Reference, "EmailMessageRelation", which localorg does not
  serve in either mode). An email is then a Case's (``ParentId``) and reaches its person through
  its activity, the Task of ``ActivityId`` and that Task's ``WhoId``.
- Loyalty Management on: the org has LoyaltyProgram, LoyaltyProgramMember,
  LoyaltyProgramCurrency, LoyaltyMemberCurrency and TransactionJournal (the fields lead2loyalty
  mirrors its journal into; :mod:`localorg.loyalty_management` names its sources).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from localorg.schema import FieldInfo, ObjectInfo, _label, _ro, _system

# Objects that carry CurrencyIsoCode in a multi-currency org (the ones localorg has that hold
# amounts or own records that do).
CURRENCY_OBJECTS = ("Account", "Contact", "Lead", "Order", "OrderItem", "Product2", "Case")
PERSON_ACCOUNT_FIELDS = ("IsPersonAccount", "PersonContactId", "PersonEmail")
# What EmailMessage has only with Enhanced Email on.
ENHANCED_EMAIL_FIELDS = ("RelatedToId",)
# Units of each currency per unit of the corporate currency (USD), for a new multi-currency org.
DEFAULT_RATES: dict[str, float] = {"USD": 1.0, "EUR": 0.9, "GBP": 0.8, "JPY": 150.0}
DECIMAL_PLACES: dict[str, int] = {"JPY": 0}


@dataclass(frozen=True)
class OrgFeatures:
    """The optional features of one org; the defaults are the demo's org."""

    orders: bool = True
    person_accounts: bool = True
    multi_currency: bool = False
    advanced_currency: bool = False
    corporate_currency: str = "USD"
    currencies: tuple[str, ...] = field(default=tuple(DEFAULT_RATES))
    loyalty_management: bool = False
    enhanced_email: bool = True

    def problems(self) -> list[str]:
        """What is inconsistent in these features (empty when they can be served)."""
        out = []
        if self.advanced_currency and not self.multi_currency:
            out.append("advanced currency management needs multi-currency (--multi-currency)")
        if self.corporate_currency not in self.currencies:
            out.append(f"the corporate currency {self.corporate_currency} is not a currency")
        return out


def apply_features(objects: dict[str, ObjectInfo], features: OrgFeatures) -> None:
    """Shape ``objects`` (the standard objects, in place) as an org with ``features``."""
    if not features.orders:
        for name in ("Order", "OrderItem"):
            objects.pop(name, None)
        for info in objects.values():
            for f in info.fields.values():
                f.reference_to = [t for t in f.reference_to if t not in ("Order", "OrderItem")]
    if not features.person_accounts:
        account = objects["Account"]
        for name in PERSON_ACCOUNT_FIELDS:
            account.fields.pop(name, None)
        account.reindex()
    if not features.enhanced_email and "EmailMessage" in objects:
        email = objects["EmailMessage"]
        for name in ENHANCED_EMAIL_FIELDS:
            email.fields.pop(name, None)
        email.reindex()
    if features.multi_currency:
        currency = FieldInfo(
            "CurrencyIsoCode",
            "picklist",
            label="Currency ISO Code",
            picklist=list(features.currencies),
            default=features.corporate_currency,
        )
        for name in CURRENCY_OBJECTS:
            if name in objects:
                objects[name].add_field(FieldInfo(**{**currency.__dict__}))
        _add(objects, "CurrencyType", "Currency Types", _currency_type(features))
        if features.advanced_currency:
            _add(objects, "DatedConversionRate", "Dated Conversion Rates", _dated(features))
    if features.loyalty_management:
        from localorg.loyalty_management import loyalty_objects

        for name, plural, fields in loyalty_objects():
            _add(objects, name, plural, fields)


def _add(objects: dict[str, ObjectInfo], name: str, plural: str, fields: list[FieldInfo]) -> None:
    from localorg.ids import KEY_PREFIXES

    objects[name] = ObjectInfo(
        name=name,
        label=_label(name),
        label_plural=plural,
        fields={f.name: f for f in fields},
        key_prefix=KEY_PREFIXES[name],
    )


def _rate(features: OrgFeatures) -> list[FieldInfo]:
    """The system fields, IsoCode and ConversionRate: what CurrencyType and
    DatedConversionRate both hold."""
    return [
        *_system(owner=False),
        FieldInfo(
            "IsoCode",
            "picklist",
            label="Currency ISO Code",
            picklist=list(features.currencies),
            required=True,
            updateable=False,
        ),
        FieldInfo("ConversionRate", "double", precision=18, scale=6, required=True),
    ]


def _currency_type(features: OrgFeatures) -> list[FieldInfo]:
    return [
        *_rate(features),
        FieldInfo("DecimalPlaces", "int", required=True),
        FieldInfo("IsActive", "boolean", default=False),
        FieldInfo("IsCorporate", "boolean", default=False),
    ]


def _dated(features: OrgFeatures) -> list[FieldInfo]:
    return [
        *_rate(features),
        FieldInfo("StartDate", "date", required=True),
        _ro(FieldInfo("NextStartDate", "date")),
    ]


def currency_rows(features: OrgFeatures) -> list[dict[str, object]]:
    """The CurrencyType rows of a new multi-currency org (storage form, without system fields)."""
    return [
        {
            "IsoCode": code,
            "ConversionRate": 1.0
            if code == features.corporate_currency
            else DEFAULT_RATES.get(code, 1.0) / DEFAULT_RATES.get(features.corporate_currency, 1.0),
            "DecimalPlaces": DECIMAL_PLACES.get(code, 2),
            "IsActive": 1,
            "IsCorporate": int(code == features.corporate_currency),
        }
        for code in features.currencies
    ]
