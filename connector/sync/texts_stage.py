"""The texts stage of Compute: what people wrote (incoming EmailMessages, Tasks with notes,
Cases, text events), resolved to their person, scored by the pure models of
``connector.texts``, into values on their records and events for the intent score.

Who wrote a message, first that answers:

- EmailMessage: ``RelatedToId`` when it is a Contact (003) or Lead (00Q) (Enhanced Email);
  else the ``WhoId`` of its activity Task (``ActivityId``); else the ``ContactId`` of its Case
  (``ParentId``, Email-to-Case); else the Contact or Lead whose Email is its ``FromAddress``.
  Without Enhanced Email an EmailMessage has no ``RelatedToId`` (only Email-to-Case keeps
  EmailMessage) and the Task of ``ActivityId`` is what names the person: both modes are read
  (``localorg serve --enhanced-email off``; tests/sync/test_texts_sync.py).
  Only incoming messages (``Incoming``) are what a person wrote. Field names and relationships:
  Salesforce Field Reference, "EmailMessage" (ActivityId, ParentId "Parent Case", RelatedToId,
  Incoming, MessageDate, FromAddress, TextBody).
- Task: ``WhoId`` (Contact or Lead); only Tasks with a Description (the rep's note of what was
  said), not a Task that stands for a pulled EmailMessage (it would count twice), and not a
  Task one of the connector's Flows made (:data:`OWN_TASK_PATTERN`).
- Case: ``ContactId``; the text is the Subject and the Description.
- A text event: its resolved person (the Resolve step's ``object``/``record_id``).

A converted Lead's messages follow its ConvertedContactId, as its events do.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from connector.mapping.deploy import ExtraNeeds
from connector.salesforce.sfdx import OWN_TASKS
from connector.store import Store
from connector.sync.effects import Effects, MomentCall
from connector.sync.resolve import Resolved, email_index, normalise_email
from connector.sync.streams import INTENT_OVERRIDE_FIELD, OVERRIDE_FIELD
from connector.texts.clean import message_text
from connector.texts.embedding import shipped_embedding
from connector.texts.intent_classifier import IntentClassifier
from connector.texts.message_intents import IntentMatcher
from connector.texts.scored import (
    MESSAGE_COLUMNS,
    case_values,
    person_values,
    score_messages,
    text_events,
)
from connector.texts.sentiment import LABELS, LinearSentiment, sentiment_model
from connector.texts.text_config import TextsConfig

TEXT_OBJECTS = ("EmailMessage", "Task", "Case")
EMAIL_COLUMNS = (
    "Id",
    "Subject",
    "TextBody",
    "FromAddress",
    "MessageDate",
    "CreatedDate",
    "Incoming",
    "RelatedToId",
    "ActivityId",
    "ParentId",
    OVERRIDE_FIELD,
    INTENT_OVERRIDE_FIELD,
)
TASK_COLUMNS = ("Id", "Subject", "Description", "WhoId", "ActivityDate", "CreatedDate")
CASE_COLUMNS = (
    "Id",
    "Subject",
    "Description",
    "ContactId",
    "Origin",
    "CreatedDate",
    OVERRIDE_FIELD,
    INTENT_OVERRIDE_FIELD,
)
_PREFIX = {"003": "Contact", "00Q": "Lead"}
#: How the Tasks the connector's own Flows make begin (connector.salesforce.sfdx): what the
#: connector told a rep, not what the person said, so never read as their message (a
#: fulfilment Task on a Contact, read as a negative reply, moved its sentiment and intent).
OWN_TASK_PATTERN = re.compile(OWN_TASKS, re.DOTALL)
#: The moment of a negative message from a valued customer; its fired set is keyed by message.
UNHAPPY_MOMENT = "unhappy_valued"
#: How much of the message the Flow gets: a long email's opening, not its whole text (the
#: message itself stays on the record; the Flow's Task only points the rep at it).
REPLY_EXCERPT = 1000


def _override_field(obj: str) -> dict[str, Any]:
    # a restricted picklist (Tooling API CustomField body, as connector.mapping.deploy writes)
    labels = ["Positive", "Neutral", "Negative"]
    return {
        "FullName": f"{obj}.{OVERRIDE_FIELD}",
        "Metadata": {
            "label": "L2L Sentiment Override",
            "type": "Picklist",
            "description": "Set when lead2loyalty read this message's tone wrong; the next sync "
            "learns from it.",
            "valueSet": {
                "restricted": True,
                "valueSetDefinition": {
                    "sorted": False,
                    "value": [{"fullName": x, "default": False, "label": x} for x in labels],
                },
            },
        },
    }


#: The intent override's value for "this message asks for nothing".
NO_INTENT = "None"


def _intent_override_field(obj: str, config: TextsConfig) -> dict[str, Any]:
    # the admin's intent of a message: the catalog's labels and None (restricted picklist)
    labels = [*(intent.label for intent in config.intents), NO_INTENT]
    return {
        "FullName": f"{obj}.{INTENT_OVERRIDE_FIELD}",
        "Metadata": {
            "label": "L2L Intent Override",
            "type": "Picklist",
            "description": "Set to what this message really asks for; `lead2loyalty fit texts` "
            "learns the intents from these labels.",
            "valueSet": {
                "restricted": True,
                "valueSetDefinition": {
                    "sorted": False,
                    "value": [{"fullName": x, "default": False, "label": x} for x in labels],
                },
            },
        },
    }


def texts_needs(extra: ExtraNeeds, config: TextsConfig | None) -> ExtraNeeds:
    """``extra`` plus what the texts stage needs of the org when enabled, for ``fields
    deploy``, ``fields export`` and ``doctor``: Read on EmailMessage, Task and Case, and the
    override picklists (sentiment, intent) on EmailMessage and Case."""
    if config is None:
        return extra
    objects = ("EmailMessage", "Case")
    return replace(
        extra,
        definitions=(
            *extra.definitions,
            *(_override_field(o) for o in objects),
            *(_intent_override_field(o, config) for o in objects),
        ),
        read_objects=(*extra.read_objects, *TEXT_OBJECTS),
    )


@dataclass(frozen=True)
class TextRecords:
    """The pulled records the stage reads (frames with the columns above)."""

    emails: pd.DataFrame
    tasks: pd.DataFrame
    cases: pd.DataFrame
    #: names of the products the org sells (Product2.Name, when pulled): entities to find
    products: tuple[str, ...] = ()


#: What a run of some people looks its messages up by (indexed at the pull, beside the
#: Orders' lookups): who a message names, its Task and Case, and the admins' corrections.
TEXT_LOOKUPS = {
    "EmailMessage": ("RelatedToId", "ActivityId", "ParentId", OVERRIDE_FIELD),
    "Task": ("WhoId",),
    "Case": ("ContactId", OVERRIDE_FIELD),
}
#: The column of each text object an email address is looked up in (the sender's).
SENDER_COLUMN = {"EmailMessage": "FromAddress"}


def load_records(store: Store, resolved: Resolved) -> TextRecords:
    """The pulled EmailMessages, Tasks and Cases the stage reads: every one in a run of
    everyone; in a run of some people, by indexed lookups, those that can be theirs or that
    :func:`_the_runs` keeps, each with what resolves it as a read of everything would.

    A message is a person's by the first rule of the module docstring that answers, so a run
    reads, for its people (their Leads converted to their Contacts count as them): the Tasks
    naming them; the EmailMessages naming them, sent from their addresses or standing for
    those Tasks; the Cases naming them or holding those messages, and every message on those
    Cases; the corrected messages and Cases (they refine the model every message is scored
    with); then the Task and Case of each EmailMessage read, which decide whose it is. A
    message read here that another rule gives to someone else is dropped by ``_the_runs``, as
    before. Before this a real-time pass read every message of the org (Tasks, the largest
    table of many orgs, with their notes), whoever it was for."""
    records = store.records
    names = records.frame("Product2", ["Id", "Name"])
    products = tuple(sorted(set(names["Name"].dropna().astype(str)))) if len(names) else ()
    email_columns, task_columns, case_columns = EMAIL_COLUMNS, TASK_COLUMNS, CASE_COLUMNS
    if resolved.people is None:
        return TextRecords(
            emails=records.frame("EmailMessage", email_columns),
            tasks=records.frame("Task", task_columns),
            cases=records.frame("Case", case_columns),
            products=products,
        )
    contacts = sorted(rid for obj, rid in resolved.people if obj == "Contact")
    leads = sorted(rid for obj, rid in resolved.people if obj == "Lead")
    who = {*contacts, *leads}
    read_leads = resolved.leads
    if len(read_leads) and "ConvertedContactId" in read_leads:
        theirs = read_leads["IsConverted"].eq(True) & read_leads["ConvertedContactId"].astype(
            str
        ).isin(set(contacts))
        who |= set(read_leads.loc[theirs, "Id"].astype(str).tolist())
    addresses = set(
        normalise_email(
            pd.concat(
                [
                    resolved.contacts.loc[resolved.contacts["Id"].astype(str).isin(who), "Email"],
                    read_leads.loc[read_leads["Id"].astype(str).isin(who), "Email"]
                    if len(read_leads)
                    else pd.Series(dtype=object),
                ],
                ignore_index=True,
            )
        )
        .dropna()
        .tolist()
    )
    named = sorted(who)

    def ids(frame: pd.DataFrame, column: str) -> list[str]:
        return sorted(set(frame[column].dropna().astype(str).tolist())) if len(frame) else []

    def united(*frames: pd.DataFrame) -> pd.DataFrame:
        parts = [f for f in frames if len(f)]
        if not parts:
            return frames[0]
        return pd.concat(parts, ignore_index=True).drop_duplicates("Id").reset_index(drop=True)

    tasks = records.frame("Task", task_columns, any_of={"WhoId": named})
    sent = united(
        records.frame(
            "EmailMessage",
            email_columns,
            any_of={"RelatedToId": named, "ActivityId": ids(tasks, "Id")},
        ),
        records.with_emails(
            "EmailMessage", email_columns, addresses, email_column=SENDER_COLUMN["EmailMessage"]
        ),
    )
    # the Cases they wrote on, and every message on them (a Case's values read them all)
    wrote_on = records.frame(
        "Case", case_columns, any_of={"ContactId": named, "Id": ids(sent, "ParentId")}
    )
    emails = united(
        sent,
        records.frame("EmailMessage", email_columns, any_of={"ParentId": ids(wrote_on, "Id")}),
        records.with_text("EmailMessage", email_columns, OVERRIDE_FIELD),
    )
    # what decides whose each message read is: its Case and its Task
    cases = united(
        wrote_on,
        records.with_text("Case", case_columns, OVERRIDE_FIELD),
        records.frame("Case", case_columns, any_of={"Id": ids(emails, "ParentId")}),
    )
    tasks = united(
        tasks, records.frame("Task", task_columns, any_of={"Id": ids(emails, "ActivityId")})
    )
    return TextRecords(emails=emails, tasks=tasks, cases=cases, products=products)


def _person(ids: pd.Series, converted: dict[str, str]) -> tuple[pd.Series, pd.Series]:
    # (object, record_id) of Contact/Lead ids by key prefix; converted Leads -> their Contact
    text = ids.astype("object").where(ids.notna(), None)
    kind = text.map(lambda v: _PREFIX.get(str(v)[:3]) if isinstance(v, str) else None)
    record = text.where(kind.notna(), None)
    is_converted = record.isin(list(converted))
    record = record.where(~is_converted, record.map(converted))
    kind = kind.where(~is_converted, "Contact")
    return kind, record


def _when(*columns: pd.Series) -> pd.Series:
    out = pd.Series(pd.NaT, index=columns[0].index, dtype="datetime64[ns, UTC]")
    for column in columns:
        out = out.fillna(pd.to_datetime(column, utc=True, errors="coerce", format="ISO8601"))
    return out


def message_frame(records: TextRecords, resolved: Resolved, config: TextsConfig) -> pd.DataFrame:
    """One row per message a person wrote, resolved (``MESSAGE_COLUMNS``)."""
    leads = resolved.leads
    converted: dict[str, str] = {}
    if len(leads) and "ConvertedContactId" in leads:
        done = leads[leads["IsConverted"].eq(True) & leads["ConvertedContactId"].notna()]
        converted = dict(
            zip(done["Id"].astype(str), done["ConvertedContactId"].astype(str), strict=True)
        )
    frames: list[pd.DataFrame] = []
    tasks, cases, emails = records.tasks, records.cases, records.emails

    if len(emails):
        emails = emails[emails["Incoming"].eq(True)]
        kind, record = _person(emails["RelatedToId"], converted)
        task_who = tasks.set_index("Id")["WhoId"] if len(tasks) else pd.Series(dtype=object)
        via_task = _person(emails["ActivityId"].map(task_who), converted)
        case_contact = cases.set_index("Id")["ContactId"] if len(cases) else pd.Series(dtype=object)
        via_case = _person(emails["ParentId"].map(case_contact), converted)
        index = email_index(resolved.contacts, leads)
        by_email = index.set_index("email") if len(index) else None
        for other_kind, other_record in (via_task, via_case):
            kind = kind.fillna(other_kind)
            record = record.fillna(other_record)
        if by_email is not None:
            sender = normalise_email(emails["FromAddress"])
            kind = kind.fillna(sender.map(by_email["kind"]).str.capitalize())
            record = record.fillna(sender.map(by_email["record_id"]))
        frames.append(
            pd.DataFrame(
                {
                    "message_id": emails["Id"].astype(str),
                    "source": "EmailMessage",
                    "object": kind,
                    "record_id": record,
                    "case_id": emails["ParentId"]
                    .astype("object")
                    .where(emails["ParentId"].notna(), None),
                    "at": _when(emails["MessageDate"], emails["CreatedDate"]),
                    "override": _override(emails),
                    "intent_override": _intent_override(emails, config),
                    "subject": emails["Subject"],
                    "body": emails["TextBody"],
                }
            )
        )
    if len(tasks):
        activities = (
            set(records.emails["ActivityId"].dropna().astype(str)) if len(records.emails) else set()
        )
        noted = tasks[
            tasks["Description"].notna()
            & ~tasks["Id"].astype(str).isin(activities)
            & ~tasks["Description"].astype(str).str.fullmatch(OWN_TASK_PATTERN)
        ]
        kind, record = _person(noted["WhoId"], converted)
        frames.append(
            pd.DataFrame(
                {
                    "message_id": noted["Id"].astype(str),
                    "source": "Task",
                    "object": kind,
                    "record_id": record,
                    "case_id": None,
                    "at": _when(noted["ActivityDate"], noted["CreatedDate"]),
                    "subject": noted["Subject"],
                    "body": noted["Description"],
                }
            )
        )
    if len(cases):
        kind, record = _person(cases["ContactId"], converted)
        frames.append(
            pd.DataFrame(
                {
                    "message_id": cases["Id"].astype(str),
                    "source": "Case",
                    "object": kind,
                    "record_id": record,
                    "case_id": cases["Id"].astype(str),
                    "at": _when(cases["CreatedDate"]),
                    "override": _override(cases),
                    "intent_override": _intent_override(cases, config),
                    "subject": cases["Subject"],
                    "body": cases["Description"],
                }
            )
        )
    frames.append(_event_messages(resolved.events, config))
    frames = [f for f in frames if len(f)]
    extra = ["override", "intent_override"]
    if not frames:
        return pd.DataFrame(columns=[*MESSAGE_COLUMNS, *extra])
    out = _the_runs(pd.concat(frames, ignore_index=True), resolved)
    for column in [*extra, "text", "subject", "body"]:
        if column not in out:
            out[column] = None
    # cleaned once the run's messages are chosen (the events' texts are their own already)
    raw = out["text"].isna().to_numpy()
    parts = out.loc[raw, ["subject", "body"]].astype(object)
    parts = parts.where(parts.notna(), None)
    out.loc[raw, "text"] = pd.Series(
        [message_text(s, b) for s, b in zip(parts["subject"], parts["body"], strict=True)],
        index=parts.index,
        dtype=object,
    )
    return out[[*MESSAGE_COLUMNS, *extra]].reset_index(drop=True)


def _the_runs(messages: pd.DataFrame, resolved: Resolved) -> pd.DataFrame:
    """The messages a run reads: on a run of everyone all of them; on a run of some people
    their own, every message on a Case one of them wrote on (a Case's values read all of its
    messages), and the admins' corrected ones (which refine the sentiment model every message
    is scored with). A person's and a Case's values read no other message, and each message is
    scored alone, so the values of the run's people and Cases are those a run of everyone
    computes: scoring every message of the org for a preview of five people cost about 1 s of
    CPU on the medium seed."""
    if resolved.people is None or not len(messages):
        return messages
    people = resolved.people
    keys = zip(messages["object"], messages["record_id"], strict=True)
    mine = np.fromiter((key in people for key in keys), dtype=bool, count=len(messages))
    on_case = messages["case_id"]
    theirs = on_case.isin(set(on_case[mine & on_case.notna().to_numpy()]))
    corrected = (
        messages["override"].notna() if "override" in messages else pd.Series(False, messages.index)
    )
    return messages[mine | theirs.to_numpy() | corrected.to_numpy()]


def _override(frame: pd.DataFrame) -> pd.Series:
    # the admin's label, lower-case as the models name them; anything else is no correction
    if OVERRIDE_FIELD not in frame:
        return pd.Series(None, index=frame.index, dtype="object")
    label = frame[OVERRIDE_FIELD].astype("string").str.strip().str.lower()
    return label.where(label.isin(LABELS), None).astype("object")


def _intent_override(frame: pd.DataFrame, config: TextsConfig) -> pd.Series:
    # the admin's intent: an intent's name, "" for None, missing when not set (or not a label)
    if INTENT_OVERRIDE_FIELD not in frame:
        return pd.Series(None, index=frame.index, dtype="object")
    names = {intent.label.lower(): intent.name for intent in config.intents}
    names[NO_INTENT.lower()] = ""
    label = frame[INTENT_OVERRIDE_FIELD].astype("string").str.strip().str.lower()
    return label.map(names).astype("object").where(label.isin(list(names)), None)


def intent_labels(records: TextRecords, config: TextsConfig) -> tuple[list[str], list[list[str]]]:
    """The texts and intents the admin labelled (``L2L_Intent_Override__c``) on the pulled
    EmailMessages and Cases: what ``fit texts`` learns from (the person does not matter)."""
    texts: list[str] = []
    labels: list[list[str]] = []
    for frame, body in ((records.emails, "TextBody"), (records.cases, "Description")):
        if not len(frame) or INTENT_OVERRIDE_FIELD not in frame:
            continue
        chosen = _intent_override(frame, config)
        labelled = frame[chosen.notna()]
        for subject, text, name in zip(
            labelled["Subject"], labelled[body], chosen[chosen.notna()], strict=True
        ):
            texts.append(message_text(subject, text))
            labels.append([name] if name else [])
    return texts, labels


def _event_messages(events: pd.DataFrame, config: TextsConfig) -> pd.DataFrame:
    # track events whose properties hold a text (a review, a survey answer, a reply)
    chosen = events[events["name"].isin(config.text_events) & events["object"].notna()]
    if chosen.empty:
        return pd.DataFrame(columns=list(MESSAGE_COLUMNS))

    def text_of(raw: Any) -> str:
        try:
            props = json.loads(raw) if isinstance(raw, str) else (raw or {})
        except ValueError:
            return ""
        for name in config.text_properties:
            value = props.get(name) if isinstance(props, dict) else None
            if isinstance(value, str) and value.strip():
                return message_text(None, value)
        return ""

    return pd.DataFrame(
        {
            "message_id": (chosen["source"].astype(str) + ":" + chosen["delivery_id"].astype(str)),
            "source": "event",
            "object": chosen["object"],
            "record_id": chosen["record_id"],
            "case_id": None,
            "at": _when(chosen["occurred_at"]),
            "text": chosen["properties"].map(text_of),
        }
    )


@cache
def _matcher_of(config_json: str) -> IntentMatcher:
    # fitted once per intent catalog (the examples' vectorizer), not once per run
    config = TextsConfig.model_validate_json(config_json)
    return IntentMatcher(config, embedding=_embedding(config))


def _embedding(config: TextsConfig) -> Any:
    return shipped_embedding() if config.similarity == "lsa" else None


def matcher(config: TextsConfig, classifier: IntentClassifier | None = None) -> IntentMatcher:
    """The intents of ``config``: zero-shot, and the learnt ones by ``classifier``."""
    if classifier is None:
        return _matcher_of(config.model_dump_json())
    return IntentMatcher(config, classifier, _embedding(config))


@dataclass
class TextsResult:
    """What the texts stage computed for a run.

    - ``values``: per person (Contact, Lead) and per Case, indexed (object, record_id).
    - ``events``: the events the intent score reads (``scored.text_events``).
    - ``record``: what the stage did (for the run record).
    - ``owned``: the Cases whose values belong to the run: a Case with a message of one of the
      run's people (every scored Case on a run of everyone).
    - ``scored``: the scored messages (``scored.score_messages``), for the moments.
    """

    values: pd.DataFrame
    events: pd.DataFrame
    record: dict[str, Any]
    owned: frozenset[tuple[str, str]]
    scored: pd.DataFrame


def texts_values(
    resolved: Resolved,
    config: TextsConfig,
    records: TextRecords,
    classifier: IntentClassifier | None = None,
) -> TextsResult:
    """Score the run's messages into values on people and Cases, and the intent's events;
    ``classifier``: the intents ``fit texts`` learnt (models/texts.intents.json), if any."""
    messages = message_frame(records, resolved, config)
    model = sentiment_model(config.sentiment.model)
    # in one order whatever read them (a run of everyone, a run of some people, PostgreSQL's
    # table order): the refined model is then the same to the last bit
    corrected = messages[messages["override"].notna()].sort_values("message_id", kind="stable")
    if len(corrected) and isinstance(model, LinearSentiment):
        # Admins' corrections refine the shipped model for this run's scoring
        # (LinearSentiment.corrected: only the words of the corrected messages move)
        model = model.corrected(corrected["text"].tolist(), corrected["override"].tolist())
    intents = matcher(config, classifier)
    scored = score_messages(messages, config, model, intents, records.products)
    # a corrected message carries the admin's label whatever a model says
    scored["label"] = scored["override"].fillna(scored["label"])
    _apply_intent_overrides(scored, config)
    values = person_values(scored, config, resolved.now)
    cases = case_values(scored, config)
    owned = _owned_cases(scored, resolved)
    record = {
        "model": config.sentiment.model,
        "messages": len(scored),
        "people": len(values),
        "cases": len(cases),
        "negative": int((scored["score"] <= config.sentiment.negative_at).sum())
        if len(scored)
        else 0,
        "with_intent": int(scored["intent"].notna().sum()) if len(scored) else 0,
        "corrections": len(corrected),
        "intent_corrections": int(scored["intent_override"].notna().sum()) if len(scored) else 0,
        "intents_learnt": intents.learnt(),
    }
    frame = pd.concat([values, cases]) if len(cases) else values
    return TextsResult(frame, text_events(scored, config), record, owned, scored)


def _apply_intent_overrides(scored: pd.DataFrame, config: TextsConfig) -> None:
    # an intent the admin set is the message's one intent (None: no intent), confidence 1
    chosen = scored["intent_override"].notna()
    if not chosen.any():
        return
    by_name = {intent.name: intent for intent in config.intents}
    for index in scored.index[chosen]:
        name = scored.at[index, "intent_override"]
        intent = by_name.get(name)
        scored.at[index, "intents"] = [name] if intent else []
        scored.at[index, "intent"] = name if intent else None
        scored.at[index, "intent_label"] = intent.label if intent else None
        scored.at[index, "phrase"] = scored.at[index, "text"] if intent else None
        scored.at[index, "confidence"] = 1.0 if intent else None


def _owned_cases(scored: pd.DataFrame, resolved: Resolved) -> frozenset[tuple[str, str]]:
    on_case = scored[scored["case_id"].notna()]
    if resolved.people is not None:
        keys = zip(on_case["object"], on_case["record_id"], strict=True)
        mine = pd.Series([key in resolved.people for key in keys], index=on_case.index, dtype=bool)
        on_case = on_case[mine]  # a Series mask: an empty list would select columns
    return frozenset(("Case", str(c)) for c in on_case["case_id"])


def valued_people(
    computed: pd.DataFrame, config: TextsConfig, top_tiers: frozenset[str]
) -> dict[tuple[str, str], str]:
    """The people ``unhappy`` counts as valued, (object, record_id) -> why, from the values
    computed before the texts stage: a CLV at least ``clv_at_least``, the higher of
    ``predictions.clv`` (what they will bring) and ``predictions.historic_clv`` (what they
    brought: a big spender the model sees drifting away is the one whose complaint matters
    most), or a ``loyalty.tier`` (any program's, ``loyalty.tier@program`` too) in
    ``top_tiers``."""
    moment = config.unhappy
    why: dict[tuple[str, str], str] = {}
    columns = [c for c in ("predictions.clv", "predictions.historic_clv") if c in computed]
    if moment.clv_at_least is not None and columns:
        clv = computed[columns].apply(pd.to_numeric, errors="coerce").max(axis=1)
        for key, value in clv[clv >= moment.clv_at_least].items():
            why[key] = f"CLV {value:,.0f}"
    if moment.top_tier and top_tiers:
        tiers = [c for c in computed.columns if str(c).split("@", 1)[0] == "loyalty.tier"]
        for column in tiers:
            held = computed[column]
            for key, tier in held[held.isin(list(top_tiers))].items():
                why[key] = "; ".join(x for x in (why.get(key), f"{tier} member") if x)
    return why


def plan_unhappy(
    result: TextsResult,
    config: TextsConfig,
    valued: dict[tuple[str, str], str],
    fired: set[str],
    resolved: Resolved,
) -> tuple[Effects, dict[str, Any]]:
    """The ``unhappy`` moment's Flow calls: one per message at or below
    ``sentiment.negative_at``, written within ``within_days`` by a valued person of the run,
    that the moment has not fired for (``fired``: message ids). A message fires once, ever:
    nothing re-arms it (a later negative message is a message of its own)."""
    effects = Effects()
    moment = config.unhappy
    if moment.flow is None:
        return effects, {}
    scored = result.scored
    since = pd.Timestamp(resolved.now) - pd.Timedelta(days=moment.within_days)
    chosen = scored[
        scored["record_id"].notna()
        & scored["object"].notna()
        & (scored["score"] <= config.sentiment.negative_at)
        & (pd.to_datetime(scored["at"], utc=True) >= since)
        & ~scored["message_id"].astype(str).isin(fired)
    ].sort_values(["at", "message_id"], kind="mergesort")
    for row in chosen.itertuples(index=False):
        key = (str(row.object), str(row.record_id))
        if key not in valued or (resolved.people is not None and key not in resolved.people):
            continue
        effects.calls.append(
            MomentCall(
                moment=UNHAPPY_MOMENT,
                flow=moment.flow,
                inputs={
                    "recordId": key[1],
                    "objectName": key[0],
                    "sentiment": round(float(row.score), 2),
                    "replyText": str(row.text)[:REPLY_EXCERPT],
                    "why": valued[key],
                },
                kind="intent",
                scope=(UNHAPPY_MOMENT, "message"),
                key=str(row.message_id),
                value=round(float(row.score), 2),
            )
        )
    return effects, {"flow": moment.flow, "crossed": len(effects.calls)}


def with_text_events(resolved: Resolved, events: pd.DataFrame) -> Resolved:
    """``resolved`` whose events also hold the texts' events (the intent score reads them)."""
    if events.empty:
        return resolved
    return replace(resolved, events=pd.concat([resolved.events, events], ignore_index=True))
