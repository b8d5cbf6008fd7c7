"""Product recommendations: item-item co-purchase, with a why, beside a popularity baseline.

Input: ``interactions``, one row per (person, item) signal: ``person`` (a Contact or Lead Id),
``item`` (a Product2 Id or code), ``weight`` (:class:`RecommendConfig`: an order 1.0, a cart
0.6, a view 0.3; the strongest signal per pair counts) and ``owned`` (bought: never offered
again).

The model (Sarwar et al. 2001, item-based collaborative filtering; Deshpande & Karypis 2004,
top-N item-based): with ``X`` the people x items matrix of purchases (0/1),

- ``C = X'X``: how many buyers two items share; ``n_i = C_ii`` the buyers of item i;
- ``sim_ij = C_ij / sqrt(n_i n_j) * C_ij / (C_ij + shrink)``: cosine, shrunk towards 0 when few
  buyers share the pair (a pair seen twice is weak evidence), 0 below ``min_support``;
- a person's score of item j: ``sum_i w_i sim_ij`` over their signals ``w``; owned and
  inactive (``Product2.IsActive`` false) items excluded; the top ``top_n``; a person with too
  few scores is filled from the popularity baseline.

The why of item j: the person's item i with the highest ``C_ij / n_i``, "bought with <i> by 38%
of its buyers"; a popularity fill says "popular: bought by N customers".

Why not ``implicit``'s ALS: it installs here (0.7.3 has a wheel for Python 3.11), but a latent
factor says no "bought with X" for the rep to read, and item-item needs only scipy.sparse,
already a dependency; the public-data test (tests/orders_intel) shows item-item above the
popularity baseline, as the issue asks.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse


@dataclass(frozen=True)
class RecommendConfig:
    """Settings of the recommender (``models/orders.yaml``, ``recommendations:``)."""

    top_n: int = 5
    shrink: float = 10.0
    min_support: int = 2
    order_weight: float = 1.0
    cart_weight: float = 0.6
    view_weight: float = 0.3
    chunk: int = 5_000  # people scored at a time: memory follows the chunk, not the people


@dataclass(frozen=True)
class ItemItem:
    """A fitted co-purchase model: ``items`` (Index), ``co`` (items x items shared buyers),
    ``similarity`` (items x items), ``buyers`` per item."""

    items: pd.Index
    co: sparse.csr_matrix
    similarity: sparse.csr_matrix
    buyers: np.ndarray


def fit(interactions: pd.DataFrame, config: RecommendConfig) -> ItemItem:
    """Learn co-purchases from the ``owned`` rows of ``interactions``."""
    bought = interactions[interactions["owned"].astype(bool)]
    items = pd.Index(sorted(set(interactions["item"].astype(str))))
    people = pd.Index(sorted(set(bought["person"].astype(str))))
    x = sparse.csr_matrix(
        (
            np.ones(len(bought)),
            (
                people.get_indexer(bought["person"].astype(str)),
                items.get_indexer(bought["item"].astype(str)),
            ),
        ),
        shape=(len(people), len(items)),
    )
    x.data[:] = 1.0  # duplicates summed: a buyer is a buyer
    co = (x.T @ x).tocsr()
    buyers = co.diagonal().astype(float)
    co.setdiag(0.0)
    co.eliminate_zeros()
    sim = co.tocoo()
    shared = sim.data
    norm = np.sqrt(buyers[sim.row] * buyers[sim.col])
    values = np.where(
        shared >= config.min_support,
        shared / np.maximum(norm, 1.0) * shared / (shared + config.shrink),
        0.0,
    )
    similarity = sparse.csr_matrix((values, (sim.row, sim.col)), shape=co.shape)
    similarity.eliminate_zeros()
    return ItemItem(items=items, co=co, similarity=similarity, buyers=buyers)


def recommend(
    model: ItemItem,
    interactions: pd.DataFrame,
    config: RecommendConfig,
    *,
    inactive: Collection[str] = (),
    names: Mapping[str, str] | None = None,
    people: Collection[str] | None = None,
) -> pd.DataFrame:
    """The top ``top_n`` per person of ``interactions`` (or of ``people``): columns person,
    rank (1..), item, score, why. Rules in the module docstring."""
    names = names or {}
    frame = interactions[interactions["item"].astype(str).isin(model.items)]
    if people is not None:
        frame = frame[frame["person"].astype(str).isin(set(people))]
    who = pd.Index(sorted(frame["person"].astype(str).unique()))
    if not len(who):
        return _empty()
    rows = who.get_indexer(frame["person"].astype(str))
    cols = model.items.get_indexer(frame["item"].astype(str))
    shape = (len(who), len(model.items))
    strongest = _max_per_pair(rows, cols, frame["weight"].astype(float).to_numpy(), shape)
    owned_rows = frame["owned"].astype(bool).to_numpy()
    owned = sparse.csr_matrix(
        (np.ones(int(owned_rows.sum())), (rows[owned_rows], cols[owned_rows])),
        shape=shape,
    )
    blocked = np.zeros(len(model.items), dtype=bool)
    blocked[model.items.get_indexer([i for i in inactive if i in model.items])] = True
    popular_order = np.argsort(-model.buyers, kind="stable")
    # share_ij = C_ij / n_i: the share of item i's buyers who also bought j (the why)
    share = model.co.multiply(1.0 / np.maximum(model.buyers, 1.0)[:, None]).tocsc()

    cols_out: dict[str, list[object]] = {k: [] for k in ("person", "rank", "item", "score", "why")}
    n = min(config.top_n, len(model.items))
    # plain arrays: indexing a pandas Index one element at a time was 3.3 s of the medium
    # seed's 14.7 s step (700,000 lookups)
    item_ids = model.items.to_numpy(dtype=object)
    who_ids = who.to_numpy(dtype=object)
    for lo in range(0, len(who), config.chunk):
        hi = min(len(who), lo + config.chunk)
        scores = (strongest[lo:hi] @ model.similarity).toarray()
        mask = owned[lo:hi].toarray() > 0
        scores[mask | blocked[None, :]] = -np.inf
        # the n best per row: a partial sort, then those n in order (ties by item index)
        part = np.argpartition(-scores, n - 1, axis=1)[:, :n]
        order = np.lexsort((part, -np.take_along_axis(scores, part, axis=1)), axis=1)
        top = np.take_along_axis(part, order, axis=1)
        top_scores = np.take_along_axis(scores, top, axis=1)
        # the why of each pick, all rows at once: the person's item with the highest share
        had = (strongest[lo:hi] > 0).astype(float)
        source = np.zeros(top.shape, dtype=int)
        source_share = np.zeros(top.shape)
        for p in range(n):
            cand = sparse.csr_matrix(share[:, top[:, p]].T).multiply(had).tocsr()
            source[:, p] = np.asarray(cand.argmax(axis=1)).ravel()
            source_share[:, p] = cand.max(axis=1).toarray().ravel()
        # Python lists for the per-row assembly: numpy scalar access is the slow part there
        top_l: list[list[int]] = top.tolist()
        scores_l: list[list[float]] = np.asarray(top_scores, dtype=float).tolist()
        source_l: list[list[int]] = source.tolist()
        share_l: list[list[float]] = np.asarray(source_share, dtype=float).tolist()
        for r in range(hi - lo):
            picks = [p for p in range(n) if scores_l[r][p] > 0]
            chosen = [top_l[r][p] for p in picks]
            whys = [_why(names, str(item_ids[source_l[r][p]]), share_l[r][p]) for p in picks]
            for j in popular_order:
                if len(chosen) == n:
                    break
                if not mask[r, j] and not blocked[j] and int(j) not in chosen:
                    chosen.append(int(j))
                    whys.append(f"popular: bought by {int(model.buyers[j]):,} customers")
            cols_out["person"] += [who_ids[lo + r]] * len(chosen)
            cols_out["rank"] += list(range(1, len(chosen) + 1))
            cols_out["item"] += [item_ids[j] for j in chosen]
            cols_out["score"] += [round(scores_l[r][p], 4) for p in picks]
            cols_out["score"] += [0.0] * (len(chosen) - len(picks))
            cols_out["why"] += whys
    return pd.DataFrame(cols_out) if cols_out["person"] else _empty()


def interactions(
    purchases: pd.DataFrame,
    events: pd.DataFrame | None,
    config: RecommendConfig,
) -> pd.DataFrame:
    """The model's input from ``purchases`` (person, item: one row per bought line) and
    ``events`` (person, item, event: ``Product Added`` a cart, anything else a view)."""
    bought = pd.DataFrame(
        {
            "person": purchases["person"].astype(str),
            "item": purchases["item"].astype(str),
            "weight": config.order_weight,
            "owned": True,
        }
    )
    parts = [bought]
    if events is not None and len(events):
        cart = events["event"].astype(str).eq("Product Added")
        parts.append(
            pd.DataFrame(
                {
                    "person": events["person"].astype(str),
                    "item": events["item"].astype(str),
                    "weight": np.where(cart, config.cart_weight, config.view_weight),
                    "owned": False,
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True).dropna(subset=["person", "item"])
    return frame.drop_duplicates(subset=["person", "item", "weight"], ignore_index=True)


def popularity(
    model: ItemItem,
    interactions: pd.DataFrame,
    top_n: int,
    *,
    inactive: Collection[str] = (),
) -> dict[str, list[str]]:
    """The baseline: the most-bought items each person does not own, best first."""
    order = [model.items[j] for j in np.argsort(-model.buyers, kind="stable")]
    dropped = set(inactive)
    owned = (
        interactions[interactions["owned"].astype(bool)]
        .groupby(interactions["person"].astype(str))["item"]
        .agg(lambda s: set(s.astype(str)))
    )
    out: dict[str, list[str]] = {}
    for person in sorted(set(interactions["person"].astype(str))):
        have = owned.get(person, set())
        picks = []
        for item in order:
            if item not in have and item not in dropped:
                picks.append(item)
                if len(picks) == top_n:
                    break
        out[person] = picks
    return out


def as_text(recommended: pd.DataFrame, names: Mapping[str, str] | None = None) -> pd.Series:
    """Per person, "1. <item> (why); 2. ..." for a text field."""
    names = names or {}
    lines = recommended.assign(
        line=recommended["rank"].astype(str)
        + ". "
        + recommended["item"].map(lambda i: names.get(str(i), str(i)))
        + " ("
        + recommended["why"]
        + ")"
    )
    return lines.groupby("person", sort=True)["line"].agg("; ".join)


def _why(names: Mapping[str, str], source: str, share: float) -> str:
    return f"bought with {names.get(source, source)} by {share:.0%} of its buyers"


def _max_per_pair(
    rows: np.ndarray, cols: np.ndarray, weights: np.ndarray, shape: tuple[int, int]
) -> sparse.csr_matrix:
    """The strongest signal per (person, item): an order outweighs the views before it."""
    frame = pd.DataFrame({"r": rows, "c": cols, "w": weights}).groupby(["r", "c"])["w"].max()
    index = frame.index
    return sparse.csr_matrix(
        (frame.to_numpy(), (index.get_level_values(0), index.get_level_values(1))), shape=shape
    )


def _empty() -> pd.DataFrame:
    return pd.DataFrame(columns=["person", "rank", "item", "score", "why"])
