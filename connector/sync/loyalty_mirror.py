"""Mirror a program's journal into Salesforce Loyalty Management, beside the custom fields.

For a program with ``mirror: loyalty_management``, after the loyalty step has booked its
entries, each run upserts (sObject Collections upsert on an External ID field):

1. the LoyaltyProgram (``L2L_Program_Key__c`` = the program id);
2. its LoyaltyProgramCurrency rows, one per journal currency (``points`` and ``cashback`` are
   NonQualifying, ``qualifying`` is Qualifying; Object Reference, LoyaltyProgramCurrency);
3. a LoyaltyProgramMember for each member with new entries (``ContactId``, or ``AccountId`` for
   a pooled business Account);
4. each NEW journal entry as a TransactionJournal keyed by ``L2L_Journal_Key__c`` = the entry's
   idempotency key, with Status ``Processed``: the entry is already booked here, and a
   ``Pending`` journal is one the Loyalty Management engine would process (and credit) again.
   Its JournalTypeId is the org's JournalType named for its kind (``journal_types`` on the
   program; Accrual, Redemption, else Manual Points Adjustment), read once per run: a journal
   without a type is neither processed nor listed in the member's transaction history, so a
   type the org lacks stops the mirror with the name to create, and nothing is sent;
5. those members' LoyaltyMemberCurrency balances, recomputed from the whole journal.

How far the mirror got is the journal's ``seq`` in ``sync_state`` (``loyalty_mirror.<program>.seq``)
plus a retry list of the entries a pass could not save (``loyalty_mirror_retry``, with the
reason): a run sends the entries after the ``seq`` and those on the list, so a row refused
forever costs one resend per run, not the whole history; upserts by external id make every
repeat harmless. The engine runs
the mirror on every sync (not only when the compute ran), so entries the clock's expiry job or
the loyalty API booked between syncs, and rows a run could not save, go out with the next
sync; while any wait, the run is ``partial`` (:func:`backlog`).

The External ID and record fields of ours on those objects (:data:`MIRROR_FIELDS`) and the
object rights the upserts need are deployed by ``lead2loyalty fields deploy`` when a program
mirrors (:func:`mirror_needs`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pandas as pd

from connector.errors import OutcomeUnknown, SalesforceError
from connector.loyalty.config import LoyaltyConfig, Program
from connector.mapping.deploy import ExtraNeeds
from connector.salesforce.port import COLLECTION_LIMIT, RowResult, SalesforcePort
from connector.store import Store
from connector.store.loyalty import LoyaltyRepository

log = logging.getLogger(__name__)

QUALIFYING = {"qualifying"}
# The retry-list reason of journals sent in a call whose answer was lost.
UNKNOWN_REASON = "OUTCOME_UNKNOWN: sent, answer lost; read back before sending again"


#: The objects the mirror creates and updates (upserts need Create and Edit on each).
MIRROR_OBJECTS = (
    "LoyaltyProgram",
    "LoyaltyProgramCurrency",
    "LoyaltyProgramMember",
    "LoyaltyMemberCurrency",
    "TransactionJournal",
)


def _text(obj: str, field: str, label: str, length: int, key: bool) -> dict[str, Any]:
    meta: dict[str, Any] = {"label": label, "type": "Text", "length": length}
    if key:
        # Unique, case-sensitive External ID: what an upsert matches on (Metadata API
        # "CustomField": externalId, unique, caseSensitive).
        meta |= {"externalId": True, "unique": True, "caseSensitive": True}
    return {"FullName": f"{obj}.{field}", "Metadata": meta}


#: Tooling API CustomField bodies of our fields on the Loyalty Management objects.
MIRROR_FIELDS: tuple[dict[str, Any], ...] = (
    _text("LoyaltyProgram", "L2L_Program_Key__c", "L2L Program Key", 255, True),
    _text("LoyaltyProgramCurrency", "L2L_Currency_Key__c", "L2L Currency Key", 255, True),
    _text("LoyaltyProgramMember", "L2L_Member_Key__c", "L2L Member Key", 255, True),
    _text(
        "LoyaltyMemberCurrency", "L2L_Member_Currency_Key__c", "L2L Member Currency Key", 255, True
    ),
    _text("TransactionJournal", "L2L_Journal_Key__c", "L2L Journal Key", 255, True),
    _text("TransactionJournal", "L2L_Kind__c", "L2L Kind", 40, False),
    _text("TransactionJournal", "L2L_Currency__c", "L2L Currency", 40, False),
    {
        "FullName": "TransactionJournal.L2L_Points__c",
        "Metadata": {"label": "L2L Points", "type": "Number", "precision": 18, "scale": 0},
    },
)


def mirror_needs(loyalty: LoyaltyConfig | None) -> ExtraNeeds:
    """What ``fields deploy`` adds when a program mirrors: our fields on the Loyalty
    Management objects, Create and Edit on those objects, Read on JournalType."""
    if loyalty is None or not any(p.mirror == "loyalty_management" for p in loyalty.programs):
        return ExtraNeeds()
    return ExtraNeeds(
        definitions=MIRROR_FIELDS,
        read_objects=("JournalType",),
        create_objects=MIRROR_OBJECTS,
    )


class JournalTypeMissing(SalesforceError):
    """The org holds no JournalType of a name the program mirrors a journal kind as."""


def journal_type_ids(client: SalesforcePort, program: Program, kinds: set[str]) -> dict[str, str]:
    """Journal kind -> the org's JournalType Id for the ``kinds`` to send (one query)."""
    names = {kind: program.journal_type(kind) for kind in sorted(kinds)}
    rows = client.journal_types(sorted(set(names.values())))
    ids = {str(r["Name"]): str(r["Id"]) for r in rows}
    missing = sorted({name for name in names.values() if name not in ids})
    if missing:
        raise JournalTypeMissing(
            f"the org has no JournalType named {', '.join(repr(m) for m in missing)} "
            f"(program {program.id} mirrors journal kinds as it): create it in Setup "
            "(Loyalty Management, Journal Types) or map the kinds to existing types with "
            "journal_types in models/loyalty.yaml"
        )
    return {kind: ids[name] for kind, name in names.items()}


