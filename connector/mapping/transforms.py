"""Turn computed values into Salesforce field values, fast enough for every person of a sync.

Each FieldMapping is compiled once into one plain callable (its transforms, then a final step
that shapes the value for its field type: numbers rounded to the field's scale, dates as
Salesforce strings, text checked against the field's length). The hot loop in `map_values` calls
those functions only; no pydantic there. A value a transform cannot handle raises ValueError
for that record and field; `map_values` collects those and carries on with the rest.
"""

from __future__ import annotations

import logging
import math
import numbers
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from connector.mapping.models import (
    Clamp,
    DateFormat,
    Default,
    FieldMapping,
    MappingFile,
    Multiply,
    Percent,
    PicklistMap,
    Round,
    Template,
    Truncate,
    _Step,
)

log = logging.getLogger(__name__)

Fn = Callable[[Any], Any]
#: A person as the sync engine names them: ("contact" | "lead", Salesforce record Id).
PersonKey = tuple[str, str]
#: A record to update: (sObject name, record Id).
RecordKey = tuple[str, str]


class MapProblem(NamedTuple):
    """A value that could not be written: which record, field and value, and why."""

    object: str
    record_id: str
    field: str
    value_key: str
    message: str


def _number(v: Any) -> float | int:
    if type(v) is float or type(v) is int:  # the common case, without the ABC checks below
        return v  # type: ignore[no-any-return]
    if isinstance(v, bool) or not isinstance(v, numbers.Real | Decimal):
        raise ValueError(f"expected a number, got {type(v).__name__}")
    if isinstance(v, numbers.Integral):
        return int(v)
    return float(v)


def _salesforce_date(v: Any) -> str:
    if isinstance(v, datetime):
        if v.tzinfo is None:
            raise ValueError("datetime has no timezone; the engine must produce aware UTC times")
        return v.astimezone(UTC).date().isoformat()
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, str):
        try:
            return date.fromisoformat(v[:10]).isoformat()
        except ValueError:
            pass
    raise ValueError(f"expected a date, got {type(v).__name__}")


def _salesforce_datetime(v: Any) -> str:
    if isinstance(v, str):
        try:
            v = datetime.fromisoformat(v)
        except ValueError:
            raise ValueError("expected an ISO 8601 datetime text") from None
    if isinstance(v, datetime):
        if v.tzinfo is None:
            raise ValueError("datetime has no timezone; the engine must produce aware UTC times")
        u = v.astimezone(UTC)
        # Formatted by hand: strftime does not pad years before 1000 on every platform.
        return (
            f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:"
            f"{u.second:02d}.{u.microsecond // 1000:03d}+0000"
        )
    if isinstance(v, date):
        return f"{v.isoformat()}T00:00:00.000+0000"
    raise ValueError(f"expected a datetime, got {type(v).__name__}")


class _Fields(dict[str, Any]):
    """Template lookups: `value` is the value itself; other names are keys of a dict value."""

    def __init__(self, value: Any) -> None:
        super().__init__(value if isinstance(value, Mapping) else {})
        self["value"] = value

    def __missing__(self, key: str) -> Any:
        raise ValueError(f"template names {{{key}}}, which the value does not have")


