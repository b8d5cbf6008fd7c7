"""What the admin page starts: a sync, a retry of refused values, a mapping edit checked,
previewed and saved.

The page (``connector/web/admin/``) imports this module only inside the views that act, so a
web worker that serves webhooks never loads the engine or the Salesforce client; an admin who
presses "sync now" pays that import once.

Rules:

1. A run from the page is the clock's run: the same :func:`~connector.sync.build_engine`, the
   same :class:`~connector.sync.SyncEngine.run` and its run lock. While another run holds the
   lock the page says so (:class:`~connector.errors.RunInProgress`) and starts nothing.
2. A mapping edit is checked as ``lead2loyalty validate --offline`` checks the folder: every
   file of the folder, with the edited one in its place, loaded against the value registry and
   the loyalty programs. Problems are ``file:line: ...`` of the real file.
3. Saving writes the file only when that check passes (a temporary file renamed over it, so a
   reader never sees half a file); on any problem the file is left byte for byte as it was.
4. The edit goes through ruamel.yaml's round trip: comments, key order and the rest of the
   file are kept.
5. A preview is a dry run of a few people (``SyncEngine.run(people=..., dry_run)``) with the
   edited mappings: nothing is pulled, pushed or written to Salesforce; the values it would
   write are set beside the values written now.
6. A preview computes what the edited value needs, no more, and maps that one field. The
   order intelligence stage (its values: ``risk``, ``fulfilment``, ``recommendations``) is the
   compute step's last, read by no other model, and is left out unless the value is one of its
   own; the texts stage (read by the intent and conversion scores and the order stage, through
   the events it adds) is left out for ``rfm``, ``predictions`` and ``loyalty`` values, which
   never read it. Both read every order or message of the org whoever the run is for: on the
   medium seed they were 19 s of a 31-33 s preview (4.3-4.9 s CPU, load average 15-17). The
   predictions (read by loyalty: its promotions limited to segments), the loyalty books and
   the intent and conversion scores are each left out for a value that reads none of them
   (an order stage value keeps every stage: it reads the events they read). On the medium
   seed (load average 20, the dry run alone, same run) that took an ``rfm`` preview from 234
   to 76 ms of CPU, a ``predictions`` one from 258 to 119 ms, a ``loyalty`` one from 227 to
   186 ms: their fixed pandas costs on five people, not reads of the org.
7. A web worker keeps what a preview reads besides the edit: the loaded model settings and
   one Salesforce client with its session (:func:`_engine_parts`, rebuilt when the settings or
   a file of the models or mappings folder changes: a ``(name, size, mtime_ns)`` stamp, as the
   mappings page keeps its load), and the folder loaded with each edit (keyed by that stamp,
   the file's name and the edited text, so the check and the preview of one edit parse it
   once), and the edited text of the last few edits asked (:func:`with_rounding`). Each
   preview gets its own store and engine over those parts. Signing in and loading the folder
   twice per preview were most of its 572 ms CPU on the medium seed.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import io
import logging
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from connector.config import Settings
from connector.errors import Lead2LoyaltyError, MappingError, RunInProgress
from connector.loyalty.wiring import load_config as load_loyalty_config
from connector.mapping import load_registered_mappings
from connector.mapping.models import MappingFile
from connector.store import Store
from connector.store.outbox import dumps, loads_many
from connector.sync import (
    SyncEngine,
    SyncOptions,
    build_engine,
    check_programs,
    load_predictions_config,
    mapper_for,
)
from connector.sync.inputs import fingerprint
from connector.sync.intent import load_scoring
from connector.sync.orders_intel import load_settings as load_orders_settings

log = logging.getLogger(__name__)


# ------------------------------------------------------------------ runs
def start_sync(settings: Settings, *, retry_failed: bool = False) -> threading.Thread:
    """Start one sync run in a background thread (the page answers at once; the run shows
    in the history as it goes). Raises :class:`RunInProgress` when a run holds the lock and
    :class:`MappingError` when the mappings are broken, before anything starts."""
    load_registered_mappings(settings.mappings_dir)  # broken files: said on the page
    store = Store(settings.store_location)
    try:
        with store.runs.lock():  # a probe: who holds it is named in the message
            pass
    finally:
        store.close()
    thread = threading.Thread(
        target=_run, args=(settings, retry_failed), name="admin-sync", daemon=True
    )
    thread.start()
    return thread


def _run(settings: Settings, retry_failed: bool) -> None:
    try:
        engine = build_engine(settings)
        try:
            report = engine.run(SyncOptions(retry_failed=retry_failed))
        finally:
            engine.store.close()
        log.info("admin sync: run %s %s", report.run_id, report.status)
    except RunInProgress as exc:  # another run won the lock after the probe
        log.info("admin sync not started: %s", exc)
    except Lead2LoyaltyError as exc:
        log.error("admin sync not started: %s", str(exc).replace("\n", "; "))


# ------------------------------------------------------------------ mapping edits
@dataclass(frozen=True)
class PreviewRow:
    """One sample record's value of the edited field: written now, and after the change."""

    record_id: str
    now: Any
    after: Any

    @property
    def changes(self) -> bool:
        """Whether the edit would write a new value."""
        return dumps(self.now) != dumps(self.after)


