"""The kept order risk in the store (migration ``_v19_order_risk``), on SQLite and PostgreSQL:
a kept score is never replaced, a held one is adopted by its Order once, an expired one goes."""

from __future__ import annotations

from connector.store import Store


def _rows(store: Store, ids: list[str] | None = None) -> dict[str, tuple[int, str, int]]:
    frame = store.scoring.order_risk(ids)
    return {
        str(o): (int(s), str(r), int(h))
        for o, s, r, h in zip(
            frame["order_id"], frame["score"], frame["reasons"], frame["held"], strict=True
        )
    }


def test_kept_scores_are_frozen_and_held_ones_adopted_or_dropped(store: Store) -> None:
    at = "2026-12-01T10:00:00+00:00"
    new = store.scoring.keep_order_risk(
        [("801A", 99, "amount 9.0x this customer's usual", False), ("801B", 12, "", False)],
        1,
        at,
    )
    assert new == 2
    # a second score for a kept order is not taken: the first one stays
    assert (
        store.scoring.keep_order_risk([("801A", 40, "", False), ("801C", 50, "x", False)], 2, at)
        == 1
    )
    assert _rows(store)["801A"] == (99, "amount 9.0x this customer's usual", 0)
    assert _rows(store, ["801A", "801C", "801Z"]) == {
        "801A": (99, "amount 9.0x this customer's usual", 0),
        "801C": (50, "x", 0),
    }
    ids = [f"801{i:05d}" for i in range(1200)]  # more than one chunk of ids
    store.scoring.keep_order_risk([(i, 1, "", False) for i in ids], 3, at)
    assert len(_rows(store, [*ids, "801B"])) == 1201

    store.scoring.keep_order_risk(
        [("shopify:s/1", 98, "burst", True), ("shopify:s/2", 97, "", True)], 4, at
    )
    assert set(store.scoring.held_order_risk()["order_id"]) == {"shopify:s/1", "shopify:s/2"}
    assert store.scoring.adopt_held_risk([("shopify:s/1", "801D")], 5) == 1
    assert _rows(store, ["801D", "shopify:s/1"]) == {"801D": (98, "burst", 0)}
    # adopting again (the held row is gone) or onto a kept Order changes nothing
    assert store.scoring.adopt_held_risk([("shopify:s/1", "801E")], 6) == 0
    assert store.scoring.drop_held_risk(["shopify:s/2", "801A"]) == 1  # only held rows go
    assert store.scoring.held_order_risk().empty
    assert "801A" in _rows(store, ["801A"])
