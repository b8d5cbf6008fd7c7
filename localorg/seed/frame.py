"""Columns into row batches, and the small vectorised helpers every part of the seed uses."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

import numpy as np

from localorg.datetimes import format_whole_seconds
from localorg.seed.params import BATCH_ROWS, Arr

Batch = tuple[str, list[dict[str, object]]]


class Same:
    """A column whose every row has one value."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value


Columns = dict[str, "Sequence[object] | Same"]


def batches(obj: str, columns: Columns, n: int) -> Iterator[Batch]:
    """``n`` rows of ``obj`` from ``columns``, at most ``BATCH_ROWS`` per batch."""
    keys = list(columns)
    for start in range(0, n, BATCH_ROWS):
        stop = min(n, start + BATCH_ROWS)
        cols = [
            itertools.repeat(v.value, stop - start) if isinstance(v, Same) else v[start:stop]
            for v in columns.values()
        ]
        yield obj, [dict(zip(keys, vals, strict=False)) for vals in zip(*cols, strict=True)]


def _seconds(secs: Arr) -> Arr:
    return np.floor(secs).astype("int64").astype("datetime64[s]")


def datetimes(secs: Arr) -> list[str]:
    """Epoch seconds (floored) as storage datetimes."""
    return format_whole_seconds(np.datetime_as_string(_seconds(secs), unit="s").tolist())


def dates(secs: Arr) -> list[str]:
    """Epoch seconds as ``YYYY-MM-DD`` (UTC)."""
    days = _seconds(secs).astype("datetime64[D]")
    return list(np.datetime_as_string(days).tolist())


def event_timestamps(secs: Arr) -> list[str]:
    """Epoch seconds as ISO 8601 with milliseconds and ``Z``, as event senders write them."""
    ms = np.floor(secs * 1000.0).astype("int64").astype("datetime64[ms]")
    return [s + "Z" for s in np.datetime_as_string(ms, unit="ms").tolist()]


def pick(
    rng: np.random.Generator, values: Sequence[str], n: int, p: Sequence[float] | None = None
) -> list[str]:
    """``n`` draws from ``values`` (weights ``p``)."""
    idx = rng.choice(len(values), size=n, p=p)
    return [values[i] for i in idx.tolist()]


def group_starts(counts: Arr) -> Arr:
    """Index of each group's first element, for groups laid out by ``counts``."""
    out: Arr = np.concatenate(([0], np.cumsum(counts)[:-1])).astype("int64")
    return out


def within(counts: Arr) -> Arr:
    """0-based position of each element within its group, for groups laid out by ``counts``."""
    out: Arr = np.arange(int(counts.sum())) - np.repeat(group_starts(counts), counts)
    return out


def hex_ids(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` random 32-digit hex ids (anonymous ids of browsers)."""
    raw = rng.integers(0, 2**63, size=(n, 2), dtype=np.int64).tolist()
    return [f"{x:016x}{y:016x}" for x, y in raw]