def _yaml(text: str) -> YAML:
    yaml = YAML()  # round trip: comments and order kept
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap a long line the admin wrote
    # ruamel.yaml writes lists in one indentation whatever it read: use the file's own (the
    # shipped files indent "  - value:", yaml.safe_dump writes "- value:"), so only the
    # edited lines change.
    dash = re.search(r"^( *)- ", text, flags=re.M)
    offset = len(dash.group(1)) if dash else 2
    yaml.indent(mapping=2, sequence=offset + 2, offset=offset)
    return yaml


@functools.lru_cache(maxsize=16)
def with_rounding(text: str, index: int, places: int | None) -> str:
    """The mapping file ``text`` with field ``index``'s ``round`` step set to ``places``
    (added as the last transform step when it has none), or removed when ``places`` is None.
    Raises :class:`MappingError` when the text is not a mapping file with that field.

    Kept per worker for the last few (text, field, places) asked (rule 7): ruamel.yaml's round
    trip of the shipped contact.yaml is 91 ms of CPU, a preview of an ``rfm`` value on the
    medium seed 76 ms (its dry run alone)."""
    yaml = _yaml(text)
    try:
        doc = yaml.load(text)
    except YAMLError as exc:
        raise MappingError([f"the file is not YAML: {str(exc).splitlines()[0]}"]) from None
    fields = doc.get("fields") if isinstance(doc, dict) else None
    if not isinstance(fields, list) or not 0 <= index < len(fields):
        raise MappingError([f"the file has no field number {index + 1}"])
    entry = fields[index]
    steps = entry.get("transform")
    rounds = [i for i, s in enumerate(steps or []) if isinstance(s, dict) and "round" in s]
    if places is None:
        # What follows the last step (the blank line before the next entry) stays after
        # whatever is last once the steps are gone.
        spacing = _pop_trailing(steps[-1]) if rounds else None
        for i in reversed(rounds):
            del steps[i]
        if steps is not None and not steps:
            del entry["transform"]
        _put_trailing(steps[-1] if steps else entry, spacing)
    elif rounds:
        steps[rounds[0]]["round"] = places
    elif steps is None:
        # The blank line after the entry is stored on its last key: moved to the new last
        # line, so it still separates this entry from the next one.
        spacing = _pop_trailing(entry)
        step = CommentedMap(round=places)
        entry["transform"] = CommentedSeq([step])
        _put_trailing(step, spacing)
    else:
        steps.append({"round": places})
    out = io.StringIO()
    yaml.dump(doc, out)
    return out.getvalue()


def _pop_trailing(node: Any) -> Any:
    """The blank lines after a mapping's last key, taken off it (ruamel.yaml keeps them in the
    comment of that key); a comment on the key's own line stays there."""
    if not isinstance(node, CommentedMap) or not node:
        return None
    key = list(node.keys())[-1]
    item = node.ca.items.get(key)
    if not item or len(item) < 3 or item[2] is None:
        return None
    token = item[2]
    own_line, _, after = token.value.partition("\n")
    if not after:
        return None
    if own_line.strip():
        token.value = own_line + "\n"
    else:
        del node.ca.items[key]
    moved = copy.copy(token)
    moved.value = "\n" + after
    return [None, None, moved, None]


def _put_trailing(node: Any, spacing: Any) -> None:
    """Put blank lines taken by :func:`_pop_trailing` after ``node``'s last key (after the
    comment on its line, if it has one)."""
    if spacing is None or not isinstance(node, CommentedMap) or not node:
        return
    key = list(node.keys())[-1]
    item = node.ca.items.get(key)
    if item and len(item) > 2 and item[2] is not None:
        item[2].value = item[2].value + spacing[2].value[1:]
    else:
        node.ca.items[key] = spacing


