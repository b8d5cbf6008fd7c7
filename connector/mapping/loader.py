"""Load admin-edited YAML into typed models, reporting every problem as `file:line: path: message`.

YAML is parsed once into nodes (which keep line numbers) and data; pydantic validates the data,
and each error's location is walked back through the nodes to the line that caused it. Problems
from every file are gathered and raised as one MappingError, so an admin fixes them in one pass.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from connector.bounds import INT64_MAX, INT64_MIN
from connector.errors import MappingError
from connector.mapping.models import DEFER_CHECKS, MappingFile, Problem, format_path
from connector.mapping.values import KNOWN_VALUES

M = TypeVar("M", bound=BaseModel)

_Loc = tuple[str | int, ...]


class YamlDoc:
    """One parsed YAML file: its data, and the nodes that say where each part came from."""

    def __init__(self, path: Path, data: Any, root: yaml.Node | None) -> None:
        self.path = path
        self.data = data
        self.root = root

    def locate(self, loc: Iterable[str | int]) -> tuple[int, _Loc]:
        """(line, readable path) of a pydantic error location; unknown parts keep the parent line.

        Parts that name nothing in the file (union tags, `[key]`) are dropped from the path,
        except a last missing key, which the message is about.
        """
        node = self.root
        line = node.start_mark.line + 1 if node is not None else 1
        shown: list[str | int] = []
        for part in loc:
            child: yaml.Node | None = None
            if isinstance(node, yaml.MappingNode):
                for key, value in node.value:
                    if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                        line, child = key.start_mark.line + 1, value
                        break
            elif (
                isinstance(node, yaml.SequenceNode)
                and isinstance(part, int)
                and 0 <= part < len(node.value)
            ):
                child = node.value[part]
                line = child.start_mark.line + 1
            if child is not None:
                shown.append(part)
                node = child
            elif part != "[key]" and (not shown or shown[-1] != part):
                shown.append(part)
                node = None
        return line, tuple(shown)

    def problem(self, loc: Iterable[str | int], message: str) -> tuple[int, str]:
        """(line, 'file:line: path: message') for a problem at `loc`."""
        line, shown = self.locate(loc)
        return line, f"{self.path}:{line}: {format_path(shown)}: {message}"


def read_yaml(path: Path) -> tuple[YamlDoc | None, list[str]]:
    """Parse one YAML file; on a syntax error return no document and the problems found."""
    doc, problems = _read(path)
    return doc, [text for _, text in problems]


_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read(path: Path) -> tuple[YamlDoc | None, list[tuple[int, str]]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [(1, f"{path}:1: (file): cannot read it ({exc}); check the path and encoding")]
    # libyaml's parser when PyYAML has it: the same nodes and marks (file:line), parsed in C.
    # Loading the shipped mappings and models twice was most of a mapping preview's CPU on
    # the medium seed (the pure-Python scanner: 17 files, about 2.5 s wall at load average 17).
    loader = _LOADER(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        what = " ".join(x for x in (exc.context, exc.problem) if x)
        return None, [(line, f"{path}:{line}: (yaml): {what}; fix the YAML syntax")]
    except yaml.YAMLError as exc:
        return None, [(1, f"{path}:1: (yaml): {exc}; fix the YAML syntax")]
    finally:
        loader.dispose()
    doc = YamlDoc(path, data, root)
    return doc, _duplicate_keys(doc, root, ()) + _unbounded_numbers(doc, data, ())


def _unbounded_numbers(doc: YamlDoc, value: Any, loc: _Loc) -> list[tuple[int, str]]:
    """Numbers no model may hold (connector/bounds.py): YAML's .inf and .nan, and whole numbers
    past 64 bits, which SQLite cannot store."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _unbounded_numbers(doc, v, (*loc, str(k)))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _unbounded_numbers(doc, v, (*loc, i))]
    if isinstance(value, float) and not math.isfinite(value):
        return [doc.problem(loc, f"got {value!r}: use a finite number")]
    wide = isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX
    if wide:
        return [doc.problem(loc, "the number does not fit 64 bits; use a smaller one")]
    return []


def _duplicate_keys(doc: YamlDoc, node: yaml.Node | None, loc: _Loc) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            name = str(key.value)
            line = key.start_mark.line + 1
            if name in seen:
                text = (
                    f"{doc.path}:{line}: {format_path((*loc, name))}: duplicate key (first at "
                    f"line {seen[name]}); YAML keeps only the last one, remove one of them"
                )
                out.append((line, text))
            seen.setdefault(name, line)
            out.extend(_duplicate_keys(doc, value, (*loc, name)))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out.extend(_duplicate_keys(doc, item, (*loc, i)))
    return out


def _schema_keys(model_cls: type[BaseModel]) -> list[str]:
    keys: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            props = node.get("properties")
            if isinstance(props, dict):
                keys.update(props)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(model_cls.model_json_schema())
    return sorted(keys)


