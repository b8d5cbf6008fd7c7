"""Mappings: every object's mapped fields, and an edit of one field's rounding with a preview of
the values it would write (the rules of the edit are in :mod:`connector.admin.console`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from connector.errors import MappingError, RunInProgress
from connector.mapping import load_registered_mappings
from connector.mapping.models import FieldMapping, MappingFile
from connector.store.admin import DOCTOR_REPORT
from connector.web import intake
from connector.web.admin.blueprint import bp

#: The read-only permission set for people (``lead2loyalty fields deploy`` makes it; the
#: doctor's line about it says who holds it).
READ_SET = "L2L_Read"


def _steps(field: FieldMapping) -> str:
    """A field's transform steps as the YAML spells them, e.g. ``round: 1, default: 0``."""
    parts = []
    for step in field.transform:
        for key, value in step.model_dump(exclude_defaults=False).items():
            parts.append(key if value is True else f"{key}: {value}")
    return ", ".join(parts)


def _rounding(field: FieldMapping) -> int | None:
    for step in field.transform:
        places = getattr(step, "round", None)
        if isinstance(places, int):
            return places
    return None


#: The last load per folder, with the files' (name, size, mtime) it was made from: parsing and
#: validating the shipped mappings took 60-70 ms a request; a stat of each file is far less.
_CACHE: dict[Path, tuple[tuple[tuple[str, int, int], ...], list[MappingFile], list[str]]] = {}


def _loaded() -> tuple[list[MappingFile], list[str]]:
    """The mappings folder loaded as ``validate`` loads it: (files, problems)."""
    folder = intake.settings().mappings_dir
    try:
        stamp = tuple(
            (p.name, st.st_size, st.st_mtime_ns)
            for p in sorted(folder.iterdir())
            if p.suffix in (".yaml", ".yml") and (st := p.stat())
        )
    except OSError:
        stamp = ()
    cached = _CACHE.get(folder)
    if cached is not None and cached[0] == stamp and stamp:
        return cached[1], cached[2]
    try:
        loaded: tuple[list[MappingFile], list[str]] = (load_registered_mappings(folder), [])
    except MappingError as exc:
        loaded = ([], list(exc.problems))
    _CACHE[folder] = (stamp, *loaded)
    return loaded


def mapped_field(obj: str, value: str) -> str | None:
    """The field of ``obj`` that the mappings write ``value`` to, if any."""
    files, _ = _loaded()
    for mf in files:
        for f in mf.fields:
            if mf.object == obj and f.value == value:
                return f.field
    return None


def mapped_names() -> tuple[list[str], list[str]]:
    """The objects and the fields the mappings write (the value log filter's choices)."""
    files, _ = _loaded()
    objects = sorted({mf.object for mf in files})
    return objects, sorted({f.field for mf in files for f in mf.fields})


def deploy_state() -> tuple[dict[str, dict[str, str]], dict[str, Any] | None]:
    """Each checked field's line of the last ``lead2loyalty doctor`` (``"Object.Field"`` ->
    its check: status ok/fail, what was found, the fix), and that run (when, and its
    ``permission set L2L_Read`` line: who holds it), or None before any. Read from the
    database, where the doctor keeps it: asking the org per request would cost describe calls
    and seconds."""
    text = intake.store().records.state(DOCTOR_REPORT)
    if not text:
        return {}, None
    try:
        kept = json.loads(text)
        checks = [c for c in kept.get("checks", []) if isinstance(c, dict)]
    except (ValueError, AttributeError):
        return {}, None
    fields = {
        str(c["check"]).removeprefix("field "): c
        for c in checks
        if str(c.get("check", "")).startswith("field ")
    }
    read = next(
        (c for c in checks if str(c.get("check", "")).endswith(f" {READ_SET}")),
        None,
    )
    return fields, {"at": str(kept.get("at", "")), "read": read}


@bp.get("/mappings")
def mappings() -> ResponseReturnValue:
    """Every mapping file: its object and fields (value, field, type, transform, deploy state
    as the last ``doctor`` found it)."""
    files, problems = _loaded()
    states, checked = deploy_state()
    shown = [
        {
            "name": Path(mf._source).name,
            "object": mf.object,
            "person": mf.person,
            "fields": [
                {
                    "index": i,
                    "value": f.value,
                    "field": f.field,
                    "type": f.type,
                    "transform": _steps(f),
                    "deploy": states.get(f"{mf.object}.{f.field}"),
                }
                for i, f in enumerate(mf.fields)
            ],
        }
        for mf in files
    ]
    return render_template("admin/mappings.html", files=shown, problems=problems, checked=checked)


def _field(name: str, index: int) -> tuple[MappingFile, FieldMapping, Path]:
    files, _ = _loaded()
    found = [
        (mf, mf.fields[index], Path(mf._source))
        for mf in files
        if Path(mf._source).name == name and 0 <= index < len(mf.fields)
    ]
    if not found:
        abort(404)
    return found[0]


@bp.route("/mappings/<name>/<int:index>", methods=["GET", "POST"])
def edit(name: str, index: int) -> ResponseReturnValue:
    """One field's rounding: preview the values it would write, then save it to the file."""
    mf, field, path = _field(name, index)
    context: dict[str, Any] = {
        "name": name,
        "index": index,
        "object": mf.object,
        "field": field,
        "transform": _steps(field),
        "rounding": _rounding(field),
        "problems": [],
        "preview": None,
        "asked": None,
    }
    if request.method == "GET":
        return render_template("admin/mapping_edit.html", **context)
    from connector.admin.console import preview_edit, save_edit, with_rounding

    asked = request.form.get("round", "").strip()
    context["asked"] = asked
    try:
        places = None if asked == "" else int(asked)
    except ValueError:
        context["problems"] = [f"round: '{asked}' is not a whole number of decimals"]
        return render_template("admin/mapping_edit.html", **context), 422
    settings = intake.settings()
    original = path.read_text(encoding="utf-8")
    try:
        text = with_rounding(original, index, places)
        if request.form.get("action") == "save":
            save_edit(settings, name, text)
            flash(f"Saved {name}: {mf.object}.{field.field} rounding; validation passed.", "ok")
            return redirect(url_for("admin.mappings"))
        context["preview"] = preview_edit(
            settings, name, text, mf.object, field.field, value=field.value
        )
    except MappingError as exc:
        context["problems"] = list(exc.problems)
        return render_template("admin/mapping_edit.html", **context), 422
    except RunInProgress as exc:
        context["problems"] = [f"no preview now: {exc}"]
        return render_template("admin/mapping_edit.html", **context), 409
    return render_template("admin/mapping_edit.html", **context)
