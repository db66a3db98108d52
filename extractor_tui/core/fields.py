"""Field specs: what to extract, from a JSON Schema, ``--field`` flags or a preset.

Why frozen dataclasses and not pydantic models here: a ``FieldSet`` is hashed into every
request key (so the cache and resume notice a changed field) and passed around the engine
as plain data. Pydantic is where values are read: ``coerce`` validates a value against a
``TypeAdapter`` built once per field shape, and it is the only reader of values.

Three ways in, one shape out:

* ``FieldSet.from_json_schema`` / ``load_schema``: an object schema whose properties are
  strings, numbers, integers, booleans (``"format": "date"`` makes a date) or arrays of
  those. ``FieldSet.to_json_schema`` writes the same subset back (the TUI saves with it).
* ``parse_field_arg`` / ``fields_from_args``: ``--field NAME[!][:TYPE[:DESCRIPTION]]``.
* ``preset(name)``: the built-in sets in ``presets.py``.

Every problem is a ``FieldSpecError`` whose message is one line naming the culprit.
Values are read by ``coerce`` (the parsers it calls live in ``values.py``).
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
from types import GenericAlias, MappingProxyType
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
    plain_number,
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

    def subset(self, names: Sequence[str]) -> FieldSet:
        """The fields named in ``names``, in this set's order (the whole set when all are)."""
        wanted = set(names)
        if wanted >= set(self.names):
            return self
        return FieldSet(tuple(spec for spec in self.fields if spec.name in wanted), self.name)

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
#
# One reading of values, in pydantic: a TypeAdapter per field shape (type, list or not, enum),
# built once. Its before-validator reads a value as written ("17 Jan 2024", "$1,234.50") with
# the parsers of ``values.py``; pydantic then checks the type and, for a list, each item.
# Merge, the edit dialog and the offline provider all call ``coerce``: nothing else reads a
# value, so nothing reads one twice.


def _reader(kind: FieldType, enum: tuple[str, ...] | None) -> Any:
    """One value of ``kind``, as written: parsed before pydantic checks its type."""
    parse: Any = {FieldType.DATE: parse_date, FieldType.NUMBER: parse_number,
                  FieldType.INTEGER: parse_integer, FieldType.BOOLEAN: parse_boolean,
                  FieldType.STRING: clean_text}[kind]
    if enum is not None:
        parse = partial(_one_of, enum)

    def read(raw: object) -> object:
        if raw is None:
            raise ValueError("no value")
        if isinstance(raw, (list, tuple)):
            raise ValueError(f"expected one value, got a list of {len(raw)}")
        return parse(raw)

    base: Any = {FieldType.DATE: str, FieldType.NUMBER: float, FieldType.INTEGER: int,
                 FieldType.BOOLEAN: bool, FieldType.STRING: str}[kind]
    if kind is FieldType.NUMBER:  # a whole amount reads 12450, not 12450.0, everywhere
        return Annotated[base, pydantic.BeforeValidator(read),
                         pydantic.AfterValidator(plain_number)]
    return Annotated[base, pydantic.BeforeValidator(read)]


def _one_of(allowed: tuple[str, ...], raw: object) -> str:
    return match_enum(clean_text(raw), allowed)


def _as_list(raw: object) -> object:
    """A list field takes a single value as a list of one."""
    return list(raw) if isinstance(raw, (list, tuple)) else [raw]


@lru_cache(maxsize=256)
def _adapter(kind: FieldType, many: bool, enum: tuple[str, ...] | None
             ) -> pydantic.TypeAdapter[Any]:
    one = _reader(kind, enum)
    listed = GenericAlias(list, (one,))
    shape: Any = Annotated[listed, pydantic.BeforeValidator(_as_list)] if many else one
    return pydantic.TypeAdapter(shape)


def coerce(spec: FieldSpec, raw: object, *, item: bool = False) -> object:
    """``raw`` as the field's type: ISO date string, number (an int when whole), int, bool
    or clean text; one of ``spec.enum`` when it has one.

    For a list field each element is read (a single value counts as a one-item list);
    ``item`` reads one element of it. Raises ``ValueError`` with a short message when a
    value cannot be read ("not a date: 'soon'", "item 2: no value").
    """
    try:
        return _adapter(spec.type, spec.many and not item, spec.enum).validate_python(raw)
    except pydantic.ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        loc = error.get("loc", ())
        if loc and isinstance(loc[0], int):
            message = f"item {loc[0] + 1}: {message}"
        raise ValueError(message) from None