def _message(err: Any, keys: list[str]) -> str:
    kind, msg, given = err["type"], str(err["msg"]), err.get("input")
    if kind == "extra_forbidden":
        key = str(err["loc"][-1])
        close = difflib.get_close_matches(key, keys, n=1)
        hint = f"did you mean '{close[0]}'?" if close else "remove it or fix its spelling"
        return f"unknown key '{key}'; {hint}"
    if kind == "missing":
        return "required key is missing; add it"
    if kind in ("value_error", "assertion_error"):
        return msg.split(", ", 1)[1] if ", " in msg else msg
    if kind == "string_type" and isinstance(given, bool | int | float | None):
        return f"expected text, got {given!r}; quote it (YAML reads yes/no/on/off as booleans)"
    text = msg[:1].lower() + msg[1:]
    if isinstance(given, str | int | float | bool) and kind != "transform":
        text = f"got {given!r}: {text}"
    return text


def _load(
    path: Path, model_cls: type[M], *check_args: Any
) -> tuple[M | None, YamlDoc | None, list[tuple[int, str]]]:
    doc, problems = _read(path)
    if doc is None:
        return None, None, problems
    try:
        obj = model_cls.model_validate(doc.data, context={DEFER_CHECKS: True})
    except ValidationError as exc:
        keys = _schema_keys(model_cls)
        problems += [doc.problem(e["loc"], _message(e, keys)) for e in exc.errors()]
        return None, doc, problems
    check = getattr(obj, "check", None)
    found: list[Problem] = check(*check_args) if callable(check) else []
    problems += [doc.problem(p, m) for p, m in found]
    return obj, doc, problems


def _meaning(key: str) -> str:
    known = KNOWN_VALUES.get(key)
    return f" ({known.description.rstrip('.')})" if known else ""


def _lines(problems: list[tuple[int, str]]) -> list[str]:
    return [text for _, text in sorted(problems, key=lambda p: p[0])]


def load_yaml_model(path: str | Path, model_cls: type[M]) -> M:
    """Load one YAML file into `model_cls`; raise MappingError listing every problem with its line.

    When the model has a `check()` method returning (path, message) pairs, those problems are
    reported too; validation runs with the DEFER_CHECKS context so the model leaves them to it.
    """
    obj, _, problems = _load(Path(path), model_cls)
    if problems or obj is None:
        raise MappingError(_lines(problems))
    return obj


def load_mappings(directory: str | Path, known_values: set[str] | None = None) -> list[MappingFile]:
    """Load every mappings/*.yaml file; raise one MappingError listing every problem in all files.

    Beyond each file's own rules, checks that no Salesforce field is written twice and, when
    `known_values` is given, that every `value:` is a key the engine computes.
    """
    root = Path(directory)
    if not root.is_dir():
        raise MappingError([f"{root}: no such directory; create it with one YAML file per object"])
    kinds = {k: v.kind for k, v in KNOWN_VALUES.items()}
    files = sorted([*root.glob("*.yaml"), *root.glob("*.yml")])
    if not files:
        # An empty folder would sync nothing, run after run, and report success each time.
        hint = "add one per object, or point L2L_MAPPINGS_DIR at the folder that has them"
        raise MappingError([f"{root}: no mapping files (*.yaml); {hint}"])
    problems: list[str] = []
    loaded: list[MappingFile] = []
    targets: dict[tuple[str, str], str] = {}
    for path in files:
        mf, doc, found = _load(path, MappingFile, kinds)
        if mf is None or doc is None:
            problems.extend(_lines(found))
            continue
        mf._source = str(path)
        for i, f in enumerate(mf.fields):
            line, _ = doc.locate(("fields", i))
            f._where = f"{path}:{line}"
            target = (mf.object.lower(), f.field.lower())
            if target in targets:
                found.append(
                    doc.problem(
                        ("fields", i, "field"),
                        f"{mf.object}.{f.field} is already written at {targets[target]}; "
                        "a field takes one value, remove or rename one of them",
                    )
                )
            else:
                targets[target] = f._where
            if known_values is not None and f.value not in known_values:
                close = difflib.get_close_matches(f.value, sorted(known_values), n=1)
                hint = (
                    f"did you mean '{close[0]}'{_meaning(close[0])}?"
                    if close
                    else "check the spelling; `lead2loyalty values` lists them"
                )
                found.append(
                    doc.problem(
                        ("fields", i, "value"), f"'{f.value}' is not a computed value; {hint}"
                    )
                )
        problems.extend(_lines(found))
        loaded.append(mf)
    if problems:
        raise MappingError(problems)
    return loaded


def load_registered_mappings(directory: str | Path) -> list[MappingFile]:
    """:func:`load_mappings` with every ``value:`` checked against the registry
    (``connector/mapping/values.py``): what every command and the sync load."""
    return load_mappings(directory, set(KNOWN_VALUES))
