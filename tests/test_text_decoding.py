"""``decode_text`` and ``split_pages``: byte-order marks, UTF-8, UTF-16 without a mark,
the cp1252 and Latin-1 guesses (each with a note), newline normalisation, and refusing
binary content; plus a property test that no input bytes make it fail in any other way.
"""

from __future__ import annotations

import codecs

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from extractor_tui.core.text import BinaryContent, decode_text, split_pages

SAMPLE = "Agreement dated 1 May 2024 between Müller GmbH and Æsir Ltd — €5\n"

_ALL_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE,
             codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)


def test_plain_utf8_has_no_note() -> None:
    assert decode_text(SAMPLE.encode("utf-8")) == (SAMPLE, None)


def test_utf8_bom_is_removed() -> None:
    text, note = decode_text(codecs.BOM_UTF8 + SAMPLE.encode("utf-8"))
    assert text == SAMPLE
    assert not text.startswith("\ufeff")
    assert note is None


@pytest.mark.parametrize("bom, codec", [
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
])
def test_utf16_and_utf32_with_bom(bom: bytes, codec: str) -> None:
    assert decode_text(bom + SAMPLE.encode(codec)) == (SAMPLE, None)


def test_python_utf16_and_utf32_codecs_round_trip() -> None:
    # Python's "utf-16"/"utf-32" write a BOM in the machine's byte order.
    assert decode_text(SAMPLE.encode("utf-16"))[0] == SAMPLE
    assert decode_text(SAMPLE.encode("utf-32"))[0] == SAMPLE


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_is_detected_with_a_note(codec: str) -> None:
    text, note = decode_text("Plain ASCII contract text, page 1.\n".encode(codec))
    assert text == "Plain ASCII contract text, page 1.\n"
    assert note is not None and codec.upper() in note


def test_cp1252_guess_has_a_note() -> None:
    text, note = decode_text(b"caf\xe9 \x80 5")
    assert text == "café € 5"
    assert note is not None and "cp1252" in note


def test_bytes_invalid_in_cp1252_fall_back_to_latin1() -> None:
    # 0x81 is undefined in Windows-1252 and invalid as UTF-8.
    text, note = decode_text(b"caf\xe9 \x81 x")
    assert text == "caf\xe9 \x81 x"
    assert note is not None and "Latin-1" in note


def test_bom_with_invalid_bytes_replaces_them_and_says_so() -> None:
    text, note = decode_text(codecs.BOM_UTF8 + b"ok \xff ok")
    assert text == "ok \ufffd ok"
    assert note is not None and "\ufffd" in note


@pytest.mark.parametrize("raw, expected", [
    (b"a\r\nb\r\nc", "a\nb\nc"),
    (b"a\rb\rc", "a\nb\nc"),
    (b"a\r\n\r\nb\rc\n", "a\n\nb\nc\n"),
    ("x\r\ny".encode("utf-16"), "x\ny"),
    (b"caf\xe9\r\n", "café\n"),
])
def test_newlines_are_normalised(raw: bytes, expected: str) -> None:
    assert decode_text(raw)[0] == expected


@pytest.mark.parametrize("raw", [
    bytes(range(256)) * 4,                      # every byte value: a NUL in one place
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",   # the start of a PNG
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00",      # the start of a Windows executable
    b"text\x00",                                # odd length with a NUL
    bytes(4096),                                # all NULs: no text at all
])
def test_binary_content_is_refused(raw: bytes) -> None:
    with pytest.raises(BinaryContent, match="NUL"):
        decode_text(raw)


def test_empty_input_decodes_to_empty_text() -> None:
    assert decode_text(b"") == ("", None)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
@example(bytes(64))
@example("utf-16 text".encode("utf-16-le"))
@example(b"\xff\xfe\x00\x00")
def test_any_bytes_give_text_or_binary_content(data: bytes) -> None:
    try:
        text, note = decode_text(data)
    except BinaryContent:
        assert b"\x00" in data  # only NUL-laden input is refused
        return
    assert isinstance(text, str)
    assert "\r" not in text
    assert note is None or (isinstance(note, str) and "\n" not in note)
    if not data.startswith(_ALL_BOMS):
        # Without a BOM, a NUL character in the result is binary passed off as text.
        assert "\x00" not in text


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=512).filter(lambda b: b"\x00" not in b))
def test_bytes_without_nul_never_raise(data: bytes) -> None:
    text, _ = decode_text(data)
    assert isinstance(text, str)


_TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
                max_size=300).filter(lambda s: not s.startswith("\ufeff"))


@settings(max_examples=200, deadline=None)
@given(_TEXT, st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-32"]))
def test_text_with_or_without_bom_round_trips(text: str, codec: str) -> None:
    decoded, note = decode_text(text.encode(codec))
    assert decoded == text.replace("\r\n", "\n").replace("\r", "\n")
    assert note is None


@pytest.mark.parametrize("text, pages", [
    ("one", ["one"]),
    ("one\ftwo\fthree", ["one", "two", "three"]),
    ("one\ftwo\f", ["one", "two"]),            # trailing form feed: no extra page
    ("one\ftwo\f \n", ["one", "two"]),         # ... even with whitespace after it
    ("one\f\fthree", ["one", "", "three"]),    # a blank page in the middle is kept
    ("\fone", ["", "one"]),
])
def test_split_pages(text: str, pages: list[str]) -> None:
    assert split_pages(text) == pages


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab\r\n\fé€😀\u00a0"), max_size=40),
       st.sampled_from(["utf-8", "utf-16", "utf-32", "cp1252-ish"]),
       st.integers(min_value=1, max_value=9))
def test_decoding_a_piece_at_a_time_gives_the_text_decoded_whole(
        text: str, codec: str, piece: int) -> None:
    """Big files are decoded ``PIECE`` bytes at a time (a 50 MB decode held the event loop):
    a character or a ``\\r\\n`` cut between two pieces comes out as decoding it whole does."""
    from extractor_tui.core import text as text_module

    if codec == "cp1252-ish":
        data = text.encode("cp1252", errors="replace")
    else:
        data = text.encode(codec)  # "utf-16"/"utf-32" write a byte-order mark
    whole = decode_text(data)
    saved = text_module.PIECE
    text_module.PIECE = piece
    try:
        assert decode_text(data) == whole
    finally:
        text_module.PIECE = saved
    assert "\r" not in whole[0]