def _step_fn(step: _Step) -> Fn:
    """One transform as a callable; None passes through every step except `default`."""
    fn: Fn
    if isinstance(step, Round):
        n = step.round

        def fn(v: Any) -> Any:
            x = _number(v)
            if isinstance(x, float) and not math.isfinite(x):
                return x
            return round(x, n) if n > 0 else int(round(x, n))

    elif isinstance(step, Multiply):
        factor = step.multiply

        def fn(v: Any) -> Any:
            return _number(v) * factor

    elif isinstance(step, Clamp):
        lo, hi = step.clamp

        def fn(v: Any) -> Any:
            x = _number(v)
            return lo if x < lo else hi if x > hi else x

    elif isinstance(step, Percent):

        def fn(v: Any) -> Any:
            return _number(v) * 100

    elif isinstance(step, Template):
        text = step.template

        def fn(v: Any) -> Any:
            try:
                return text.format_map(_Fields(v))
            except (TypeError, IndexError, KeyError) as exc:
                raise ValueError(f"template cannot format this value: {exc}") from None

    elif isinstance(step, DateFormat):
        fn = _salesforce_date if step.date == "date" else _salesforce_datetime

    elif isinstance(step, PicklistMap):
        fn = _picklist_fn(step.picklist, None)

    elif isinstance(step, Truncate):
        n = step.truncate

        def fn(v: Any) -> Any:
            return (v if isinstance(v, str) else str(v))[:n]

    elif isinstance(step, Default):
        fallback = step.default
        return lambda v: fallback if v is None else v
    else:  # pragma: no cover - every transform model is handled above
        raise TypeError(f"unknown transform {step!r}")
    return _skip_none(fn)


def _skip_none(fn: Fn) -> Fn:
    return lambda v: None if v is None else fn(v)


def _picklist_fn(labels: Mapping[str, str], fallback: str | None) -> Fn:
    table = dict(labels)

    def fn(v: Any) -> Any:
        label = table.get(v if isinstance(v, str) else str(v), fallback)
        if label is None:
            raise ValueError(f"value {str(v)[:50]!r} is not in the picklist; add it or a default")
        return label

    return fn


def _final_fn(m: FieldMapping) -> Fn:
    """Shape the transformed value for the field's type so it is JSON-ready for the REST API."""
    t = m.type
    if t in ("number", "currency", "percent"):
        precision, scale = m.digits
        limit = 10 ** (precision - scale)

        def fn(v: Any) -> Any:
            x = _number(v)
            if isinstance(x, float) and math.isnan(x):
                return None
            if not math.isfinite(x) or abs(round(x, scale)) >= limit:
                raise ValueError(
                    f"{x} does not fit {precision} digits with {scale} decimals; add a clamp "
                    "or raise precision"
                )
            return round(x) if scale == 0 else round(float(x), scale)

        return fn
    if t in ("text", "textarea"):
        n = m.max_length

        def fn(v: Any) -> Any:
            s = v if isinstance(v, str) else str(v)
            if len(s) > n:
                raise ValueError(f"text of {len(s)} characters exceeds {n}; add `- truncate: {n}`")
            return s

        return fn
    if t == "date":
        return _salesforce_date
    if t == "datetime":
        return _salesforce_datetime
    if t == "checkbox":

        def fn(v: Any) -> Any:
            if isinstance(v, bool):
                return v
            if isinstance(v, numbers.Integral) and int(v) in (0, 1):
                return bool(v)
            raise ValueError(f"expected true/false, got {str(v)[:50]!r}")

        return fn
    return _picklist_fn(m.picklist or {}, m.picklist_default)


def compile_field(m: FieldMapping) -> Fn:
    """The mapping's whole transform chain as one callable, built once and cached on `m`."""
    if m._compiled is None:
        steps = [_step_fn(s) for s in m.transform]
        steps.append(_skip_none(_final_fn(m)))

        def run(v: Any) -> Any:
            for step in steps:
                v = step(v)
            return v

        m._compiled = steps[0] if len(steps) == 1 else run
    fn: Fn = m._compiled
    return fn


def apply(mapping_field: FieldMapping, value: Any) -> Any:
    """The field value for one computed value; raises ValueError when it cannot be written."""
    return compile_field(mapping_field)(value)


