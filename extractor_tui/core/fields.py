"""Field specs: what to extract, from a JSON Schema, ``--field`` flags or a preset.

Why frozen dataclasses and not pydantic models here: a ``FieldSet`` is hashed into every
request key (so the cache and resume notice a changed field) and passed around the engine
as plain data. Pydantic appears only at the edges: ``output_model()`` builds the model that
validates merged values, and ``from_json_schema`` reads the user's file.

Three ways in, one shape out:

* ``FieldSet.from_json_schema`` / ``load_schema``: an object schema whose properties are
  strings, numbers, integers, booleans (``"format": "date"`` makes a date) or arrays of
  those. ``FieldSet.to_json_schema`` writes the same subset back (the TUI saves with it).
* ``parse_field_arg`` / ``fields_from_args``: ``--field NAME[!][:TYPE[:DESCRIPTION]]``.
* ``preset(name)``: the built-in sets in ``presets.py``.

Every problem is a ``FieldSpecError`` whose message is one line naming the culprit.
Values are read by ``coerce`` (the parsers live in ``values.py``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property, lru_cache, partial
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any

import pydantic

from extractor_tui.core.presets import PRESET_DATA
from extractor_tui.core.values import (
    clean_text,
    match_enum,
    parse_boolean,
    parse_date,
    parse_integer,
    parse_number,
)
from extractor_tui.errors import FieldSpecError

__all__ = [
    "FIELD_NAME",
    "PRESETS",
    "FieldSet",
    "FieldSpec",
    "FieldType",
    "coerce",
    "fields_from_args",
    "load_schema",
    "output_model",
    "parse_field_arg",
    "preset",
]

FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
"""What a field name may look like: it becomes a JSON key, a CSV column and a Python name."""


class FieldType(StrEnum):
    """The value types a field can have; ``many`` on the spec makes it a list of them."""

    STRING = "string"
    NUMBER = "number"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    DATE = "date"


@dataclass(frozen=True)
class FieldSpec:
    """One field: its name, type, whether it is a list, the instruction, required, enum."""

    name: str
    type: FieldType = FieldType.STRING
    many: bool = False
    description: str = ""
    required: bool = False
    enum: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.enum is not None and not isinstance(self.enum, tuple):  # keep it hashable
            object.__setattr__(self, "enum", tuple(self.enum))
        if not isinstance(self.name, str) or not FIELD_NAME.fullmatch(self.name):
            raise FieldSpecError(f"field name {self.name!r} is not valid: use letters, digits "
                                 "and _, not starting with a digit, at most 64 characters")
        if self.enum is not None:
            if self.type is not FieldType.STRING:
                raise FieldSpecError(f"field {self.name!r}: enum is only allowed on strings")
            if not self.enum or not all(isinstance(v, str) and v.strip() for v in self.enum):
                raise FieldSpecError(f"field {self.name!r}: enum must list non-empty strings")

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "type": self.type.value, "many": self.many,
                "description": self.description, "required": self.required,
                "enum": list(self.enum) if self.enum is not None else None}


@dataclass(frozen=True)
class FieldSet:
    """An ordered set of fields with unique names."""

    fields: tuple[FieldSpec, ...]
    name: str = "custom"

    def __post_init__(self) -> None:
        if not isinstance(self.fields, tuple):  # hashed into caches and request keys
            object.__setattr__(self, "fields", tuple(self.fields))
        seen: set[str] = set()
        for spec in self.fields:
            if spec.name in seen:
                raise FieldSpecError(f"field {spec.name!r} is defined twice")
            seen.add(spec.name)

    def __iter__(self) -> Iterator[FieldSpec]:
        return iter(self.fields)

    def __len__(self) -> int:
        return len(self.fields)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.fields)

    def get(self, name: str) -> FieldSpec | None:
        for spec in self.fields:
            if spec.name == name:
                return spec
        return None

    @cached_property
    def _fingerprint(self) -> str:
        data = json.dumps([spec.as_dict() for spec in self.fields], sort_keys=True)
        return hashlib.sha256(data.encode()).hexdigest()[:16]

    def fingerprint(self) -> str:
        """A stable hash of everything that changes what a model is asked (computed once:
        it is part of every chunk's request key)."""
        return self._fingerprint

    @classmethod
    def from_json_schema(cls, data: Mapping[str, Any], name: str = "schema") -> FieldSet:
        """Fields from an object schema (the subset described in the module docstring)."""
        if not isinstance(data, Mapping):
            raise FieldSpecError("schema must be a JSON object")
        if data.get("type", "object") != "object":
            raise FieldSpecError(f"schema type must be \"object\", not {data.get('type')!r}")
        props = data.get("properties")
        if not isinstance(props, Mapping) or not props:
            raise FieldSpecError("schema has no \"properties\": list the fields to extract there")
        required = data.get("required", [])
        if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
            raise FieldSpecError("schema \"required\" must be a list of property names")
        for missing in [r for r in required if r not in props]:
            raise FieldSpecError(f"schema \"required\" names {missing!r}, which is not a property")
        specs = [_spec_from_property(key, prop, key in required) for key, prop in props.items()]
        if not specs:
            raise FieldSpecError("schema has no properties")
        return cls(tuple(specs), name)

    def to_json_schema(self) -> dict[str, Any]:
        """The JSON Schema ``from_json_schema`` reads back into an equal ``FieldSet``."""
        properties: dict[str, Any] = {}
        for spec in self.fields:
            item: dict[str, Any] = ({"type": "string", "format": "date"}
                                    if spec.type is FieldType.DATE else {"type": spec.type.value})
            if spec.enum is not None:
                item["enum"] = list(spec.enum)
            prop = {"type": "array", "items": item} if spec.many else item
            if spec.description:
                prop["description"] = spec.description
            properties[spec.name] = prop
        return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": self.name,
                "type": "object", "properties": properties,
                "required": [spec.name for spec in self.fields if spec.required],
                "additionalProperties": False}


