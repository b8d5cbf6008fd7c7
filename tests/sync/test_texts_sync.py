"""What people write, through the whole pipeline against localorg: incoming EmailMessages, a
Task note and a text event are pulled, resolved, scored and land on Leads and Contacts; a quote
request raises the intent score and a furious cancellation lowers it, each in the reasons; a
sync with nothing new scores nothing."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from simple_salesforce.exceptions import SalesforceMalformedRequest

from connector.doctor import run_doctor
from connector.mapping import load_mappings
from connector.mapping.values import KNOWN_VALUES
from connector.reports.texts import (
    evaluate_cases_command,
    evaluate_synced_command,
    fit_texts_command,
)
from connector.salesforce.sfdx import flow_specs, flow_xml
from connector.store import Store
from connector.sync import build_engine
from connector.texts.message_intents import IntentMatcher
from connector.texts.sentiment import default_model
from connector.texts.text_config import TextsConfig
from localorg.features import OrgFeatures
from localorg.flows import FlowEngine
from localorg.org import LocalOrg, load_seed
from localorg.schema import FieldInfo
from localorg.server import Running
from tests.support import REPO, deployed_engine, load_rows, localorg_settings

FIELDS = (
    "L2L_Intent_Score__c",
    "L2L_Intent_Reasons__c",
    "L2L_Last_Reply_Sentiment__c",
    "L2L_Last_Reply_Tone__c",
    "L2L_Sentiment_Trend__c",
    "L2L_Last_Intent__c",
    "L2L_Last_Intent_Phrase__c",
)


def _models(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("intent.yaml", "texts.yaml"):
        shutil.copy(REPO / "models" / name, directory / name)
    return directory


def _values(org: LocalOrg, obj: str, record_id: str) -> dict[str, Any]:
    columns = ", ".join(f'"{f}"' for f in FIELDS)
    row = org.store.execute(f'SELECT {columns} FROM "{obj}" WHERE "Id" = ?', [record_id])[0]
    return dict(zip(FIELDS, row, strict=True))


def _event(name: str, email: str, when: datetime, n: int, **props: Any) -> dict[str, Any]:
    return {
        "source": "test",
        "delivery_id": f"{email}-{n}",
        "type": "track",
        "name": name,
        "occurred_at": when.astimezone(UTC).isoformat(timespec="milliseconds"),
        "email": email,
        "contact_id": None,
        "lead_id": None,
        "anonymous_id": None,
        "properties": json.dumps(props),
    }


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_replies_land_on_the_record_and_move_the_intent_score(
    org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    settings = localorg_settings(org, localorg_server, tmp_path, models_dir=_models(tmp_path / "m"))
    engine = deployed_engine(settings)
    now = datetime.now(UTC)
    account = load_rows(org, "Account", [{"Name": "Acme"}])[0]
    buyer = load_rows(
        org, "Contact", [{"LastName": "Buyer", "Email": "buyer@example.com", "AccountId": account}]
    )[0]
    angry, calm, reviewer = load_rows(
        org,
        "Lead",
        [
            {"LastName": "Angry", "Company": "A Co", "Email": "angry@example.com"},
            {"LastName": "Calm", "Company": "C Co", "Email": "calm@example.com"},
            {"LastName": "Review", "Company": "R Co", "Email": "review@example.com"},
        ],
    )
    load_rows(
        org,
        "EmailMessage",
        [
            {  # Enhanced Email: related to the Contact
                "Subject": "Re: Your order",
                "TextBody": "Can we get a quote for 500 seats?\n\nOn Mon, Shop wrote:\n> Thanks!",
                "FromAddress": "buyer@example.com",
                "Incoming": True,
                "MessageDate": _stamp(now - timedelta(days=2)),
                "RelatedToId": buyer,
            },
            {  # no RelatedToId: found by the sender's address
                "Subject": "Re: Newsletter",
                "TextBody": "This is a terrible experience. Cancel my order now!\n-- \nA. Angry",
                "FromAddress": "Angry@Example.com",
                "Incoming": True,
                "MessageDate": _stamp(now - timedelta(days=1)),
            },
            {  # what we sent: not what a person wrote
                "Subject": "Your quote",
                "TextBody": "We are sorry to hear it, terrible indeed.",
                "FromAddress": "shop@example.com",
                "Incoming": False,
                "MessageDate": _stamp(now - timedelta(hours=1)),
                "RelatedToId": buyer,
            },
        ],
    )
    store = Store(settings.store_location)
    # both Leads browsed alike; only one of them wrote back
    views = [
        _event("Product Viewed", email, now - timedelta(hours=3 + i), i + k * 10)
        for k, email in enumerate(("angry@example.com", "calm@example.com"))
        for i in range(4)
    ]
    review = _event(
        "Review Submitted",
        "review@example.com",
        now - timedelta(days=3),
        99,
        text="Love the quality, I will definitely order again.",
    )
    store.events.append([*views, review])

    first = engine.run()
    assert first.status == "succeeded", first.errors
    assert first.as_json()["models"]["texts"]["messages"] == 3  # two replies and the review

    got = _values(org, "Contact", buyer)
    assert got["L2L_Last_Intent__c"] == "Pricing or quote request"
    assert got["L2L_Last_Intent_Phrase__c"] == "Can we get a quote for 500 seats?"
    assert got["L2L_Sentiment_Trend__c"] == "New"
    assert got["L2L_Intent_Reasons__c"].startswith("Replied asking for a quote x1 (last 3d) +")
    assert got["L2L_Intent_Score__c"] > 0

    furious = _values(org, "Lead", angry)
    assert furious["L2L_Last_Reply_Tone__c"] == "Negative"
    assert furious["L2L_Last_Reply_Sentiment__c"] < -0.3
    # two intents in one message: the complaint and the cancellation, both in the reasons
    assert furious["L2L_Last_Intent__c"] in ("Complaint", "Cancellation or refund")
    assert "Asked to cancel or refund" in furious["L2L_Intent_Reasons__c"]
    quiet = _values(org, "Lead", calm)
    assert quiet["L2L_Last_Reply_Tone__c"] is None
    assert furious["L2L_Intent_Score__c"] < quiet["L2L_Intent_Score__c"]

    happy = _values(org, "Lead", reviewer)
    assert happy["L2L_Last_Reply_Tone__c"] == "Positive"
    assert happy["L2L_Last_Intent__c"] == "Purchase intent"

    again = engine.run()
    assert again.status == "succeeded", again.errors
    assert again.compute == "skipped"  # nothing new: nothing scored
    assert "texts" not in again.as_json()["models"]
    assert again.writes.queued == 0


def test_the_seeded_replies_tones_are_recovered(
    org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    load_seed(org, "small", tmp_path / "seed")
    settings = localorg_settings(org, localorg_server, tmp_path, models_dir=_models(tmp_path / "m"))
    report = deployed_engine(settings).run()
    assert report.status == "succeeded", report.errors
    truth = tmp_path / "seed" / "truth" / "replies.csv"
    out = evaluate_synced_command(settings, truth)["sets"]["synced replies"]
    replies = len(truth.read_text(encoding="utf-8").splitlines()) - 1
    assert out["linear"]["rows"] == replies > 10
    print({name: result["macro_f1"] for name, result in out.items()})
    assert out["linear"]["macro_f1"] >= 0.9
    # every synced reply of a Contact landed on it
    assert report.as_json()["models"]["texts"]["people"] >= replies

    # the planted Cases: their tone and intent are recovered, and land on each Case
    cases_truth = tmp_path / "seed" / "truth" / "cases.csv"
    planted = pd.read_csv(cases_truth, dtype=str, keep_default_na=False)
    sets = evaluate_cases_command(settings, cases_truth)["sets"]
    tones, intents = sets["synced cases"], sets["synced cases intents"]
    print({name: r["macro_f1"] for name, r in {**tones, **intents}.items()})
    assert tones["linear"]["rows"] == len(planted) > 10
    assert tones["linear"]["macro_f1"] >= 0.8
    assert intents["ngrams"]["macro_f1"] >= 0.8
    rows = org.store.execute('SELECT "Id", "L2L_Sentiment__c", "L2L_Intent__c" FROM "Case"')
    written = {r[0]: (r[1], r[2]) for r in rows}
    labels = {
        i.name: i.label
        for i in TextsConfig.model_validate(
            yaml.safe_load((REPO / "models" / "texts.yaml").read_text(encoding="utf-8"))
        ).intents
    }
    for case in planted.itertuples():
        sentiment, intent = written[case.case_id]
        assert sentiment is not None
        if case.tone == "negative":
            assert sentiment < 0, case
        if case.intent in ("cancellation", "support", "pricing"):
            assert intent == labels[case.intent], case


def test_an_admins_correction_is_learnt(
    org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    org.store.add_custom_field(
        "EmailMessage",
        FieldInfo(
            "L2L_Sentiment_Override__c",
            "picklist",
            picklist=["Positive", "Neutral", "Negative"],
            custom=True,
        ),
    )
    settings = localorg_settings(org, localorg_server, tmp_path, models_dir=_models(tmp_path / "m"))
    engine = deployed_engine(settings)
    now = datetime.now(UTC)
    first, second = load_rows(
        org,
        "Lead",
        [
            {"LastName": "One", "Company": "O Co", "Email": "one@example.com"},
            {"LastName": "Two", "Company": "T Co", "Email": "two@example.com"},
        ],
    )
    load_rows(
        org,
        "EmailMessage",
        [
            {  # public rated text calls this neutral; the admin says otherwise
                "Subject": "Re: Your order",
                "TextBody": "Where is my parcel? Order 1001 still not here.",
                "Incoming": True,
                "MessageDate": _stamp(now - timedelta(days=1)),
                "RelatedToId": first,
                "L2L_Sentiment_Override__c": "Negative",
            },
            {  # not corrected, but written alike: the corrected model learnt the words
                "Subject": "Re: Your order",
                "TextBody": "Where is my order 7788? Still not here.",
                "Incoming": True,
                "MessageDate": _stamp(now - timedelta(days=1)),
                "RelatedToId": second,
            },
        ],
    )
    # without the correction both read as neutral
    assert default_model().predict(["Where is my order 7788? Still not here."]) == ["neutral"]
    report = engine.run()
    assert report.status == "succeeded", report.errors
    assert report.as_json()["models"]["texts"]["corrections"] == 1
    assert _values(org, "Lead", first)["L2L_Last_Reply_Tone__c"] == "Negative"
    assert _values(org, "Lead", second)["L2L_Last_Reply_Tone__c"] == "Negative"


@pytest.mark.parametrize("enabled", [False])
def test_texts_off_pulls_no_messages(
    org: LocalOrg, localorg_server: Running, tmp_path: Path, enabled: bool
) -> None:
    models = _models(tmp_path / "m")
    text = (models / "texts.yaml").read_text(encoding="utf-8")
    (models / "texts.yaml").write_text(text.replace("enabled: true", "enabled: false"))
    settings = localorg_settings(org, localorg_server, tmp_path, models_dir=models)
    report = deployed_engine(settings).run()
    assert report.status == "succeeded", report.errors
    assert "EmailMessage" not in report.as_json()["objects"]
    assert "texts" not in report.as_json()["models"]


def test_a_cases_sentiment_intent_and_suggested_priority_land_on_the_case(
    org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    settings = localorg_settings(org, localorg_server, tmp_path, models_dir=_models(tmp_path / "m"))
    engine = deployed_engine(settings)
    account = load_rows(org, "Account", [{"Name": "Acme"}])[0]
    customer = load_rows(
        org, "Contact", [{"LastName": "Kim", "Email": "kim@example.com", "AccountId": account}]
    )[0]
    angry, calm, named = load_rows(
        org,
        "Case",
        [
            {
                "Subject": "Broken again",
                "Description": "This is the worst service ever. It broke again and nobody "
                "answers. I want a refund, cancel my subscription now!",
                "ContactId": customer,
                "Origin": "Email",
            },
            {
                "Subject": "Delivery address",
                "Description": "Hi, how do I change my delivery address for the next order? "
                "Thanks a lot.",
                "ContactId": customer,
                "Origin": "Web",
            },
            {  # the newest: what it names lands on the Case and on its Contact
                "Subject": "Charged twice",
                "Description": "Order #A-12345 was charged twice, $1,089.90 and 20 EUR.",
                "ContactId": customer,
                "Origin": "Web",
            },
        ],
    )
    report = engine.run()
    assert report.status == "succeeded", report.errors
    assert report.as_json()["models"]["texts"]["cases"] == 3
    fields = (
        "L2L_Sentiment__c",
        "L2L_Intent__c",
        "L2L_Suggested_Priority__c",
        "L2L_Last_Message_Entities__c",
    )
    columns = ", ".join(f'"{f}"' for f in fields)
    rows = {
        r[0]: dict(zip(fields, r[1:], strict=True))
        for r in org.store.execute(f'SELECT "Id", {columns} FROM "Case"')
    }
    assert rows[angry]["L2L_Sentiment__c"] <= -0.3
    assert rows[angry]["L2L_Intent__c"] in ("Complaint", "Cancellation or refund")
    assert rows[angry]["L2L_Suggested_Priority__c"] == "High"
    assert rows[calm]["L2L_Sentiment__c"] > rows[angry]["L2L_Sentiment__c"]
    assert rows[calm]["L2L_Intent__c"] == "Support question"
    assert rows[calm]["L2L_Suggested_Priority__c"] in ("Medium", "Low")
    assert rows[calm]["L2L_Last_Message_Entities__c"] is None
    named_as = "Order A-12345; 1,089.90 USD; 20.00 EUR"
    assert rows[named]["L2L_Last_Message_Entities__c"] == named_as
    on_contact = org.store.execute(
        'SELECT "L2L_Last_Message_Entities__c" FROM "Contact" WHERE "Id" = ?', [customer]
    )
    assert on_contact == [(named_as,)]
    # and the Cases' intents are the Contact's events: its intent reasons name them
    reasons = _values(org, "Contact", customer)["L2L_Intent_Reasons__c"]
    assert reasons.startswith("Asked to")

    again = engine.run()
    assert again.status == "succeeded", again.errors
    assert again.writes.queued == 0  # written once


def test_a_valued_customers_negative_reply_fires_the_flow_once(
    org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    models = _models(tmp_path / "m")
    shutil.copy(REPO / "models" / "predictions.yaml", models / "predictions.yaml")
    config = yaml.safe_load((models / "texts.yaml").read_text(encoding="utf-8"))
    # valued: any CLV at all, so the one buyer counts and the one who never bought does not
    config["unhappy"].update({"flow": "L2L_Unhappy_Customer", "clv_at_least": 1})
    (models / "texts.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    texts = TextsConfig.model_validate(config)
    specs = flow_specs(None, None, None, texts)
    assert [s.name for s in specs] == ["L2L_Unhappy_Customer"]
    org.store.flows = FlowEngine.from_sources({s.name: flow_xml(s) for s in specs})
    settings = localorg_settings(org, localorg_server, tmp_path, models_dir=models)
    engine = deployed_engine(settings)
    now = datetime.now(UTC)
    account = load_rows(org, "Account", [{"Name": "Acme"}])[0]
    buyer, stranger = load_rows(
        org,
        "Contact",
        [
            {"LastName": "Buyer", "Email": "buyer@example.com", "AccountId": account},
            {"LastName": "Stranger", "Email": "stranger@example.com", "AccountId": account},
        ],
    )
    load_rows(
        org,
        "Order",
        [
            {
                "AccountId": account,
                "BillToContactId": buyer,
                "Status": "Activated",
                "EffectiveDate": (now - timedelta(days=days)).date().isoformat(),
                "TotalAmount": 400.0,
            }
            for days in (200, 120, 40)
        ],
    )
    angry = "This is a terrible experience. Cancel my order now!"

    def reply(who: str, text: str, days: float) -> dict[str, Any]:
        return {
            "Subject": "Re: Your order",
            "TextBody": text,
            "Incoming": True,
            "MessageDate": _stamp(now - timedelta(days=days)),
            "RelatedToId": who,
        }

    furious = load_rows(
        org,
        "EmailMessage",
        [
            reply(buyer, angry, 1),
            reply(buyer, "Awful, the worst support I have had.", 30),  # too old to fire
            reply(stranger, angry, 1),  # negative, but not a valued customer
        ],
    )[0]

    first = engine.run()
    assert first.status == "succeeded", first.errors
    unhappy = first.as_json()["models"]["texts"]["unhappy"]
    assert unhappy["crossed"] == unhappy["fired"] == 1
    assert org.store.count("FlowInterview") == 1
    tasks = org.store.execute(
        'SELECT "WhoId", "Description" FROM "Task" WHERE "Subject" LIKE \'Unhappy valued%\''
    )
    assert [t[0] for t in tasks] == [buyer]
    assert "Cancel my order now" in tasks[0][1]
    assert "CLV 420" in tasks[0][1]  # 3 orders of 400 x the 35% margin of predictions.yaml
    assert Store(settings.store_location).scoring.fired("unhappy_valued", "message") == {furious}

    # a positive reply of the same customer: a sync that scores again, and fires nothing
    load_rows(org, "EmailMessage", [reply(buyer, "Thanks, that fixed it, great help!", 0)])
    second = engine.run()
    assert second.status == "succeeded", second.errors
    again = second.as_json()["models"]["texts"]["unhappy"]
    assert again["crossed"] == 0
    assert org.store.count("FlowInterview") == 1


def test_admins_intent_labels_are_kept_and_learnt(
    org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    models = _models(tmp_path / "m")
    config = yaml.safe_load((models / "texts.yaml").read_text(encoding="utf-8"))
    config["learn"]["min_labels"] = 3  # a handful of labels teach an intent here
    (models / "texts.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    settings = localorg_settings(org, localorg_server, tmp_path, models_dir=models)
    engine = deployed_engine(settings)  # deploys L2L_Intent_Override__c on EmailMessage, Case
    now = datetime.now(UTC)
    people = load_rows(
        org,
        "Lead",
        [{"LastName": f"L{i}", "Company": f"C{i}", "Email": f"l{i}@example.com"} for i in range(6)],
    )
    # shop talk none of the intent examples resembles: the admin says they ask for prices
    asks = [
        "What do you charge for the large router?",
        "Is the router on offer for schools this term?",
        "Tell me the rate for 12 routers.",
        "What are the router rates for a charity?",
    ]
    rows = [
        {
            "Subject": "Re: Routers",
            "TextBody": text,
            "Incoming": True,
            "MessageDate": _stamp(now - timedelta(days=2)),
            "RelatedToId": people[i],
            "L2L_Intent_Override__c": "Pricing or quote request",
        }
        for i, text in enumerate(asks)
    ]
    rows.append(  # and one the models would read as a complaint that the admin says is nothing
        {
            "Subject": "Re: Routers",
            "TextBody": "The router arrived damaged but it is fine, we fixed it.",
            "Incoming": True,
            "MessageDate": _stamp(now - timedelta(days=2)),
            "RelatedToId": people[4],
            "L2L_Intent_Override__c": "None",
        }
    )
    rows.append(  # unlabelled, written alike
        {
            "Subject": "Re: Routers",
            "TextBody": "Do you charge less for routers for charities?",
            "Incoming": True,
            "MessageDate": _stamp(now - timedelta(days=1)),
            "RelatedToId": people[5],
        }
    )
    load_rows(org, "EmailMessage", rows)
    zero_shot = IntentMatcher(TextsConfig.model_validate(config))
    assert zero_shot.match([rows[-1]["TextBody"]]) == [[]]  # zero-shot finds nothing in it

    first = engine.run()
    assert first.status == "succeeded", first.errors
    texts = first.as_json()["models"]["texts"]
    assert texts["intent_corrections"] == 5
    assert texts["intents_learnt"] == []
    # the admin's label is the message's intent, whatever the model says
    assert _values(org, "Lead", people[0])["L2L_Last_Intent__c"] == "Pricing or quote request"
    assert _values(org, "Lead", people[4])["L2L_Last_Intent__c"] is None
    assert _values(org, "Lead", people[5])["L2L_Last_Intent__c"] is None

    fitted = fit_texts_command(settings, [], "text", "intents")
    assert fitted["sources"] == {"L2L_Intent_Override__c": 5}
    assert fitted["learnt"] == ["pricing"]
    assert (models / "texts.intents.json").exists()

    load_rows(  # something new of the unlabelled one's, so the next sync scores them again
        org,
        "EmailMessage",
        [
            {
                "Subject": "Manual",
                "TextBody": "Got the manual, all good.",
                "Incoming": True,
                "MessageDate": _stamp(now),
                "RelatedToId": people[5],
            }
        ],
    )
    second = build_engine(settings).run()
    assert second.status == "succeeded", second.errors
    assert second.as_json()["models"]["texts"]["intents_learnt"] == ["pricing"]
    learnt = _values(org, "Lead", people[5])
    assert learnt["L2L_Last_Intent__c"] == "Pricing or quote request"
    assert learnt["L2L_Last_Intent_Phrase__c"] == "Do you charge less for routers for charities?"

    # doctor names what was learnt
    checks = run_doctor(
        settings, load_mappings(settings.mappings_dir, set(KNOWN_VALUES))
    ).as_json()["checks"]
    line = next(c for c in checks if c["check"] == "learnt intents")
    assert line["status"] == "ok"
    assert line["detail"].startswith("pricing from 5 labelled messages (texts.intents.json)")


@pytest.mark.parametrize("enhanced", [True, False])
def test_replies_are_read_with_enhanced_email_on_and_off(
    serve: Callable[..., LocalOrg], localorg_server: Running, tmp_path: Path, enhanced: bool
) -> None:
    """With Enhanced Email an email names its person (RelatedToId); without it EmailMessage has
    no RelatedToId (Object Reference, "EmailMessage": "only available for orgs that use
    Email-to-Case or Enhanced Email"; "EmailMessageRelation": "available only if you have
    Enhanced Email enabled"), so a Case's email reaches its person through its activity: the
    Task of ActivityId and its WhoId. The Task stands for the email and is not read twice."""
    org = serve(features=OrgFeatures(enhanced_email=enhanced))
    names = {f["name"] for f in localorg_server.salesforce().EmailMessage.describe()["fields"]}
    assert ("RelatedToId" in names) is enhanced
    assert {"ActivityId", "ParentId"} <= names
    settings = localorg_settings(org, localorg_server, tmp_path, models_dir=_models(tmp_path / "m"))
    engine = deployed_engine(settings)
    now = datetime.now(UTC)
    account = load_rows(org, "Account", [{"Name": "Acme"}])[0]
    # the sender's address is nobody's: only the relationships can find the person
    customer = load_rows(
        org, "Contact", [{"LastName": "Kim", "Email": "kim@example.com", "AccountId": account}]
    )[0]
    case = load_rows(org, "Case", [{"Subject": "Web form", "Origin": "Web"}])[0]  # no ContactId
    body = "This is terrible, the refund still has not arrived. Cancel my order now!"
    task = load_rows(
        org,
        "Task",
        [
            {
                "Subject": "Email: Re: Your order",
                "Description": body,
                "WhoId": customer,
                "WhatId": case,
                "ActivityDate": now.date().isoformat(),
                "Status": "Completed",
            }
        ],
    )[0]
    email: dict[str, Any] = {
        "Subject": "Re: Your order",
        "TextBody": body,
        "FromAddress": "someone.else@example.net",
        "Incoming": True,
        "MessageDate": _stamp(now - timedelta(hours=2)),
        "ParentId": case,
        "ActivityId": task,
    }
    if enhanced:
        email["RelatedToId"] = customer  # as Enhanced Email relates it
    else:
        refused = dict(email, RelatedToId=customer)
        with pytest.raises(SalesforceMalformedRequest) as caught:
            localorg_server.salesforce().EmailMessage.create(refused)
        assert caught.value.content[0]["errorCode"] == "INVALID_FIELD"
    load_rows(org, "EmailMessage", [email])

    report = engine.run()
    assert report.status == "succeeded", report.errors
    texts = report.as_json()["models"]["texts"]
    assert texts["messages"] == 2  # the email and the Case; the email's Task is not a third
    got = _values(org, "Contact", customer)
    assert got["L2L_Last_Reply_Tone__c"] == "Negative"
    assert got["L2L_Last_Intent__c"] == "Cancellation or refund"