def backlog(store: Store, books: LoyaltyRepository, program: Program) -> int:
    """How many journal entries of ``program`` are not mirrored yet: booked since the last
    pass, or refused by an earlier one."""
    after = books.count_after(program.id, int(store.records.state(state_key(program)) or 0))
    return after + len(books.mirror_retry(program.id))


def state_key(program: Program) -> str:
    """The ``sync_state`` key holding the last journal ``seq`` mirrored for ``program``."""
    return f"loyalty_mirror.{program.id}.seq"


def member_key(program: Program, member: str) -> str:
    """The member's External ID (and membership number): ``<program>:<Object>:<id>``."""
    return f"{program.id}:{member}"


def member_currencies(journal: pd.DataFrame) -> pd.DataFrame:
    """Per (member, currency): balance (sum of every entry), accrued (accruals), redeemed
    (redemptions net of cancelled ones, positive) and expired (expiries, positive)."""
    points = journal["points"].astype("int64")
    kind = journal["kind"]
    frame = pd.DataFrame(
        {
            "member": journal["member"],
            "currency": journal["currency"],
            "balance": points,
            "accrued": points.where(kind.eq("accrual"), 0),
            "redeemed": -points.where(kind.isin(["redemption", "redemption_cancel"]), 0),
            "expired": -points.where(kind.eq("expiry"), 0),
        }
    )
    return frame.groupby(["member", "currency"], sort=True).sum().reset_index()