# --------------------------------------------------------------------------- JSON Schema

_SCALAR_TYPES = {"string", "number", "integer", "boolean"}
_SUPPORTED = "string, number, integer, boolean, or an array of those"


def _spec_from_property(key: object, prop: object, required: bool) -> FieldSpec:
    if not isinstance(key, str) or not FIELD_NAME.fullmatch(key):
        raise FieldSpecError(f"property {key!r}: not a valid field name (letters, digits and _, "
                             "not starting with a digit, at most 64 characters)")
    if not isinstance(prop, Mapping):
        raise FieldSpecError(f"property {key!r}: must be an object like {{\"type\": \"string\"}}")
    description = prop.get("description", "")
    if not isinstance(description, str):
        raise FieldSpecError(f"property {key!r}: description must be a string")
    kind = _type_of(key, prop)
    many = kind == "array"
    inner: Mapping[str, Any] = prop
    if many:
        items = prop.get("items")
        if not isinstance(items, Mapping):
            raise FieldSpecError(f"property {key!r}: an array needs \"items\" with a type")
        inner = items
        kind = _type_of(key, inner)
        if kind == "array":
            raise FieldSpecError(f"property {key!r}: arrays of arrays are not supported")
        if not description and isinstance(inner.get("description"), str):
            description = inner["description"]
    field_type = FieldType(kind)
    if inner.get("format") == "date":
        if field_type is not FieldType.STRING:
            raise FieldSpecError(f"property {key!r}: \"format\": \"date\" needs type string")
        field_type = FieldType.DATE
    enum = inner.get("enum")
    if enum is not None:
        if (field_type is not FieldType.STRING or not isinstance(enum, list) or not enum
                or not all(isinstance(v, str) and v.strip() for v in enum)):
            raise FieldSpecError(f"property {key!r}: enum must be a list of strings "
                                 "on a string property")
    try:
        return FieldSpec(key, field_type, many, description.strip(), required,
                         tuple(enum) if enum is not None else None)
    except FieldSpecError as exc:
        raise FieldSpecError(f"property {key!r}: {exc}") from None