def map_values(
    mappings: Iterable[MappingFile],
    computed: Mapping[PersonKey, Mapping[str, Any]],
    *,
    problems: list[MapProblem] | None = None,
) -> dict[RecordKey, dict[str, Any]]:
    """Field values per record, from computed values per person.

    A value key a person lacks is skipped (the field is left alone); a None value clears the
    field unless a `default` transform replaces it. A value that cannot be written is skipped
    and reported in `problems` (or logged when no list is given), so one bad value never stops
    a sync.
    """
    plan: dict[str, list[tuple[str, str, str, Fn]]] = {}
    for mf in mappings:
        for f in mf.fields:
            plan.setdefault(mf.person, []).append((mf.object, f.key, f.field, compile_field(f)))
    out: dict[RecordKey, dict[str, Any]] = {}
    for (kind, record_id), values in computed.items():
        for obj, key, field, fn in plan.get(kind, ()):
            if key not in values:
                continue
            try:
                result = fn(values[key])
            except (ValueError, TypeError, ArithmeticError) as exc:
                problem = MapProblem(obj, record_id, field, key, str(exc))
                if problems is None:
                    log.warning("%s %s.%s from %s: %s", record_id, obj, field, key, exc)
                else:
                    problems.append(problem)
                continue
            out.setdefault((obj, record_id), {})[field] = result
    return out


def map_frame(
    mappings: Iterable[MappingFile],
    computed: pd.DataFrame,
    kinds: Mapping[str, str],
    *,
    problems: list[MapProblem] | None = None,
) -> dict[RecordKey, dict[str, Any]]:
    """:func:`map_values` over a frame: rows indexed by (person object, record id), a column
    per value key, ``kinds`` naming each person object's kind (``Contact`` -> ``contact``).

    The same records, fields, values and problems (in the same order) as :func:`map_values`
    of the frame's rows, a hole (NaN, NaT) being None; each field is mapped a column at a
    time (:func:`map_column`).
    """
    files = list(mappings)
    keys = list(computed.index)
    # per row: the field values per target object, in plan order
    mapped: list[dict[str, dict[str, Any]]] = [{} for _ in keys]
    found: list[tuple[int, int, MapProblem]] = []
    for person_object in dict.fromkeys(o for o, _ in keys):
        kind = kinds[person_object]
        rows = [i for i, (o, _) in enumerate(keys) if o == person_object]
        part = computed.iloc[rows]
        plan = [(mf.object, f) for mf in files if mf.person == kind for f in mf.fields]
        columns: dict[str, tuple[list[str], list[list[Any]]]] = {}
        refused: list[tuple[int, str, str]] = []
        for step, (obj, f) in enumerate(plan):
            if f.key not in part.columns:
                continue
            values, problems_here = map_column(f, part[f.key])
            names, lists = columns.setdefault(obj, ([], []))
            names.append(f.field)
            lists.append(values)
            for i, message in problems_here:
                problem = MapProblem(obj, keys[rows[i]][1], f.field, f.key, message)
                found.append((rows[i], step, problem))
                refused.append((i, obj, f.field))
        # A record's fields in one dict(zip(...)) per row (C loops, not one Python step per
        # value); a refused value is then taken out again: the field is left alone.
        built = {
            obj: [dict(zip(names, row, strict=True)) for row in zip(*lists, strict=True)]
            for obj, (names, lists) in columns.items()
        }
        for i, obj, name in refused:
            built[obj][i].pop(name, None)
        for obj, records in built.items():
            for row, record in zip(rows, records, strict=True):
                if record:
                    mapped[row][obj] = record
    out: dict[RecordKey, dict[str, Any]] = {}
    for (_, record_id), targets in zip(keys, mapped, strict=True):
        for obj, fields in targets.items():
            out.setdefault((obj, record_id), {}).update(fields)
    found.sort(key=lambda t: (t[0], t[1]))
    for _, _, problem in found:
        if problems is None:
            log.warning(
                "%s %s.%s from %s: %s",
                problem.record_id,
                problem.object,
                problem.field,
                problem.value_key,
                problem.message,
            )
        else:
            problems.append(problem)
    return out


# ---------------------------------------------------------------------- whole columns
def _column_steps(m: FieldMapping) -> list[float] | None:
    """The factors of a number field whose transforms only multiply (``percent``,
    ``multiply``), in order; None when a step or the field type needs the per-value path."""
    if m.type not in ("number", "currency", "percent"):
        return None
    factors: list[float] = []
    for step in m.transform:
        if isinstance(step, Percent):
            factors.append(100)
        elif isinstance(step, Multiply):
            factors.append(step.multiply)
        else:
            return None
    return factors


