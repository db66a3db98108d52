"""Field specs from JSON Schema, --field and presets; reading values (``coerce``)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from extractor_tui.core.fields import (
    PRESETS,
    FieldSet,
    FieldSpec,
    FieldType,
    coerce,
    fields_from_args,
    load_schema,
    parse_field_arg,
    preset,
)
from extractor_tui.errors import FieldSpecError

SAMPLES = Path(__file__).resolve().parents[1] / "sample_docs"


def schema(**properties: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties}


# --------------------------------------------------------------------------- JSON Schema


@pytest.mark.parametrize(("prop", "kind", "many"), [
    ({"type": "string"}, FieldType.STRING, False),
    ({"type": "number"}, FieldType.NUMBER, False),
    ({"type": "integer"}, FieldType.INTEGER, False),
    ({"type": "boolean"}, FieldType.BOOLEAN, False),
    ({"type": "string", "format": "date"}, FieldType.DATE, False),
    ({"type": ["string", "null"]}, FieldType.STRING, False),
    ({"type": "array", "items": {"type": "string"}}, FieldType.STRING, True),
    ({"type": "array", "items": {"type": "integer"}}, FieldType.INTEGER, True),
    ({"type": "array", "items": {"type": "string", "format": "date"}}, FieldType.DATE, True),
])
def test_schema_types(prop: dict[str, Any], kind: FieldType, many: bool) -> None:
    fields = FieldSet.from_json_schema(schema(x=prop))
    assert fields.fields == (FieldSpec("x", kind, many),)
    assert fields.name == "schema"


def test_schema_description_enum_required_and_order() -> None:
    fields = FieldSet.from_json_schema({
        "type": "object",
        "properties": {
            "total": {"type": "number", "description": "  The amount due. "},
            "status": {"type": "string", "enum": ["paid", "open"]},
            "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]},
                     "description": "Tags"},
        },
        "required": ["total", "tags"],
    }, name="mine")
    assert fields.name == "mine"
    assert fields.names == ("total", "status", "tags")
    total, status, tags = fields
    assert total == FieldSpec("total", FieldType.NUMBER, description="The amount due.",
                              required=True)
    assert status.enum == ("paid", "open") and not status.required
    assert tags.many and tags.enum == ("a", "b") and tags.required and tags.description == "Tags"


@pytest.mark.parametrize(("data", "words"), [
    ({"type": "array"}, ["object"]),
    ({"type": "object"}, ["properties"]),
    ({"type": "object", "properties": {}}, ["properties"]),
    (schema(addr={"type": "object", "properties": {"x": {"type": "string"}}}), ["'addr'"]),
    (schema(ref={"$ref": "#/$defs/x"}), ["'ref'", "$ref"]),
    (schema(choice={"anyOf": [{"type": "string"}, {"type": "number"}]}), ["'choice'", "anyOf"]),
    (schema(nothing={"type": "null"}), ["'nothing'", "null"]),
    (schema(odd={"type": ["string", "number"]}), ["'odd'"]),
    (schema(arr={"type": "array"}), ["'arr'", "items"]),
    (schema(nested={"type": "array", "items": {"type": "array", "items": {}}}),
     ["'nested'", "arrays of arrays"]),
    (schema(objs={"type": "array", "items": {"type": "object"}}), ["'objs'", "object"]),
    (schema(n={"type": "number", "enum": ["1"]}), ["'n'", "enum"]),
    (schema(e={"type": "string", "enum": []}), ["'e'", "enum"]),
    (schema(d={"type": "number", "format": "date"}), ["'d'", "date"]),
    (schema(s={"type": "string", "description": 3}), ["'s'", "description"]),
    (schema(s="string"), ["'s'"]),
    ({"type": "object", "properties": {"1st": {"type": "string"}}}, ["'1st'", "name"]),
    ({"type": "object", "properties": {"has space": {"type": "string"}}}, ["'has space'"]),
    ({"type": "object", "properties": {"x" * 65: {"type": "string"}}}, ["64"]),
    ({**schema(a={"type": "string"}), "required": ["b"]}, ["'b'", "required"]),
    ({**schema(a={"type": "string"}), "required": "a"}, ["required"]),
])
def test_schema_errors_are_one_clear_line(data: dict[str, Any], words: list[str]) -> None:
    with pytest.raises(FieldSpecError) as info:
        FieldSet.from_json_schema(data)
    message = str(info.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_schema_round_trip_for_every_preset_and_odd_fields() -> None:
    odd = FieldSet((FieldSpec("when", FieldType.DATE, True, "Dates", True),
                    FieldSpec("kind", enum=("A", "b c")),
                    FieldSpec("ok", FieldType.BOOLEAN),
                    FieldSpec("n", FieldType.INTEGER, True)), "odd")
    for fields in [*PRESETS.values(), odd]:
        data = fields.to_json_schema()
        json.dumps(data)  # plain JSON
        assert data["additionalProperties"] is False
        back = FieldSet.from_json_schema(json.loads(json.dumps(data)), name=fields.name)
        assert back == fields
        assert back.fingerprint() == fields.fingerprint()


@given(st.lists(st.tuples(st.from_regex(r"[a-z_][a-z0-9_]{0,10}", fullmatch=True),
                          st.sampled_from(list(FieldType)), st.booleans(), st.booleans(),
                          st.text(max_size=30)),
                min_size=1, max_size=6, unique_by=lambda t: t[0]))
def test_schema_round_trip_property(rows: list[tuple[str, FieldType, bool, bool, str]]) -> None:
    fields = FieldSet(tuple(FieldSpec(name, kind, many, desc.strip(), req)
                            for name, kind, many, req, desc in rows))
    assert FieldSet.from_json_schema(fields.to_json_schema(), name="custom") == fields


def test_load_schema(tmp_path: Path) -> None:
    path = tmp_path / "invoice-fields.json"
    path.write_text(json.dumps(schema(total={"type": "number"})), encoding="utf-8")
    fields = load_schema(path)
    assert fields.name == "invoice-fields" and fields.names == ("total",)


@pytest.mark.parametrize(("content", "words"), [
    (None, ["no such schema file"]),
    ('{"type": "object", "properties": {', ["not valid JSON", "line 1"]),
    ('{"type": "object",\n "properties": {"a": {"type": "string"}, "a": {"type": "number"}}}',
     ["'a'", "twice"]),
    ('{"type": "object", "properties": {"a": {"type": "object"}}}', ["'a'", "not supported"]),
    ("[1, 2]", ["JSON object"]),
])
def test_load_schema_errors_name_the_path(tmp_path: Path, content: str | None,
                                          words: list[str]) -> None:
    path = tmp_path / "s.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(FieldSpecError) as info:
        load_schema(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    for word in words:
        assert word in message


# --------------------------------------------------------------------------- --field


@pytest.mark.parametrize(("text", "expected"), [
    ("vendor", FieldSpec("vendor")),
    ("total:number", FieldSpec("total", FieldType.NUMBER)),
    ("total!:number", FieldSpec("total", FieldType.NUMBER, required=True)),
    ("total!", FieldSpec("total", required=True)),
    ("due:DATE:When payment is due", FieldSpec("due", FieldType.DATE,
                                               description="When payment is due")),
    ("parties:string[]:Names of the parties",
     FieldSpec("parties", many=True, description="Names of the parties")),
    ("days:list[int]", FieldSpec("days", FieldType.INTEGER, many=True)),
    ("paid:bool", FieldSpec("paid", FieldType.BOOLEAN)),
    ("rate:float", FieldSpec("rate", FieldType.NUMBER)),
    ("note::A note: with colons: kept", FieldSpec("note", description="A note: with colons: kept")),
    ("  name  : text : spaced ", FieldSpec("name", description="spaced")),
])
def test_parse_field_arg(text: str, expected: FieldSpec) -> None:
    assert parse_field_arg(text) == expected


@pytest.mark.parametrize(("text", "words"), [
    ("", ["name is missing", "NAME"]),
    (":number", ["name is missing"]),
    ("1total:number", ["'1total'", "not a valid name"]),
    ("total amount:number", ["not a valid name"]),
    ("total:money", ["unknown type 'money'", "string, number, integer, boolean"]),
    ("total:number[][]", ["unknown type"]),
    ("x:list[thing]", ["unknown type 'thing'"]),
])
def test_parse_field_arg_errors_give_a_hint(text: str, words: list[str]) -> None:
    with pytest.raises(FieldSpecError) as info:
        parse_field_arg(text)
    message = str(info.value)
    assert "e.g." in message
    for word in words:
        assert word in message


def test_fields_from_args() -> None:
    fields = fields_from_args(["a", "b:number"])
    assert fields.names == ("a", "b") and fields.name == "custom"
    with pytest.raises(FieldSpecError, match="'a' is given twice"):
        fields_from_args(["a", "a!:number"])
    with pytest.raises(FieldSpecError, match="no fields"):
        fields_from_args([])


def test_spec_and_set_validate_themselves() -> None:
    with pytest.raises(FieldSpecError, match="not valid"):
        FieldSpec("bad-name")
    with pytest.raises(FieldSpecError, match="only allowed on strings"):
        FieldSpec("n", FieldType.NUMBER, enum=("1",))
    with pytest.raises(FieldSpecError, match="defined twice"):
        FieldSet((FieldSpec("a"), FieldSpec("a", FieldType.NUMBER)))


def test_fingerprint_changes_with_anything_the_model_is_asked() -> None:
    base = FieldSet((FieldSpec("a", description="x"),))
    variants = [FieldSet((FieldSpec("b", description="x"),)),
                FieldSet((FieldSpec("a", FieldType.DATE, description="x"),)),
                FieldSet((FieldSpec("a", many=True, description="x"),)),
                FieldSet((FieldSpec("a", description="y"),)),
                FieldSet((FieldSpec("a", description="x", enum=("p",)),)),
                FieldSet((FieldSpec("a", description="x"), FieldSpec("c")))]
    assert len({base.fingerprint(), *(v.fingerprint() for v in variants)}) == 7
    assert base.fingerprint() == FieldSet((FieldSpec("a", description="x"),), "other").fingerprint()


# --------------------------------------------------------------------------- presets


def test_presets_use_the_sample_docs_field_names() -> None:
    expected = json.loads((SAMPLES / "expected.json").read_text(encoding="utf-8"))
    kinds = {"invoice": "invoice", "contract": "contract", "discharge_summary": "medical"}
    for entry in expected.values():
        names = set(entry["fields"]) - {"line_items"}
        assert names == set(preset(kinds[entry["kind"]]).names)
    assert preset("contract").get("parties") == preset("contract").fields[0]
    assert preset("contract").fields[0].many
    spec = preset("contract").get("termination_notice_days")
    assert spec is not None and spec.type is FieldType.INTEGER
    for name in ("diagnoses", "medications"):
        spec = preset("medical").get(name)
        assert spec is not None and spec.many


def test_presets_are_complete_and_described() -> None:
    assert {"invoice", "contract", "medical", "resume"} <= set(PRESETS)
    for name, fields in PRESETS.items():
        assert fields.name == name and len(fields) >= 5
        assert all(len(spec.description) > 20 for spec in fields)
    assert preset(" Invoice ") is PRESETS["invoice"]
    with pytest.raises(FieldSpecError) as info:
        preset("receipt")
    assert "invoice, contract, medical, resume" in str(info.value)


# --------------------------------------------------------------------------- coercion

DATE = FieldSpec("d", FieldType.DATE)
NUMBER = FieldSpec("n", FieldType.NUMBER)
INTEGER = FieldSpec("i", FieldType.INTEGER)
BOOLEAN = FieldSpec("b", FieldType.BOOLEAN)
TEXT = FieldSpec("s")


@pytest.mark.parametrize(("raw", "iso"), [
    ("January 17, 2024", "2024-01-17"),
    ("Jan. 17, 2024", "2024-01-17"),
    ("17 Jan 2024", "2024-01-17"),
    ("17-Jan-2024", "2024-01-17"),
    ("15 June 2024", "2024-06-15"),
    ("03/14/1957", "1957-03-14"),
    ("14/03/1957", "1957-03-14"),  # first number > 12: day first
    ("02/08/2024", "2024-02-08"),  # ambiguous: US month first
    ("2024-01-17", "2024-01-17"),
    ("2024/1/7", "2024-01-07"),
    ("17.01.2024", "2024-01-17"),
    ("01.05.14", "2014-05-01"),
    ("1st of March 2024", "2024-03-01"),
    ("the 1st day of March, 2024", "2024-03-01"),
    ("March 1st, 2024", "2024-03-01"),
    ("Wednesday, January 17, 2024", "2024-01-17"),
    ("02/27/2024 at 9:30 AM", "2024-02-27"),
    ("2024-01-17T10:00:00Z", "2024-01-17"),
    ("7. Mai 2014", "2014-05-07"),
    ("19 april 2014", "2014-04-19"),
    ("02 Juillet 2015", "2015-07-02"),
    (dt.date(2024, 1, 2), "2024-01-02"),
    (dt.datetime(2024, 1, 2, 3, 4), "2024-01-02"),
])
def test_dates_become_iso(raw: object, iso: str) -> None:
    assert coerce(DATE, raw) == iso


@pytest.mark.parametrize(("raw", "number"), [
    ("$1,234.50", 1234.5),
    ("1.234,50 €", 1234.5),
    ("(1,000.00)", -1000.0),
    ("12,450.00", 12450.0),
    ("EUR 14,324.63", 14324.63),
    ("£5,919.24", 5919.24),
    ("-42", -42.0),
    ("1 234,50", 1234.5),
    ("12,5", 12.5),
    ("1,234", 1234.0),
    ("0,125", 0.125),
    ("Rs 1939", 1939.0),
    ("100 USD", 100.0),
    ("1'234.50", 1234.5),
    ("19%", 19.0),
    (12, 12.0),
    (1.5, 1.5),
])
def test_numbers(raw: object, number: float) -> None:
    value = coerce(NUMBER, raw)
    assert value == pytest.approx(number)
    assert type(value) is (int if number.is_integer() else float)  # 12450, not 12450.0


@pytest.mark.parametrize(("raw", "integer"), [
    (90, 90), (90.0, 90), ("90", 90), ("1,000", 1000), ("ninety (90) days", 90),
    ("thirty days", 30), ("twenty-one", 21), ("90 days", 90), ("one hundred", 100),
])
def test_integers(raw: object, integer: int) -> None:
    assert coerce(INTEGER, raw) == integer


@pytest.mark.parametrize(("raw", "value"), [
    ("yes", True), ("No", False), ("TRUE", True), ("false", False), ("y", True), ("n", False),
    ("1", True), ("0", False), (True, True), (0, False),
])
def test_booleans(raw: object, value: bool) -> None:
    assert coerce(BOOLEAN, raw) is value


def test_strings_enums_and_lists() -> None:
    assert coerce(TEXT, "  Acme \n  Corp  ") == "Acme Corp"
    assert coerce(TEXT, 42) == "42"
    status = FieldSpec("status", enum=("Paid", "Open"))
    assert coerce(status, " paid ") == "Paid"
    with pytest.raises(ValueError, match="not one of: Paid, Open"):
        coerce(status, "late")
    dates = FieldSpec("ds", FieldType.DATE, many=True)
    assert coerce(dates, ["17 Jan 2024", "2024-02-01"]) == ["2024-01-17", "2024-02-01"]
    assert coerce(dates, "17 Jan 2024") == ["2024-01-17"]  # one value is a one-item list
    with pytest.raises(ValueError, match="item 2: not a date"):
        coerce(dates, ["17 Jan 2024", "soon"])
    with pytest.raises(ValueError, match="expected one value"):
        coerce(TEXT, ["a", "b"])


@pytest.mark.parametrize(("spec", "raw"), [
    (DATE, "soon"), (DATE, "2024-02-30"), (DATE, "13/13/2024"), (DATE, 20240101),
    (NUMBER, "abc"), (NUMBER, "12 and 14"), (NUMBER, "(12"), (NUMBER, True), (NUMBER, float("nan")),
    (INTEGER, "1.5"), (INTEGER, "3 to 5 days"), (INTEGER, "many"), (INTEGER, 2.5),
    (BOOLEAN, "maybe"), (BOOLEAN, 2),
    (TEXT, "   "), (TEXT, None), (TEXT, {"a": 1}),
])
def test_bad_values_raise_value_error_with_a_short_message(spec: FieldSpec, raw: object) -> None:
    with pytest.raises(ValueError) as info:
        coerce(spec, raw)
    assert 0 < len(str(info.value)) < 100 and "\n" not in str(info.value)


def _suffix(day: int) -> str:
    return "th" if 10 <= day <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


_FORMATS = [
    lambda d: d.isoformat(),
    lambda d: f"{d:%B} {d.day}, {d.year}",
    lambda d: f"{d.day} {d:%b} {d.year}",
    lambda d: f"{d:%d.%m.%Y}",
    lambda d: f"{d:%A}, {d:%d %B %Y}",
    lambda d: f"{d.day}{_suffix(d.day)} of {d:%B} {d.year}",
    lambda d: f"{d:%m/%d/%Y}" if d.day <= 12 else f"{d:%d/%m/%Y}",  # unambiguous either way
]


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2099, 12, 31)),
       st.sampled_from(_FORMATS))
def test_dates_round_trip_through_written_forms(day: dt.date, form: Any) -> None:
    assert coerce(DATE, form(day)) == day.isoformat()


@given(st.decimals(min_value=-10**9, max_value=10**9, places=2, allow_nan=False,
                   allow_infinity=False))
def test_numbers_round_trip_through_written_forms(amount: Any) -> None:
    us = f"{abs(amount):,.2f}"
    eu = us.replace(",", " ").replace(".", ",").replace(" ", ".")
    sign = -1 if amount < 0 else 1
    for text in (us, f"${us}", f"{eu} €", f"EUR {us}"):
        written = f"({text})" if sign < 0 else text
        assert coerce(NUMBER, written) == pytest.approx(float(amount))


# --------------------------------------------------------------------------- one reader


def test_coerce_reads_a_whole_record_field_by_field() -> None:
    fields = preset("invoice")
    record = {"invoice_number": " INV-1 ", "invoice_date": "17 Jan 2024", "vendor": "Acme",
              "total": "$1,234.50", "subtotal": "$1,000.00"}
    assert {name: coerce(fields.get(name), value) for name, value in record.items()
            if fields.get(name) is not None} == {
        "invoice_number": "INV-1", "invoice_date": "2024-01-17", "vendor": "Acme",
        "total": 1234.5, "subtotal": 1000}
    whole = coerce(fields.get("subtotal"), "$1,000.00")
    assert type(whole) is int, "a whole amount reads 1000, not 1000.0, wherever it is shown"


def test_coerce_says_what_is_wrong_in_a_few_words() -> None:
    fields = preset("invoice")
    with pytest.raises(ValueError, match="^not a date: 'soon'$"):
        coerce(fields.get("invoice_date"), "soon")
    with pytest.raises(ValueError, match="^no value$"):
        coerce(fields.get("total"), None)
    with pytest.raises(ValueError, match="^expected one value, got a list of 2$"):
        coerce(fields.get("total"), ["1", "2"])


def test_coerce_enums_lists_and_booleans() -> None:
    status = FieldSpec("status", enum=("Paid", "Open"), required=True)
    numbers = FieldSpec("_private", FieldType.INTEGER, many=True)
    assert coerce(status, "paid") == "Paid"
    assert coerce(numbers, ["ninety (90)", 3]) == [90, 3]
    assert coerce(numbers, "7") == [7]  # one value is a list of one
    assert coerce(numbers, "7", item=True) == 7
    assert coerce(FieldSpec("json", FieldType.BOOLEAN), "yes") is True
    with pytest.raises(ValueError, match="not one of"):
        coerce(status, "late")
    with pytest.raises(ValueError, match="^item 2: no value$"):
        coerce(numbers, [1, None])
