"""The Loyalty Management objects an org with that feature has (``--loyalty-management``).

Only the fields lead2loyalty mirrors its journal into, as the Loyalty Management Developer
Guide's object reference (developer.salesforce.com/docs/atlas.en-us.loyalty.meta/loyalty/,
pages ``sforce_api_objects_<object>.htm``; field lists also in the Platform Field Reference,
``salesforce-field-reference-<object>``) describes them:

- LoyaltyProgram: Name.  Status: picklist (Active, Draft, ...). Status's values are not
  confirmed from the reference here; localorg keeps it a free string.
- LoyaltyProgramMember: AccountId, ContactId (lookups), EnrollmentDate (date) confirmed in the
  field reference; ProgramId, MembershipNumber, MemberStatus and MemberType are named as we
  remember the object reference and were not confirmed in the excerpts we read.
- LoyaltyProgramCurrency: LoyaltyProgramId, Name, CurrencyType (restricted picklist
  NonQualifying | Qualifying, confirmed), IsActive, IsPrimary (confirmed).
- LoyaltyMemberCurrency: LoyaltyMemberId, LoyaltyProgramCurrencyId (confirmed in the Connect
  API MemberCurrencyOutput as ``loyaltyProgramCurrencyId``), PointsBalance, TotalPointsAccrued,
  TotalPointsRedeemed, TotalPointsExpired (double; named from the object reference, not
  confirmed in the excerpts we read).
- TransactionJournal: ActivityDate (dateTime, required), MemberId, LoyaltyProgramId (the names
  the "Loyalty Engine Input Map" example uses), Status (Cancelled, Error, Pending, Processed:
  ConnectApi.JournalStatusResource). A real org also requires JournalTypeId (a JournalType
  record); localorg leaves it out.

The ``L2L_*__c`` fields are ours: custom fields an admin deploys in a real org (TransactionJournal
allows up to 50 custom fields, per its reference page). Each is an External ID, so the
connector upserts by them and a re-run never duplicates a row.
"""

from __future__ import annotations

from localorg.schema import FieldInfo, _pick, _ref, _s, _system

JOURNAL_STATUSES = ("Cancelled", "Error", "Pending", "Processed")
CURRENCY_TYPES = ("NonQualifying", "Qualifying")
MEMBER_STATUSES = ("Active", "Inactive", "Custom")


def _key(name: str, label: str) -> FieldInfo:
    return _s(name, 255, custom=True, external_id=True, unique=True, label=label)


def loyalty_objects() -> list[tuple[str, str, list[FieldInfo]]]:
    """(name, plural label, fields) of each Loyalty Management object localorg serves."""
    return [
        (
            "LoyaltyProgram",
            "Loyalty Programs",
            [
                *_system(),
                _s("Name", 80, required=True),
                _s("Status", 40),
                _key("L2L_Program_Key__c", "L2L Program Key"),
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
                FieldInfo("EnrollmentDate", "date"),
                _pick("MemberType", "Individual", "Corporate"),
                _key("L2L_Member_Key__c", "L2L Member Key"),
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
                _key("L2L_Currency_Key__c", "L2L Currency Key"),
            ],
        ),
        (
            "LoyaltyMemberCurrency",
            "Loyalty Member Currencies",
            [
                *_system(owner=False),
                _s("Name", 80),
                _ref("LoyaltyMemberId", "LoyaltyProgramMember", required=True),
                _ref("LoyaltyProgramCurrencyId", "LoyaltyProgramCurrency", required=True),
                FieldInfo("PointsBalance", "double", precision=18, scale=4),
                FieldInfo("TotalPointsAccrued", "double", precision=18, scale=4),
                FieldInfo("TotalPointsRedeemed", "double", precision=18, scale=4),
                FieldInfo("TotalPointsExpired", "double", precision=18, scale=4),
                _key("L2L_Member_Currency_Key__c", "L2L Member Currency Key"),
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
                _pick("Status", *JOURNAL_STATUSES, default="Pending"),
                _key("L2L_Journal_Key__c", "L2L Journal Key"),
                _s("L2L_Kind__c", 40, custom=True, label="L2L Kind"),
                _s("L2L_Currency__c", 40, custom=True, label="L2L Currency"),
                FieldInfo("L2L_Points__c", "double", precision=18, scale=0, custom=True),
            ],
        ),
    ]