def mirror_program(
    client: SalesforcePort,
    store: Store,
    books: LoyaltyRepository,
    program: Program,
    *,
    bulk_threshold: int = 10_000,
) -> dict[str, Any]:
    """Send the entries booked since the last pass and those an earlier pass could not save;
    a record for the run report.

    A refusal of the whole pass (a missing journal type, the program or a currency not saved,
    a transport fault) records nothing, so the next run sends the same again. Rows refused one
    by one (a member whose Contact was deleted, a journal a validation rule rejects) go on the
    retry list with their reason, and the pass moves on: the next run sends the new entries
    and those, never the whole history again.

    An object with more than ``bulk_threshold`` rows to send (a first mirror of a long
    history) goes as one Bulk API 2.0 upsert job instead of one call per 200 rows.
    """
    done = int(store.records.state(state_key(program)) or 0)
    new, last = books.entries_after(program.id, done)
    retry = books.mirror_retry(program.id)
    again = books.entries_by_key(program.id, sorted(set(retry) - set(new["key"].astype(str))))
    send = pd.concat([again, new], ignore_index=True) if len(again) else new
    if send.empty:
        return {"journals": 0}
    try:
        held = _journals_held(client, [k for k, why in retry.items() if why == UNKNOWN_REASON])
    except SalesforceError as exc:
        log.warning("loyalty mirror of %s: read-back failed: %s", program.id, exc)
        return {"journals": 0, "error": str(exc)}
    if held:
        # Saved by a pass whose answer was lost: done, not sent (and saved) again.
        send = send[~send["key"].astype(str).isin(held)].reset_index(drop=True)
        books.mirror_done(program.id, sorted(held), {}, (state_key(program), str(done)))
        if send.empty:
            return {"journals": 0, "read_back": len(held)}
    touched = sorted(set(send["member"].astype(str)))
    mine = books.entries_of(program.id, touched)  # their whole journal, for the balances
    failed: dict[str, str] = {}  # journal key -> why it waits
    try:
        types = journal_type_ids(client, program, set(send["kind"].astype(str)))
        (program_id,) = _upsert_all(
            client,
            "LoyaltyProgram",
            "L2L_Program_Key__c",
            [{"L2L_Program_Key__c": program.id, "Name": program.name, "Status": "Active"}],
        )
        currencies = books.currencies(program.id)
        currency_ids = _upsert_all(
            client,
            "LoyaltyProgramCurrency",
            "L2L_Currency_Key__c",
            [_currency(program, c, program_id, i == 0) for i, c in enumerate(currencies)],
        )
        first_at = mine.groupby("member")["at"].min()
        saved = _upsert(
            client,
            "LoyaltyProgramMember",
            "L2L_Member_Key__c",
            [_member(program, m, program_id, first_at[m]) for m in touched],
            bulk_threshold,
        )
        by_member = {m: r.record_id for m, r in zip(touched, saved, strict=True) if r.success}
        refused = {
            m: _reason("LoyaltyProgramMember", r)
            for m, r in zip(touched, saved, strict=True)
            if not r.success
        }
        rows = send.to_dict("records")
        for entry in rows:  # a refused member's entries wait with it
            if str(entry["member"]) in refused:
                failed[str(entry["key"])] = refused[str(entry["member"])]
        sent = [r for r in rows if by_member.get(str(r["member"]))]
        journals = [
            _journal(r, program_id, str(by_member[str(r["member"])]), types[str(r["kind"])])
            for r in sent
        ]
        try:
            results = _upsert(
                client, "TransactionJournal", "L2L_Journal_Key__c", journals, bulk_threshold
            )
        except OutcomeUnknown as exc:
            # Maybe saved: the next pass reads these keys back before sending any again.
            log.warning("loyalty mirror of %s: journals sent, answer lost: %s", program.id, exc)
            failed.update((str(e["key"]), UNKNOWN_REASON) for e in sent)
            results = []
            sent = []
        for entry, result in zip(sent, results, strict=True):
            if not result.success:
                failed[str(entry["key"])] = _reason("TransactionJournal", result)
        by_currency = dict(zip(currencies, currency_ids, strict=True))
        sums = [r for r in member_currencies(mine).to_dict("records") if by_member.get(r["member"])]
        balances = [
            _balance(program, r, str(by_member[r["member"]]), by_currency[r["currency"]])
            for r in sums
        ]
        results = _upsert(
            client, "LoyaltyMemberCurrency", "L2L_Member_Currency_Key__c", balances, bulk_threshold
        )
        last_key = send.groupby("member")["key"].last()
        for row, result in zip(sums, results, strict=True):
            if not result.success:
                # The member's newest entry waits, so the next pass touches the member again
                # and sends its balances anew.
                failed[str(last_key[row["member"]])] = _reason("LoyaltyMemberCurrency", result)
    except SalesforceError as exc:
        # Nothing recorded: the next run sends the same entries again (upserts, no duplicates).
        log.warning("loyalty mirror of %s failed: %s", program.id, exc)
        return {"journals": 0, "error": str(exc)}
    books.mirror_done(program.id, send["key"].astype(str), failed, (state_key(program), str(last)))
    out: dict[str, Any] = {"journals": len(journals) - _count_failed(journals, failed)}
    out["members"] = len(by_member)
    if failed:
        out["failed_rows"] = len(failed)
        out["error"] = next(iter(failed.values()))
        log.warning(
            "loyalty mirror of %s: %d entries wait for the next run", program.id, len(failed)
        )
    return out


