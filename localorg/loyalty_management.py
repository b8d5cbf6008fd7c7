"""The Loyalty Management objects an org with that feature has (``--loyalty-management``).

Only the fields lead2loyalty mirrors its journal into, as the Loyalty Management Developer
Guide's object reference (developer.salesforce.com/docs/atlas.en-us.loyalty.meta/loyalty/,
pages ``sforce_api_objects_<object>.htm``; field lists also in the Platform Field Reference,
``salesforce-field-reference-<object>``) describes them:

- LoyaltyProgram: Name.  Status: picklist (Active, Draft, ...). Status's values are not
  confirmed from the reference here; localorg keeps it a free string.
- LoyaltyProgramMember: AccountId, ContactId (lookups), EnrollmentDate (date, "Required")
  confirmed in the object reference; MembershipNumber, MemberStatus (Active) and MemberType
  (Individual) as the Connect API's Member Profile output names them (``membershipNumber``,
  ``memberStatus``, ``memberType``); ProgramId as we remember the object reference (not
  confirmed in the pages we read).
- LoyaltyProgramCurrency: LoyaltyProgramId, Name, CurrencyType (restricted picklist
  NonQualifying | Qualifying, confirmed), IsActive, IsPrimary (confirmed).
- LoyaltyMemberCurrency: LoyaltyMemberId (not nillable), LoyaltyProgramCurrencyId, Name (not
  nillable), PointsBalance, TotalPointsAccrued, TotalPointsRedeemed, TotalPointsExpired (the
  API 52.0 object reference's field list).
- JournalType ("the category of transactions, for example accrual, redemption"): Name,
  ProcessType (restricted picklist, required, only value ``Loyalty``), Description.
  JournalSubType: JournalTypeId (a lookup, not nillable), Name, Description.
  A new org holds the journal types Loyalty Management provides: Accrual and Redemption (the
  two the Connect API's "View Transaction Journal History" input names) and Manual Points
  Adjustment (a default type the JournalType page lists).
- TransactionJournal: ActivityDate (dateTime, required), MemberId, LoyaltyProgramId,
  JournalTypeId, JournalSubTypeId (the names the "Loyalty Engine Input Map" example uses),
  Status (Cancelled, Error, Pending, Processed: ConnectApi.JournalStatusResource). The
  reference lists JournalTypeId as nillable, but a journal without one is neither processed
  ("Run Program Process for Transaction Journal": "the journal type must be specified") nor
  found by the member's transaction history, so the connector always sets it. A reference to
  a record that does not exist (or of another object) is refused, as for every lookup.

The ``L2L_*__c`` External ID fields the connector upserts by are not here: as in a real org,
``lead2loyalty fields deploy`` creates them through the Tooling API (TransactionJournal allows
up to 50 custom fields, per its reference page) and grants them in its permission set.
"""

from __future__ import annotations

from localorg.schema import FieldInfo, _pick, _ref, _s, _system

JOURNAL_STATUSES = ("Cancelled", "Error", "Pending", "Processed")
CURRENCY_TYPES = ("NonQualifying", "Qualifying")
MEMBER_STATUSES = ("Active", "Inactive", "Custom")
#: The journal types a new Loyalty Management org holds (see the module docstring).
DEFAULT_JOURNAL_TYPES = ("Accrual", "Redemption", "Manual Points Adjustment")


def loyalty_objects() -> list[tuple[str, str, list[FieldInfo]]]:
    """(name, plural label, fields) of each Loyalty Management object localorg serves."""
    return [
        (
            "JournalType",
            "Journal Types",
            [
                *_system(),
                _s("Name", 255, required=True),
                _pick("ProcessType", "Loyalty", required=True, default="Loyalty"),
                FieldInfo("Description", "textarea", length=32000),
            ],
        ),
        (
            "JournalSubType",
            "Journal Subtypes",
            [
                *_system(owner=False),
                _ref("JournalTypeId", "JournalType", required=True),
                _s("Name", 255, required=True),
                FieldInfo("Description", "textarea", length=32000),
            ],
        ),
        (
            "LoyaltyProgram",
            "Loyalty Programs",
            [
                *_system(),
                _s("Name", 80, required=True),
                _s("Status", 40),
            ],
        ),
        (
            "LoyaltyProgramMember",
            "Loyalty Program Members",
            [
                *_system(),
                _ref("ProgramId", "LoyaltyProgram", rel="Program", required=True),
                _ref("ContactId", "Contact"),
                _ref("AccountId", "Account"),
                _s("MembershipNumber", 255, required=True),
                _pick("MemberStatus", *MEMBER_STATUSES),
                FieldInfo("EnrollmentDate", "date", required=True),
                _pick("MemberType", "Individual", "Corporate"),
            ],
        ),
        (
            "LoyaltyProgramCurrency",
            "Loyalty Program Currencies",
            [
                *_system(owner=False),
                _ref("LoyaltyProgramId", "LoyaltyProgram", required=True),
                _s("Name", 80, required=True),
                _pick("CurrencyType", *CURRENCY_TYPES, required=True),
                FieldInfo("IsActive", "boolean", default=False),
                FieldInfo("IsPrimary", "boolean", default=False),
            ],
        ),
        (
            "LoyaltyMemberCurrency",
            "Loyalty Member Currencies",
            [
                *_system(owner=False),
                _s("Name", 80, required=True),
                _ref("LoyaltyMemberId", "LoyaltyProgramMember", required=True),
                _ref("LoyaltyProgramCurrencyId", "LoyaltyProgramCurrency", required=True),
                FieldInfo("PointsBalance", "double", precision=18, scale=4),
                FieldInfo("TotalPointsAccrued", "double", precision=18, scale=4),
                FieldInfo("TotalPointsRedeemed", "double", precision=18, scale=4),
                FieldInfo("TotalPointsExpired", "double", precision=18, scale=4),
            ],
        ),
        (
            "TransactionJournal",
            "Transaction Journals",
            [
                *_system(),
                FieldInfo("ActivityDate", "datetime", required=True),
                _ref("MemberId", "LoyaltyProgramMember", rel="Member", required=True),
                _ref("LoyaltyProgramId", "LoyaltyProgram", required=True),
                _ref("JournalTypeId", "JournalType"),
                _ref("JournalSubTypeId", "JournalSubType"),
                _pick("Status", *JOURNAL_STATUSES, default="Pending"),
            ],
        ),
    ]


def journal_type_rows() -> list[dict[str, object]]:
    """The JournalType rows of a new Loyalty Management org (storage form, no system fields)."""
    return [{"Name": name, "ProcessType": "Loyalty"} for name in DEFAULT_JOURNAL_TYPES]
