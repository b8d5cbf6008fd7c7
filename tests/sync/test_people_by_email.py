"""``realtime.people_by_email``: the marks' people, read by their emails alone, bound as identity
resolution binds them over the whole org (``resolve.email_index``). On every backend."""

from __future__ import annotations

from connector.store import Store
from connector.sync.realtime import KIND_OBJECT, people_by_email
from connector.sync.resolve import email_index


def _whole_org(store: Store, emails: list[str]) -> dict[str, list[tuple[str, str]]]:
    """The same answer from every Contact and Lead (what a pass read before)."""
    contacts = store.records.frame("Contact", ["Id", "Email"])
    leads = store.records.frame("Lead", ["Id", "Email", "IsConverted", "ConvertedContactId"])
    index = email_index(contacts, leads)
    found = index[index["email"].isin(set(emails))]
    out: dict[str, set[tuple[str, str]]] = {}
    for email, kind, record_id in zip(
        found["email"], found["kind"], found["record_id"], strict=True
    ):
        out.setdefault(str(email), set()).add((KIND_OBJECT[kind], str(record_id)))
    return {email: sorted(people) for email, people in out.items()}


def test_people_are_read_by_their_emails_and_bound_as_over_the_whole_org(store: Store) -> None:
    contacts = [
        {"Id": "003A", "Email": " Ann@Example.com ", "IsDeleted": False},  # stored untrimmed
        {"Id": "003B", "Email": "bob@example.com", "IsDeleted": False},
        {"Id": "003C", "Email": "gone@example.com", "IsDeleted": True},  # deleted: nobody
        {"Id": "003D", "Email": "dee@example.com", "IsDeleted": False},
    ]
    leads = [
        # a Lead with a Contact's email: the Contact wins
        {"Id": "00QA", "Email": "ann@example.com", "IsConverted": False, "IsDeleted": False},
        # converted: its email is its Contact's person
        {
            "Id": "00QB",
            "Email": "carol@example.com",
            "IsConverted": True,
            "ConvertedContactId": "003B",
            "IsDeleted": False,
        },
        {"Id": "00QC", "Email": "DAN@example.com", "IsConverted": False, "IsDeleted": False},
        {"Id": "00QD", "Email": "gone@example.com", "IsConverted": False, "IsDeleted": False},
    ]
    store.records.upsert("Contact", contacts)
    store.records.upsert("Lead", leads)
    for name in ("Contact", "Lead"):  # what a sync makes: the trimmed, lower-case email index
        store.records.index(name, [], emails=True)
    marks = [
        "ann@example.com",
        "carol@example.com",
        "dan@example.com",
        "gone@example.com",
        "nobody@example.com",
    ]

    got = people_by_email(store, marks)

    assert got == {
        "ann@example.com": [("Contact", "003A")],
        "carol@example.com": [("Contact", "003B")],
        "dan@example.com": [("Lead", "00QC")],
        "gone@example.com": [("Lead", "00QD")],
    }
    assert got == _whole_org(store, marks)
    assert people_by_email(store, []) == {}