@contextmanager
def _edited_folder(settings: Settings, name: str, text: str) -> Iterator[Path]:
    """A temporary copy of the mappings folder with ``name`` holding ``text``."""
    with tempfile.TemporaryDirectory(prefix="l2l-mappings-") as tmp:
        folder = Path(tmp) / settings.mappings_dir.name
        shutil.copytree(settings.mappings_dir, folder)
        (folder / name).write_text(text, encoding="utf-8")
        yield folder


def _stamp(*folders: Path) -> tuple[tuple[str, str, int, int], ...]:
    """(folder, file name, size, mtime_ns) of every YAML file of ``folders`` (rule 7)."""
    found = []
    for folder in folders:
        try:
            paths = sorted(folder.iterdir())
        except OSError:
            continue
        for path in paths:
            if path.suffix in (".yaml", ".yml"):
                try:
                    st = path.stat()
                except OSError:
                    continue
                found.append((str(folder), path.name, st.st_size, st.st_mtime_ns))
    return tuple(found)


@dataclass(frozen=True)
class _Edited:
    """The mappings folder loaded with one edit: its files (empty when it has problems), its
    problems (file:line of the real file) and the compute inputs' digest."""

    mappings: list[MappingFile]
    problems: list[str]
    inputs_key: str


#: Rule 7: (folders' stamp, file name, digest of the text) -> the folder loaded with that edit,
#: a few edits per worker at most.
_EDITS: dict[tuple[Any, ...], _Edited] = {}
_EDITS_KEPT = 8
_LOCK = threading.Lock()


def _edited(settings: Settings, name: str, text: str) -> _Edited:
    """The mappings folder with ``name`` holding ``text``, loaded and checked as ``validate
    --offline`` does (rule 2), kept per worker (rule 7)."""
    key = (
        _stamp(settings.mappings_dir, settings.models_dir),
        str(settings.mappings_dir),
        name,
        hashlib.sha256(text.encode()).hexdigest(),
    )
    with _LOCK:
        found = _EDITS.get(key)
    if found is not None:
        return found
    with _edited_folder(settings, name, text) as folder:
        mappings: list[MappingFile] = []
        try:
            mappings = load_registered_mappings(folder)
            check_programs(mappings, load_loyalty_config(settings))
            problems: list[str] = []
        except MappingError as exc:
            mappings = []
            problems = [p.replace(str(folder), str(settings.mappings_dir)) for p in exc.problems]
        # the same digest as the real folder with this edit in it would give
        made = _Edited(mappings, problems, fingerprint([folder, settings.models_dir]))
    with _LOCK:
        if len(_EDITS) >= _EDITS_KEPT:
            _EDITS.pop(next(iter(_EDITS)))
        _EDITS[key] = made
    return made


def check_edit(settings: Settings, name: str, text: str) -> list[str]:
    """The problems ``validate --offline`` would report with mapping file ``name`` holding
    ``text`` (file:line of the real file); empty when it passes."""
    return list(_edited(settings, name, text).problems)