def _journals_held(client: SalesforcePort, keys: list[str]) -> set[str]:
    """Which of ``keys`` the org holds as TransactionJournals (one query per 200 keys)."""
    held: set[str] = set()
    for start in range(0, len(keys), COLLECTION_LIMIT):
        chunk = keys[start : start + COLLECTION_LIMIT]
        rows = client.top_records(
            "TransactionJournal",
            ["L2L_Journal_Key__c"],
            by="Id",
            limit=len(chunk),
            where=[("L2L_Journal_Key__c", "IN", chunk)],
        )
        held.update(str(r["L2L_Journal_Key__c"]) for r in rows)
    return held


def _reason(obj: str, result: RowResult) -> str:
    return f"{obj}: {result.error_code or 'ERROR'}: {result.message or 'not saved'}"


def _count_failed(journals: list[dict[str, Any]], failed: dict[str, str]) -> int:
    return sum(1 for j in journals if j["L2L_Journal_Key__c"] in failed)


def _currency(program: Program, currency: str, program_id: str, primary: bool) -> dict[str, Any]:
    return {
        "L2L_Currency_Key__c": f"{program.id}:{currency}",
        "Name": currency,
        "LoyaltyProgramId": program_id,
        "CurrencyType": "Qualifying" if currency in QUALIFYING else "NonQualifying",
        "IsActive": True,
        "IsPrimary": primary,
    }


def _member(program: Program, member: str, program_id: str, since: Any) -> dict[str, Any]:
    obj, record_id = member.split(":", 1)
    enrolled = pd.Timestamp(since).tz_convert(program.zone).date().isoformat()
    return {
        "L2L_Member_Key__c": member_key(program, member),
        "ProgramId": program_id,
        "MembershipNumber": member_key(program, member),
        "ContactId" if obj == "Contact" else "AccountId": record_id,
        "MemberStatus": "Active",
        "MemberType": "Individual" if obj == "Contact" else "Corporate",
        "EnrollmentDate": enrolled,
    }


def _journal(
    row: dict[str, Any], program_id: str, member_id: str, journal_type_id: str
) -> dict[str, Any]:
    return {
        "L2L_Journal_Key__c": row["key"],
        "LoyaltyProgramId": program_id,
        "MemberId": member_id,
        "JournalTypeId": journal_type_id,
        "ActivityDate": pd.Timestamp(row["at"]).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Status": "Processed",
        "L2L_Kind__c": row["kind"],
        "L2L_Currency__c": row["currency"],
        "L2L_Points__c": int(row["points"]),
    }


def _balance(
    program: Program, row: dict[str, Any], member_id: str, currency_id: str
) -> dict[str, Any]:
    return {
        "L2L_Member_Currency_Key__c": f"{program.id}:{row['member']}:{row['currency']}",
        "Name": str(row["currency"]),
        "LoyaltyMemberId": member_id,
        "LoyaltyProgramCurrencyId": currency_id,
        "PointsBalance": int(row["balance"]),
        "TotalPointsAccrued": int(row["accrued"]),
        "TotalPointsRedeemed": int(row["redeemed"]),
        "TotalPointsExpired": int(row["expired"]),
    }


def _upsert_all(
    client: SalesforcePort, obj: str, field: str, records: list[dict[str, Any]]
) -> list[str]:
    """Upsert rows the whole pass depends on: the saved ids, or a SalesforceError."""
    ids = []
    for record, result in zip(records, _upsert(client, obj, field, records), strict=True):
        if not result.success or not result.record_id:
            raise SalesforceError(f"upsert of {obj} {record[field]} failed: {_reason(obj, result)}")
        ids.append(result.record_id)
    return ids


def _upsert(
    client: SalesforcePort,
    obj: str,
    field: str,
    records: Sequence[dict[str, Any]],
    bulk_threshold: int = 10_000,
) -> list[RowResult]:
    """Upsert in chunks of 200 (or one Bulk API 2.0 job above ``bulk_threshold`` rows); each
    row's outcome in ``records`` order."""
    if len(records) > bulk_threshold:
        return list(client.bulk_upsert(obj, list(records), field))
    results: list[RowResult] = []
    for start in range(0, len(records), COLLECTION_LIMIT):
        chunk = list(records[start : start + COLLECTION_LIMIT])
        results.extend(client.upsert_collection(obj, field, chunk))
    return results