def _type_of(key: str, prop: Mapping[str, Any]) -> str:
    """The one JSON type of a property; ``["string", "null"]`` counts as string."""
    for word in ("$ref", "anyOf", "oneOf", "allOf", "properties"):
        if word in prop:
            raise FieldSpecError(f"property {key!r}: {word!r} is not supported (use {_SUPPORTED})")
    kind = prop.get("type", "string" if "enum" in prop else None)
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        kind = kinds[0] if len(kinds) == 1 else kind
    if isinstance(kind, str) and (kind == "array" or kind in _SCALAR_TYPES):
        return kind
    raise FieldSpecError(f"property {key!r}: type {kind!r} is not supported (use {_SUPPORTED})")


def load_schema(path: Path | str) -> FieldSet:
    """A ``FieldSet`` from a JSON Schema file; every problem is one line with the path."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise FieldSpecError(f"{path}: no such schema file") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise FieldSpecError(f"{path}: cannot read schema: {reason}") from None
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise FieldSpecError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno} "
                             f"column {exc.colno}") from None
    except FieldSpecError as exc:
        raise FieldSpecError(f"{path}: {exc}") from None
    except RecursionError:  # json's decoder recurses once per level of nesting
        raise FieldSpecError(f"{path}: nested too deeply (a field schema needs a few levels, "
                             "not thousands)") from None
    try:
        return FieldSet.from_json_schema(data, name=path.stem)
    except FieldSpecError as exc:
        raise FieldSpecError(f"{path}: {exc}") from None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise FieldSpecError(f"key {key!r} appears twice in one object")
        result[key] = value
    return result


# --------------------------------------------------------------------------- --field

_TYPE_WORDS = {
    "string": FieldType.STRING, "str": FieldType.STRING, "text": FieldType.STRING,
    "number": FieldType.NUMBER, "float": FieldType.NUMBER, "decimal": FieldType.NUMBER,
    "integer": FieldType.INTEGER, "int": FieldType.INTEGER,
    "boolean": FieldType.BOOLEAN, "bool": FieldType.BOOLEAN,
    "date": FieldType.DATE,
}
_FIELD_HINT = ("use NAME[!][:TYPE[:DESCRIPTION]], TYPE one of string, number, integer, "
               "boolean, date, with [] for a list (e.g. parties:string[]:Names of the parties "
               "or total!:number)")


def parse_field_arg(text: str) -> FieldSpec:
    """One ``--field NAME[!][:TYPE[:DESCRIPTION]]`` value.

    * NAME: letters, digits and ``_``; a trailing ``!`` marks the field required
      (``total!:number``).
    * TYPE: ``string`` (default when empty or absent), ``number``, ``integer``, ``boolean``
      or ``date`` (also ``str``, ``text``, ``float``, ``int``, ``bool``), case-insensitive;
      ``string[]`` or ``list[string]`` makes a list.
    * DESCRIPTION: everything after the second colon, colons included: the instruction.
    """
    raw = text
    name, _, rest = text.partition(":")
    type_text, _, description = rest.partition(":")
    name = name.strip()
    required = name.endswith("!")
    name = name.rstrip("!").strip()
    if not name:
        raise FieldSpecError(f"--field {raw!r}: the name is missing; {_FIELD_HINT}")
    if not FIELD_NAME.fullmatch(name):
        raise FieldSpecError(f"--field {raw!r}: {name!r} is not a valid name (letters, digits "
                             "and _, not starting with a digit); " + _FIELD_HINT)
    type_text = type_text.strip().lower()
    many = False
    if type_text.endswith("[]"):
        many, type_text = True, type_text[:-2].strip()
    elif (match := re.fullmatch(r"(?:list|array)\[(.*)\]", type_text)) is not None:
        many, type_text = True, match[1].strip()
    field_type = _TYPE_WORDS.get(type_text or "string")
    if field_type is None:
        raise FieldSpecError(f"--field {raw!r}: unknown type {type_text!r}; {_FIELD_HINT}")
    return FieldSpec(name, field_type, many, description.strip(), required)


def fields_from_args(args: Sequence[str], name: str = "custom") -> FieldSet:
    """A ``FieldSet`` from several ``--field`` values; a name given twice is an error."""
    specs = [parse_field_arg(arg) for arg in args]
    if not specs:
        raise FieldSpecError(f"no fields given; {_FIELD_HINT}")
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            raise FieldSpecError(f"--field {spec.name!r} is given twice")
        seen.add(spec.name)
    return FieldSet(tuple(specs), name)


# --------------------------------------------------------------------------- presets

PRESETS: Mapping[str, FieldSet] = MappingProxyType({
    key: FieldSet(tuple(FieldSpec(name, FieldType(kind), many, description, required)
                        for name, kind, many, required, description in rows), key)
    for key, rows in PRESET_DATA.items()
})


def preset(name: str) -> FieldSet:
    """A built-in field set by name (case-insensitive)."""
    found = PRESETS.get(name.strip().lower())
    if found is None:
        raise FieldSpecError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    return found


# --------------------------------------------------------------------------- values


def _coerce_one(spec: FieldSpec, raw: object) -> object:
    if raw is None:
        raise ValueError("no value")
    if spec.type is FieldType.DATE:
        return parse_date(raw)
    if spec.type is FieldType.NUMBER:
        return parse_number(raw)
    if spec.type is FieldType.INTEGER:
        return parse_integer(raw)
    if spec.type is FieldType.BOOLEAN:
        return parse_boolean(raw)
    text = clean_text(raw)
    return match_enum(text, spec.enum) if spec.enum is not None else text


def coerce(spec: FieldSpec, raw: object) -> object:
    """``raw`` as the field's type: ISO date string, float, int, bool or clean text.

    For a list field each element is coerced (a single value counts as a one-item list).
    Raises ``ValueError`` with a short message when a value cannot be read.
    """
    if not spec.many:
        if isinstance(raw, (list, tuple)):
            raise ValueError(f"expected one value, got a list of {len(raw)}")
        return _coerce_one(spec, raw)
    items = list(raw) if isinstance(raw, (list, tuple)) else [raw]
    result: list[object] = []
    for n, item in enumerate(items, 1):
        try:
            result.append(_coerce_one(spec, item))
        except ValueError as exc:
            raise ValueError(f"item {n}: {exc}") from None
    return result


_PY_TYPES: dict[FieldType, type] = {FieldType.STRING: str, FieldType.NUMBER: float,
                                    FieldType.INTEGER: int, FieldType.BOOLEAN: bool,
                                    FieldType.DATE: str}


def _validate(spec: FieldSpec, value: object) -> object:
    return None if value is None and not spec.required else coerce(spec, value)


@lru_cache(maxsize=64)  # create_model takes milliseconds; merge validates every document
def output_model(fields: FieldSet) -> type[pydantic.BaseModel]:
    """A pydantic model validating one whole record ``{field name: value}`` with ``coerce``.

    Required fields must be present and non-null; the others default to None; list fields
    are lists. Python attribute names are the field names where pydantic allows them
    (``field_<n>`` otherwise, e.g. for ``_x`` or ``model_x``); the alias is always the field
    name, so validate and dump with field names (``model_dump(by_alias=True)``).
    """
    definitions: dict[str, Any] = {}
    reserved = set(dir(pydantic.BaseModel))
    names = set(fields.names)
    for n, spec in enumerate(fields):
        base: Any = _PY_TYPES[spec.type]
        annotation: Any = list[base] if spec.many else base
        if not spec.required:
            annotation = annotation | None
        attr = spec.name
        if attr.startswith(("_", "model_")) or attr in reserved:
            attr = f"field_{n}"
            while attr in names:  # never take another field's own name
                attr += "_"
        default: Any = ... if spec.required else None
        definitions[attr] = (
            Annotated[annotation, pydantic.BeforeValidator(partial(_validate, spec))],
            pydantic.Field(default, alias=spec.name, description=spec.description or None),
        )
    config = pydantic.ConfigDict(extra="forbid", populate_by_name=True, frozen=True)
    model: type[pydantic.BaseModel] = pydantic.create_model(
        f"{_model_name(fields.name)}Record", __config__=config, **definitions)
    return model


def _model_name(name: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", name)
    title = "".join(word[:1].upper() + word[1:] for word in words)
    return title if title[:1].isalpha() else f"Fields{title}"