def _round_like_python(x: np.ndarray, scale: int) -> np.ndarray:
    """``round(v, scale)`` of each finite float, as Python rounds it (the exact binary value,
    half to even), for a whole array.

    ``rint(v * 10**scale) / 10**scale``: the division of two exact integers is the double
    nearest the decimal, as Python's result is; the product may be off by half an ulp, which
    matters only within an ulp or two of a .5 boundary, and those few go value by value.
    """
    if scale == 0:
        whole: np.ndarray = np.rint(x)
        return whole
    power = 10.0**scale
    z = x * power
    k = np.rint(z)
    tie = np.abs(np.abs(z - np.floor(z)) - 0.5) <= 4 * np.spacing(np.abs(z))
    out = k / power
    for i in np.flatnonzero(tie):
        out[i] = round(float(x[i]), scale)
    return out


def map_column(m: FieldMapping, column: pd.Series) -> tuple[list[Any], list[tuple[int, str]]]:
    """The field values for a whole column of computed values, in order, and the positions
    (with the reason) of those the field cannot take: exactly what :func:`apply` gives value
    by value, a hole (NaN, None) being None.

    Number fields whose transforms only multiply take float and int columns whole, in numpy
    (1.57M per-value calls of the transform chain were 6.8 s of a medium sync, issue 19);
    everything else, and the values a field refuses, go through the per-value chain.
    """
    fn = compile_field(m)
    factors = _column_steps(m)
    whole = None if factors is None else _number_column(m, factors, column)
    if whole is None:
        values: list[Any] = []
        problems: list[tuple[int, str]] = []
        known = column.astype(object).where(column.notna(), None)
        for i, v in enumerate(known.tolist()):
            try:
                values.append(fn(v))
            except (ValueError, TypeError, ArithmeticError) as exc:
                values.append(None)
                problems.append((i, str(exc)))
        return values, problems
    values, refused = whole
    problems = []
    originals = column.tolist() if refused else []
    for i in refused:  # the per-value chain says why, in its own words
        try:
            values[i] = fn(originals[i])
        except (ValueError, TypeError, ArithmeticError) as exc:
            values[i] = None
            problems.append((int(i), str(exc)))
    return values, problems


def _number_column(
    m: FieldMapping, factors: list[float], column: pd.Series
) -> tuple[list[Any], list[int]] | None:
    """A number field's values for a float column (or an int column with no factor), and the
    positions to hand to the per-value chain (not finite, too wide); None for other columns."""
    precision, scale = m.digits
    limit = 10.0 ** (precision - scale)
    if column.dtype == np.int64 and not factors:
        ints = column.to_numpy(dtype=np.int64)
        wide = np.abs(ints.astype(np.float64)) >= limit * 0.5  # near the limit: per value
        kept: list[Any] = ints.tolist() if scale == 0 else ints.astype(np.float64).tolist()
        return kept, np.flatnonzero(wide).tolist()
    if column.dtype != np.float64:
        return None
    x = column.to_numpy(dtype=np.float64)
    if any(type(f) is not float and type(f) is not int for f in factors):
        return None
    # an overflow is an infinity, which the per-value chain refuses in its own words
    with np.errstate(all="ignore"):
        for factor in factors:
            x = x * factor
        missing = np.isnan(x)
        refused = ~missing & (~np.isfinite(x) | (np.abs(x) >= limit * 0.5))  # near the limit
        safe = np.where(missing | refused, 0.0, x)
        rounded = _round_like_python(safe, scale)
    values: list[Any] = rounded.astype(np.int64).tolist() if scale == 0 else rounded.tolist()
    for i in np.flatnonzero(missing):
        values[i] = None
    return values, np.flatnonzero(refused).tolist()
