"""A run of some people scores their messages, the messages of the Cases they wrote on and the
admins' corrections, not every message of the org (connector/sync/texts_stage.py,
``_the_runs``); the values of its people and Cases equal those a run of everyone computes."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import yaml

from connector.sync.resolve import Resolved
from connector.sync.streams import OVERRIDE_FIELD
from connector.sync.texts_stage import (
    CASE_COLUMNS,
    EMAIL_COLUMNS,
    TASK_COLUMNS,
    TextRecords,
    message_frame,
    texts_values,
)
from connector.texts.text_config import TextsConfig
from tests.support import REPO

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
ANN, BOB, CY, DEE = (f"003{n:015d}" for n in range(1, 5))
CASE = "500000000000001AAA"


def _config() -> TextsConfig:
    raw = yaml.safe_load((REPO / "models" / "texts.yaml").read_text(encoding="utf-8"))
    return TextsConfig.model_validate(raw)


def _frame(columns: tuple[str, ...], rows: list[dict[str, object]]) -> pd.DataFrame:
    return pd.DataFrame([{c: row.get(c) for c in columns} for row in rows], columns=list(columns))


def _records() -> TextRecords:
    emails = _frame(
        EMAIL_COLUMNS,
        [
            # Bob writes on Ann's Case: the Case's values read his message too
            {"Id": "02s1", "Subject": "Re: order", "TextBody": "This is awful, refund me now",
             "Incoming": True, "RelatedToId": BOB, "ParentId": CASE,
             "MessageDate": "2026-11-30T10:00:00Z"},
            {"Id": "02s2", "Subject": "Thanks", "TextBody": "Lovely shoes, I am very happy",
             "Incoming": True, "RelatedToId": CY, "MessageDate": "2026-11-29T10:00:00Z"},
            # Dee's message corrected by an admin: it refines the model every message is scored with
            {"Id": "02s3", "Subject": "Hmm", "TextBody": "the parcel came on time I guess",
             "Incoming": True, "RelatedToId": DEE, "MessageDate": "2026-11-28T10:00:00Z",
             OVERRIDE_FIELD: "Negative"},
        ],
    )  # fmt: skip
    tasks = _frame(
        TASK_COLUMNS,
        [{"Id": "00T1", "Subject": "Call", "Description": "Ann: where is my order? late again",
          "WhoId": ANN, "ActivityDate": "2026-11-30"}],
    )  # fmt: skip
    cases = _frame(
        CASE_COLUMNS,
        [{"Id": CASE, "Subject": "Broken zip", "Description": "The zip broke on day one",
          "ContactId": ANN, "CreatedDate": "2026-11-27T09:00:00Z"}],
    )  # fmt: skip
    return TextRecords(emails=emails, tasks=tasks, cases=cases)


def _resolved(people: frozenset[tuple[str, str]] | None) -> Resolved:
    contacts = pd.DataFrame({"Id": [ANN, BOB, CY, DEE], "Email": None})
    empty = pd.DataFrame()
    events = pd.DataFrame(
        columns=["object", "record_id", "name", "occurred_at", "properties", "source"]
    )
    return Resolved(NOW, contacts, empty, empty, empty, events, people=people)


def test_a_run_of_some_people_reads_their_messages_their_cases_and_the_corrections() -> None:
    config, records = _config(), _records()
    everyone = message_frame(records, _resolved(None), config)
    assert set(everyone["message_id"]) == {"02s1", "02s2", "02s3", "00T1", CASE}
    ann = message_frame(records, _resolved(frozenset({("Contact", ANN)})), config)
    # Ann's Task and Case, Bob's reply on her Case, Dee's correction; not Cy's thanks
    assert set(ann["message_id"]) == {"00T1", CASE, "02s1", "02s3"}
    assert ann["text"].map(bool).all()


def test_the_run_of_some_people_computes_the_values_a_run_of_everyone_does() -> None:
    config, records = _config(), _records()
    full = texts_values(_resolved(None), config, records)
    for who in (ANN, BOB, CY):
        resolved = _resolved(frozenset({("Contact", who)}))
        some = texts_values(resolved, config, records)
        keys = [k for k in some.values.index if k in {("Contact", who), *some.owned}]
        assert ("Contact", who) in keys
        # (a run without Cases has no Case columns: theirs are empty on its people anyway)
        mine = some.values.loc[keys].reindex(columns=full.values.columns).sort_index()
        pd.testing.assert_frame_equal(mine, full.values.loc[keys].sort_index(), check_dtype=False)
    # Ann's Case is hers and Bob's: a run of either owns it and computes its values
    assert texts_values(_resolved(frozenset({("Contact", BOB)})), config, records).owned == {
        ("Case", CASE)
    }
