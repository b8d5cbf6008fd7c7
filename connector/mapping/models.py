"""Typed models of a mapping file: the source of truth for mappings/*.yaml and its JSON Schema.

A mapping file names one Salesforce object and, for each computed value, the field it lands in,
the field's type and size (used to deploy it) and the transforms that turn the value into what
the field holds. Rules that span several keys live in `check()`, which returns every problem with
its path, so the loader can point at the exact line; built in code, a model raises them at once.
"""

from __future__ import annotations

import builtins
import math
import re
import string
from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from connector.mapping.values import KNOWN_VALUES

#: Validation context key: the loader sets it so cross-key rules are reported with line numbers.
DEFER_CHECKS = "l2l_defer_checks"

FieldType = Literal[
    "number", "currency", "percent", "text", "textarea", "date", "datetime", "checkbox", "picklist"
]
PersonKind = Literal["contact", "lead", "account", "order", "case"]
Path = tuple[str | int, ...]
Problem = tuple[Path, str]

NUMERIC_TYPES: frozenset[str] = frozenset({"number", "currency", "percent"})
TEXT_TYPES: frozenset[str] = frozenset({"text", "textarea"})
PERSON_OBJECTS: dict[str, str] = {
    "contact": "Contact",
    "lead": "Lead",
    "account": "Account",
    "order": "Order",  # per-order values (order risk), one record per Order
    "case": "Case",  # per-case values (what its newest message says), one record per Case
}

CUSTOM_FIELD_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*__c$")
STANDARD_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
OBJECT_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
MAX_CUSTOM_NAME = 40
TEXT_MAX = 255
LONG_TEXT_MIN, LONG_TEXT_MAX = 256, 131072
# Deploy defaults when a mapping leaves size out: (precision, scale) and text lengths.
DEFAULT_DIGITS: dict[str, tuple[int, int]] = {
    "number": (18, 0),
    "currency": (18, 2),
    "percent": (5, 2),
}
DEFAULT_LENGTH: dict[str, int] = {"text": TEXT_MAX, "textarea": 32768}
DEFAULT_VISIBLE_LINES = 3

_STRICT = ConfigDict(extra="forbid", frozen=True)


def _check_template(text: str) -> str:
    """Allow only `{name}` / `{name:spec}` placeholders: admin input must not reach attributes."""
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ValueError(
            f"template is not valid ({exc}); write literal braces as {{{{ }}}}"
        ) from exc
    for _, name, spec, _conversion in parts:
        if name is None:
            continue
        if not name.isidentifier():
            raise ValueError(
                f"placeholder {{{name}}} is not allowed; use {{value}} or a key of the value "
                "such as {score}, without dots, brackets or positions"
            )
        if spec and ("{" in spec or re.search(r"\d{4,}", spec)):
            raise ValueError(f"format spec ':{spec}' is not allowed; keep it simple, like :.1f")
    return text


class _Step(BaseModel):
    model_config = _STRICT


class Round(_Step):
    """Round a number to this many decimals (0 for whole numbers)."""

    round: int = Field(ge=-9, le=17)


class Multiply(_Step):
    """Multiply a number by this factor (e.g. 0.001 to show thousands)."""

    multiply: float = Field(allow_inf_nan=False)