def save_edit(settings: Settings, name: str, text: str) -> None:
    """Write ``text`` to mapping file ``name`` when :func:`check_edit` passes; else raise
    :class:`MappingError` with its problems and leave the file untouched."""
    problems = check_edit(settings, name, text)
    if problems:
        raise MappingError(problems)
    target = settings.mappings_dir / name
    fd, tmp = tempfile.mkstemp(dir=settings.mappings_dir, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        Path(tmp).replace(target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


#: Rule 6: the models whose values come from the order intelligence stage.
ORDER_STAGE_MODELS = frozenset({"risk", "fulfilment", "recommendations"})
#: Rule 6: the models computed before the texts stage, none of which reads it.
BEFORE_TEXTS_MODELS = frozenset({"rfm", "predictions", "loyalty"})
#: Rule 6: the models whose values read the predictions (loyalty: segments of promotions).
READS_PREDICTIONS = frozenset({"predictions", "loyalty", *ORDER_STAGE_MODELS})
#: Rule 6: the models whose values read the loyalty books.
READS_LOYALTY = frozenset({"loyalty", *ORDER_STAGE_MODELS})
#: Rule 6: the models whose values read the intent or the conversion score (the conversion
#: score reads the intent settings).
READS_SCORES = frozenset({"intent", "conversion", *ORDER_STAGE_MODELS})


def narrowed(engine: SyncEngine, value: str | None) -> SyncEngine:
    """Rule 6: ``engine`` without the stages the registered ``value`` does not need (the same
    engine, changed; None: every stage kept)."""
    if value is None:
        return engine
    model = value.split(".", 1)[0]
    if model not in ORDER_STAGE_MODELS:
        engine.orders = None
    if model not in READS_PREDICTIONS:
        engine.predictions = None
    if model not in READS_LOYALTY:
        engine.loyalty = None
        engine.mapped_programs = frozenset()
    if engine.scoring is not None:
        if model in BEFORE_TEXTS_MODELS:
            engine.scoring = dataclasses.replace(engine.scoring, texts=None)
        if model not in READS_SCORES:
            engine.scoring = dataclasses.replace(engine.scoring, intent=None, conversion=None)
    return engine


def _one_field(mappings: list[MappingFile], obj: str, field: str) -> list[MappingFile]:
    """Rule 6: the mapping of ``obj``.``field`` alone (the preview shows no other field)."""
    return [
        m.model_copy(update={"fields": [f for f in m.fields if f.field == field]})
        for m in mappings
        if m.object == obj and any(f.field == field for f in m.fields)
    ]


def preview_edit(
    settings: Settings,
    name: str,
    text: str,
    obj: str,
    field: str,
    limit: int = 5,
    *,
    value: str | None = None,
) -> list[PreviewRow]:
    """Field ``obj``.``field`` of up to ``limit`` sample records (those written before): the
    value written now and the value a dry run of them with the edit would write (computing
    only what ``value``, the registered value the field holds, needs: rule 6). Raises
    :class:`MappingError` when the edit does not validate, :class:`RunInProgress` when a
    run holds the lock (a dry run takes it too)."""
    edited = _edited(settings, name, text)
    if edited.problems:
        raise MappingError(edited.problems)
    store = Store(settings.store_location)
    try:
        sample = store.outbox.written_sample(obj, field, limit)
        if not sample:
            return []
        engine = narrowed(_engine(settings, store, edited), value)
        engine.mapper = mapper_for(_one_field(edited.mappings, obj, field))
        report = engine.run(
            SyncOptions(dry_run=True), people=[(obj, record) for record, _ in sample]
        )
    finally:
        store.close()
    if report.errors:
        raise MappingError([f"the preview failed: {report.errors[0]}"])
    planned = {
        record: value for o, record, f, value in report.planned_changes if (o, f) == (obj, field)
    }
    written = loads_many([text_now for _, text_now in sample])
    return [
        PreviewRow(record, now, planned.get(record, now))
        for (record, _), now in zip(sample, written, strict=True)
    ]


@dataclass(frozen=True)
class _Parts:
    """What :func:`~connector.sync.build_engine` loads besides the mappings and the store:
    the model settings and the Salesforce client (its session, once signed in)."""

    client: Any
    predictions: Any
    loyalty: Any
    scoring: Any
    orders: Any


#: Rule 7: one worker's parts: (settings and folders' stamp, the parts).
_PARTS: dict[str, tuple[Any, _Parts]] = {}


def _engine_parts(settings: Settings) -> _Parts:
    """This worker's engine parts for ``settings``, built again when a setting or a file of
    the models or mappings folder changed since (rule 7). Thread-safe: one build at a time."""
    # the secrets dump as ********: their digest stands for them (never kept in clear)
    secrets = hashlib.sha256(
        repr([(k, v.get_secret_value()) for k, v in settings if isinstance(v, SecretStr)]).encode()
    ).hexdigest()
    stamp = (
        settings.model_dump_json(),
        secrets,
        _stamp(settings.mappings_dir, settings.models_dir),
    )
    with _LOCK:
        found = _PARTS.get("parts")
        if found is not None and found[0] == stamp:
            return found[1]
        from connector.salesforce import SalesforceClient

        parts = _Parts(
            client=SalesforceClient(settings),  # signed in lazily, by the first call
            predictions=load_predictions_config(settings),
            loyalty=load_loyalty_config(settings),
            scoring=load_scoring(settings),
            orders=load_orders_settings(settings.models_dir / "orders.yaml"),
        )
        _PARTS["parts"] = (stamp, parts)
        return parts


def _engine(settings: Settings, store: Store, edited: _Edited) -> SyncEngine:
    """An engine over ``store`` with the edited mappings and this worker's kept parts: what
    :func:`~connector.sync.build_engine` builds for a folder holding the edit (rule 7)."""
    parts = _engine_parts(settings)
    mappings = edited.mappings
    return SyncEngine(
        settings,
        parts.client,
        store,
        mapper_for(mappings),
        predictions=parts.predictions,
        loyalty=parts.loyalty,
        min_change={
            (m.object, f.field): f.min_change for m in mappings for f in m.fields if f.min_change
        },
        scoring=parts.scoring,
        inputs_key=edited.inputs_key,
        mapped_programs=check_programs(mappings, parts.loyalty),
        orders=parts.orders,
    )
