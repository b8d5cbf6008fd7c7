"""A run of some people reads the messages that can be theirs, by indexed lookups, not every
EmailMessage, Task and Case of the org (``texts_stage.load_records``); what it reads resolves
each of its messages to the person a read of everything does, so the run scores the same
messages (the values then follow: tests/texts/test_run_messages.py). On both backends."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from connector.store import Store
from connector.sync.resolve import Resolved
from connector.sync.streams import OVERRIDE_FIELD
from connector.sync.texts_stage import (
    SENDER_COLUMN,
    TEXT_LOOKUPS,
    load_records,
    message_frame,
    texts_values,
)
from connector.texts.text_config import TextsConfig
from tests.texts.test_run_messages import _config

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
ANN, BOB, CY, DEE = (f"003{n:015d}" for n in range(1, 5))
LOU = "00Q000000000000001"  # a Lead converted to Ann: her messages are Ann's
LEA = "00Q000000000000002"  # a Lead of her own
ANNS_CASE, CYS_CASE = "500000000000001AAA", "500000000000002AAA"
MAIL = "2026-11-30T10:00:00.000+0000"


def _email(n: int, body: str, **fields: object) -> dict[str, object]:
    return {"Id": f"02s{n:015d}", "Subject": "Re", "TextBody": body, "Incoming": True,
            "MessageDate": MAIL, "CreatedDate": MAIL, **fields}  # fmt: skip


def _seed(store: Store) -> None:
    records = store.records
    records.declare("EmailMessage", {"Incoming": "boolean"})
    records.upsert(
        "Contact",
        [
            {"Id": ANN, "Email": "ann@example.com"},
            {"Id": BOB, "Email": "bob@example.com"},
            {"Id": CY, "Email": "cy@example.com"},
            {"Id": DEE, "Email": "dee@example.com"},
        ],
    )
    records.upsert(
        "Lead",
        [
            {"Id": LOU, "Email": "lou@example.com", "IsConverted": True,
             "ConvertedContactId": ANN},
            {"Id": LEA, "Email": "lea@example.com", "IsConverted": False},
        ],
    )  # fmt: skip
    records.upsert(
        "Task",
        [
            {"Id": "00T000000000000001", "Subject": "Call", "WhoId": ANN,
             "Description": "Ann: where is my order? late again", "CreatedDate": MAIL},
            {"Id": "00T000000000000002", "Subject": "Call", "WhoId": LOU,
             "Description": "Lou asked for a quote", "CreatedDate": MAIL},
            # the activity of an email (enhanced email off): names Ann, is no message itself
            {"Id": "00T000000000000003", "Subject": "Email", "WhoId": ANN,
             "Description": "forwarded", "CreatedDate": MAIL},
            {"Id": "00T000000000000004", "Subject": "Call", "WhoId": CY,
             "Description": "Cy is happy", "CreatedDate": MAIL},
            {"Id": "00T000000000000005", "Subject": "Call", "WhoId": LEA,
             "Description": "Lea wants a demo", "CreatedDate": MAIL},
        ],
    )  # fmt: skip
    records.upsert(
        "Case",
        [
            {"Id": ANNS_CASE, "Subject": "Late", "Description": "My order is late",
             "ContactId": ANN, "CreatedDate": MAIL},
            {"Id": CYS_CASE, "Subject": "Size", "Description": "Wrong size",
             "ContactId": CY, "CreatedDate": MAIL, OVERRIDE_FIELD: "Neutral"},
        ],
    )  # fmt: skip
    records.upsert(
        "EmailMessage",
        [
            _email(1, "Ann writes, named", RelatedToId=ANN),
            _email(2, "Ann writes through her Task", ActivityId="00T000000000000003"),
            _email(3, "Email-to-Case on Ann's Case", ParentId=ANNS_CASE),
            _email(4, "only her address", FromAddress="  Ann@Example.com "),
            # from Ann's address but naming Bob: Bob's
            _email(5, "sent for Bob", FromAddress="ann@example.com", RelatedToId=BOB),
            # Bob on Ann's Case: the Case's values read it
            _email(6, "Bob on Ann's Case", RelatedToId=BOB, ParentId=ANNS_CASE),
            _email(7, "Lou writes", RelatedToId=LOU),
            # corrected by an admin: every run reads it (it refines the model)
            _email(8, "Dee, corrected", RelatedToId=DEE, **{OVERRIDE_FIELD: "Negative"}),
            _email(9, "Cy writes", RelatedToId=CY),
            _email(10, "Cy on his Case", ParentId=CYS_CASE),
            _email(11, "Lea writes", FromAddress="lea@example.com"),
            _email(12, "outgoing to Ann", RelatedToId=ANN, Incoming=False),
        ],
    )
    for name in ("EmailMessage", "Task", "Case"):
        sender = SENDER_COLUMN.get(name, "Email")
        records.index(name, TEXT_LOOKUPS[name], emails=name in SENDER_COLUMN, email_column=sender)


def _resolved(store: Store, people: frozenset[tuple[str, str]] | None) -> Resolved:
    contacts = store.records.frame("Contact", ["Id", "Email", "AccountId"])
    leads = store.records.frame("Lead", ["Id", "Email", "IsConverted", "ConvertedContactId"])
    events = pd.DataFrame(
        columns=["object", "record_id", "name", "occurred_at", "properties", "source"]
    )
    empty = pd.DataFrame()
    return Resolved(NOW, contacts, leads, empty, empty, events, people=people)


def _messages(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("message_id").reset_index(drop=True)


RUNS = [
    frozenset({("Contact", ANN)}),
    frozenset({("Contact", BOB)}),
    frozenset({("Contact", CY)}),
    frozenset({("Lead", LEA)}),
    frozenset({("Contact", DEE), ("Lead", LEA)}),
]


@pytest.mark.parametrize("people", RUNS, ids=lambda p: "+".join(sorted(r for _, r in p)))
def test_a_run_of_some_people_reads_and_scores_the_messages_a_read_of_everything_gives_it(
    store: Store, people: frozenset[tuple[str, str]]
) -> None:
    _seed(store)
    config: TextsConfig = _config()
    everything = load_records(store, _resolved(store, None))
    some = _resolved(store, people)
    theirs = load_records(store, some)
    # read far less than everything, and only what their run keeps
    assert len(theirs.emails) < len(everything.emails)
    pd.testing.assert_frame_equal(
        _messages(message_frame(theirs, some, config)),
        _messages(message_frame(everything, some, config)),
    )
    full = texts_values(some, config, everything)
    mine = texts_values(some, config, theirs)
    assert mine.owned == full.owned
    pd.testing.assert_frame_equal(mine.values.sort_index(), full.values.sort_index())


def test_what_anns_run_reads(store: Store) -> None:
    """Each rule of the module docstring that can make a message Ann's is read, and no one
    else's message but those her run keeps or that decide whose a message is."""
    _seed(store)
    ann = load_records(store, _resolved(store, frozenset({("Contact", ANN)})))
    bodies = set(ann.emails["TextBody"])
    assert {
        "Ann writes, named",
        "Ann writes through her Task",
        "Email-to-Case on Ann's Case",
        "only her address",
        "Bob on Ann's Case",
        "Lou writes",
        "Dee, corrected",
    } <= bodies
    assert not bodies & {"Cy writes", "Lea writes", "Cy on his Case"}
    assert set(ann.tasks["WhoId"]) == {ANN, LOU}
    # Cy's Case is read for its correction, not for a message of Cy's
    assert set(ann.cases["Id"]) == {ANNS_CASE, CYS_CASE}
    assert ann.emails["Incoming"].dtype == bool
