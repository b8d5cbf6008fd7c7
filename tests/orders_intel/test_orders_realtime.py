"""A real-time pass scores a webhook's order against the last full run's population: the
stored sample refits the same forest, and a planted fraud still lands at the top."""

from __future__ import annotations

import json

from connector.orders_intel.evaluate import risk_input
from connector.orders_intel.risk import RiskConfig, score_orders
from connector.sync.orders_intel import _population, _score_against


def test_a_persons_orders_scored_against_the_stored_population(planted) -> None:
    frame = risk_input(planted.frames["Order"])
    full = score_orders(frame, RiskConfig())
    stored = json.loads(json.dumps(_population(full)))  # as the store keeps it
    frauds = planted.csv("frauds.csv")
    # the real-time pass of a few people: their orders only, frauds among them
    people = set(frauds["contact_id"].head(8))
    theirs = frame[frame["person"].isin(people)]
    narrow = _score_against(theirs, stored, RiskConfig())
    planted_ids = set(frauds["order_id"]) & set(narrow.index)
    assert planted_ids
    caught = narrow.loc[sorted(planted_ids), "score"]
    assert (caught >= 95).mean() >= 0.7, caught.to_dict()
    normal = narrow.drop(index=sorted(planted_ids))["score"]
    assert normal.median() < 90
    assert (narrow.loc[sorted(planted_ids), "reasons"] != "").all()