class Clamp(_Step):
    """Keep a number within [low, high]."""

    clamp: tuple[float, float]

    @field_validator("clamp")
    @classmethod
    def _ordered(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not all(math.isfinite(x) for x in v) or v[0] > v[1]:
            raise ValueError("clamp needs [low, high] with low <= high, e.g. [0, 100]")
        return v


def _or_bare_word(schema: dict[str, Any]) -> None:
    # The YAML may say `- percent` instead of `- percent: true`; editors should accept both.
    obj = dict(schema)
    schema.clear()
    schema.update(
        title=obj.get("title"),
        description=obj.get("description"),
        anyOf=[obj, {"const": "percent"}],
    )


class Percent(_Step):
    """Turn a fraction 0..1 into a percentage 0..100. Written as a bare `- percent`."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_or_bare_word)

    percent: Literal[True] = True

    @model_validator(mode="before")
    @classmethod
    def _bare(cls, v: Any) -> Any:
        return {} if v == "percent" else v


class Template(_Step):
    """Format the value into text: `{value}` is the value; `{key}` a key of a dict value."""

    template: Annotated[str, BeforeValidator(_check_template)]


class DateFormat(_Step):
    """Format a date or datetime as Salesforce text: `date` YYYY-MM-DD, `datetime` ISO 8601 UTC."""

    date: Literal["date", "datetime"]


class PicklistMap(_Step):
    """Replace a value by a label; a value not listed is an error for that record."""

    picklist: dict[Annotated[str, BeforeValidator(lambda k: str(k))], str] = Field(min_length=1)


class Truncate(_Step):
    """Cut text to at most this many characters."""

    truncate: int = Field(ge=1, le=LONG_TEXT_MAX)


class Default(_Step):
    """Use this value when the computed value is None (otherwise None clears the field)."""

    default: bool | int | float | str


TRANSFORMS: dict[str, type[_Step]] = {
    "round": Round,
    "multiply": Multiply,
    "clamp": Clamp,
    "percent": Percent,
    "template": Template,
    "date": DateFormat,
    "picklist": PicklistMap,
    "truncate": Truncate,
    "default": Default,
}


def _transform_tag(v: Any) -> str | None:
    if isinstance(v, _Step):
        return next(iter(type(v).model_fields))
    if isinstance(v, str):
        return v
    if isinstance(v, dict) and len(v) == 1:
        key = next(iter(v))
        return key if isinstance(key, str) else None
    return None


Transform = Annotated[
    Annotated[Round, Tag("round")]
    | Annotated[Multiply, Tag("multiply")]
    | Annotated[Clamp, Tag("clamp")]
    | Annotated[Percent, Tag("percent")]
    | Annotated[Template, Tag("template")]
    | Annotated[DateFormat, Tag("date")]
    | Annotated[PicklistMap, Tag("picklist")]
    | Annotated[Truncate, Tag("truncate")]
    | Annotated[Default, Tag("default")],
    Discriminator(
        _transform_tag,
        custom_error_type="transform",
        custom_error_message=(
            "expected one transform per item, such as `- round: 2`; known transforms: "
            + ", ".join(TRANSFORMS)
        ),
    ),
]

# Static kinds a value can have while it flows through the transform chain.
_KIND_OF_TYPE: dict[type, str] = {
    bool: "bool",
    int: "number",
    float: "number",
    str: "text",
    datetime: "datetime",
    date: "date",
}
_NUMBER_STEPS = ("round", "multiply", "clamp", "percent")


def kind_of(python_type: type | None) -> str:
    """The static kind ('number', 'text', 'date', ...) of a Python type; 'any' when unknown."""
    if python_type is None:
        return "any"
    for t, kind in _KIND_OF_TYPE.items():
        if issubclass(python_type, t):
            return kind
    return "any"


def program_key(value: str, program: str) -> str:
    """The computed column of a loyalty ``value`` for one ``program``: ``value@program``."""
    return f"{value}@{program}"


class FieldMapping(BaseModel):
    """One computed value written to one Salesforce field."""

    model_config = _STRICT

    value: str = Field(
        pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$",
        description="Computed value key, e.g. rfm.order_count; `lead2loyalty values` lists them.",
        # Editors offer (and check) the registered keys; `validate` says the same, with a hint.
        json_schema_extra={"enum": list(KNOWN_VALUES)},
    )
    field: str = Field(description="Target field API name; custom fields end in __c.")
    type: FieldType = Field(description="Salesforce field type the value is written as.")
    label: str | None = Field(
        None, min_length=1, max_length=40, description="Field label for deploy."
    )
    description: str | None = Field(None, max_length=1000, description="Field description.")
    help: str | None = Field(
        None, max_length=510, description="Inline help text shown next to the field."
    )
    precision: int | None = Field(
        None, ge=1, le=18, description="number/currency/percent: total digits, decimals included."
    )
    scale: int | None = Field(
        None, ge=0, le=17, description="number/currency/percent: digits after the decimal point."
    )
    length: int | None = Field(
        None, ge=1, le=LONG_TEXT_MAX, description="text (max 255) / textarea: maximum characters."
    )
    visible_lines: int | None = Field(
        None, ge=2, le=50, description="textarea: lines shown on the page layout."
    )
    picklist: dict[Annotated[str, BeforeValidator(lambda k: str(k))], str] | None = Field(
        None, description="picklist: computed value -> label written; the labels are deployed."
    )
    picklist_default: str | None = Field(
        None, description="picklist: label for values not in `picklist` (else an error)."
    )
    transform: list[Transform] = Field(
        default_factory=list, description="Steps applied in order to the computed value."
    )
    min_change: float | None = Field(
        None,
        gt=0,
        allow_inf_nan=False,
        description="number/currency/percent: rewrite only when the value moves by at least this "
        "much; date/datetime: by at least this many days (fewer API calls and Flow runs).",
    )
    program: str | None = Field(
        None,
        pattern=r"^[a-z][a-z0-9_]{0,39}$",
        description="loyalty.* values: the program (its id in models/loyalty.yaml) whose "
        "standing the field holds; without it, the first program's.",
    )

    _compiled: Any = PrivateAttr(None)
    _where: str = PrivateAttr("")

    @model_validator(mode="after")
    def _program_for_loyalty(self) -> Self:
        if self.program is not None and not self.value.startswith("loyalty."):
            raise ValueError(
                f"program applies to loyalty.* values only; '{self.value}' has one value per person"
            )
        return self

    @property
    def key(self) -> str:
        """The computed column this field reads: the value, qualified by its program."""
        return self.value if self.program is None else program_key(self.value, self.program)

    @field_validator("field")
    @classmethod
    def _api_name(cls, v: str) -> str:
        if v.endswith("__c"):
            name = v[:-3]
            if not CUSTOM_FIELD_RE.match(v) or "__" in name or name.endswith("_"):
                raise ValueError(
                    f"'{v}' is not a valid custom field API name: start with a letter, then "
                    "letters, digits and single underscores, ending in __c (e.g. L2L_Score__c)"
                )
            if len(name) > MAX_CUSTOM_NAME:
                raise ValueError(
                    f"'{v}' is {len(name)} characters before __c; Salesforce allows "
                    f"{MAX_CUSTOM_NAME}, shorten it"
                )
        elif not STANDARD_NAME_RE.match(v):
            raise ValueError(
                f"'{v}' is not a field API name; custom fields end in __c (e.g. L2L_Score__c)"
            )
        return v

    @property
    def digits(self) -> tuple[int, int]:
        """(precision, scale) used for deploy and rounding; numeric types only."""
        p, s = DEFAULT_DIGITS.get(self.type, (18, 0))
        scale = self.scale if self.scale is not None else s
        precision = self.precision if self.precision is not None else max(p, scale)
        return precision, scale

    @property
    def max_length(self) -> int:
        """Longest text the field holds (text and textarea)."""
        return self.length if self.length is not None else DEFAULT_LENGTH.get(self.type, TEXT_MAX)

    @property
    def display_label(self) -> str:
        """The label to deploy: `label`, or one derived from the API name."""
        if self.label:
            return self.label
        name = self.field.removesuffix("__c").removeprefix("L2L_")
        return name.replace("_", " ")[:40]

    @property
    def is_custom(self) -> bool:
        """True when the target is a custom field (deployable by lead2loyalty)."""
        return self.field.endswith("__c")

    @property
    def where(self) -> str:
        """'file:line' of this mapping when it was loaded from YAML, else ''."""
        return self._where

    def check(self, kinds: Mapping[str, builtins.type] | None = None) -> list[Problem]:
        """Every rule spanning several keys, as (path, message); `kinds`: value key -> type."""
        out: list[Problem] = []
        t = self.type
        numeric = t in NUMERIC_TYPES
        for key in ("precision", "scale"):
            if getattr(self, key) is not None and not numeric:
                out.append(((key,), f"only number, currency and percent fields take {key}"))
        if self.min_change is not None and not (numeric or t in ("date", "datetime")):
            out.append(
                (
                    ("min_change",),
                    "only number, currency, percent, date and datetime fields take min_change",
                )
            )
        if numeric and self.scale is not None and self.scale > (self.precision or 18):
            out.append((("scale",), f"scale {self.scale} exceeds precision {self.precision}"))
        if self.length is not None:
            if t == "text" and self.length > TEXT_MAX:
                out.append((("length",), f"text holds at most {TEXT_MAX}; use type: textarea"))
            elif t == "textarea" and self.length < LONG_TEXT_MIN:
                out.append(
                    (("length",), f"textarea needs length {LONG_TEXT_MIN} or more; use type: text")
                )
            elif t not in TEXT_TYPES:
                out.append((("length",), "only text and textarea fields take length"))
        if self.visible_lines is not None and t != "textarea":
            out.append((("visible_lines",), "only textarea fields take visible_lines"))
        if t == "picklist":
            if not self.picklist:
                out.append(((), "a picklist field needs `picklist: {value: Label, ...}`"))
            elif self.picklist_default is not None and self.picklist_default not in set(
                self.picklist.values()
            ):
                out.append(
                    (("picklist_default",), "must be one of the labels listed in `picklist`")
                )
        else:
            for key in ("picklist", "picklist_default"):
                if getattr(self, key) is not None:
                    out.append(((key,), f"only picklist fields take {key}; use type: picklist"))
        kind = kind_of((kinds or {}).get(self.value))
        for i, step in enumerate(self.transform):
            name = _transform_tag(step) or ""
            if name in _NUMBER_STEPS and kind not in ("number", "any"):
                out.append((("transform", i, name), f"{name} needs a number but gets {kind} here"))
            elif name == "date" and kind not in ("date", "datetime", "text", "any"):
                out.append((("transform", i, name), f"date needs a date but gets {kind} here"))
            elif name == "picklist" and t == "picklist":
                out.append(
                    (
                        ("transform", i, name),
                        "a picklist field maps values with its own `picklist:`; remove this step",
                    )
                )
            if name in _NUMBER_STEPS:
                kind = "number"
            elif name in ("template", "date", "picklist", "truncate"):
                kind = "text"
        if numeric and kind not in ("number", "any"):
            out.append(((), f"a {t} field needs a number but the value is {kind} here"))
        elif t in ("date", "datetime") and kind not in ("date", "datetime", "text", "any"):
            out.append(((), f"a {t} field needs a date but the value is {kind} here"))
        return out

    @model_validator(mode="after")
    def _checked(self, info: ValidationInfo) -> Self:
        if not (info.context or {}).get(DEFER_CHECKS):
            _raise(self.check({k: v.kind for k, v in KNOWN_VALUES.items()}))
        return self


class MappingFile(BaseModel):
    """One mappings/*.yaml file: the fields lead2loyalty writes on one Salesforce object."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        title="lead2loyalty mapping file",
        json_schema_extra={"$schema": "https://json-schema.org/draft/2020-12/schema"},
    )

    object: str = Field(
        pattern=OBJECT_RE.pattern, description="Salesforce object written, e.g. Contact."
    )
    person: PersonKind = Field(
        description="Which records: contact, lead, account (pooled B2B loyalty members, "
        "fulfilment), order (order risk), or case (a Case's sentiment, intent and suggested "
        "priority)."
    )
    fields: list[FieldMapping] = Field(
        default_factory=list, description="Computed value -> field mappings."
    )

    _source: str = PrivateAttr("")

    @property
    def source(self) -> str:
        """The file this mapping was loaded from, or '' when built in code."""
        return self._source

    def check(self, kinds: Mapping[str, type] | None = None) -> list[Problem]:
        """Every rule spanning several keys in this file, as (path, message)."""
        out: list[Problem] = []
        expected = PERSON_OBJECTS[self.person]
        if self.object != expected:
            out.append(
                (
                    ("object",),
                    f"person: {self.person} is written to {expected}; other objects are not "
                    "supported yet",
                )
            )
        for i, f in enumerate(self.fields):
            out.extend((("fields", i, *path), msg) for path, msg in f.check(kinds))
        return out

    @model_validator(mode="after")
    def _checked(self, info: ValidationInfo) -> Self:
        if not (info.context or {}).get(DEFER_CHECKS):
            _raise([p for p in self.check() if p[0][:1] == ("object",)])
        return self


def format_path(path: Path) -> str:
    """Render a path like fields[0].transform[1].round."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top)"


def _raise(problems: list[Problem]) -> None:
    if problems:
        raise ValueError("; ".join(f"{format_path(p)}: {m}" for p, m in problems))
