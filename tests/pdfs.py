"""Builders for PDF test fixtures, written into a test's ``tmp_path`` at run time.

No binary fixtures are committed: every PDF the tests read is made here with fpdf2 (core
fonts, so Latin-1 text only) and, for encryption, re-written with pypdf.
"""

from __future__ import annotations

import io
import math
import random
import zlib
from collections.abc import Sequence
from pathlib import Path

from fpdf import FPDF
from pypdf import PdfReader, PdfWriter

__all__ = [
    "encrypted_pdf",
    "image_only_pdf",
    "large_pdf",
    "many_pages_pdf",
    "mixed_pdf",
    "pdf_bytes",
    "png_bytes",
    "text_pdf",
    "truncated_pdf",
]


def _new_pdf() -> FPDF:
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=False)
    pdf.set_font("Helvetica", size=12)
    return pdf


def _write_page_text(pdf: FPDF, text: str) -> None:
    pdf.add_page()
    pdf.set_xy(20, 20)
    pdf.multi_cell(w=170, h=8, text=text)


def _draw_rectangle_page(pdf: FPDF) -> None:
    pdf.add_page()
    pdf.set_fill_color(40, 80, 160)
    pdf.rect(30, 40, 120, 60, style="F")


def _draw_image_page(pdf: FPDF) -> None:
    pdf.add_page()
    pdf.image(io.BytesIO(png_bytes()), x=30, y=40, w=80)


def png_bytes(width: int = 16, height: int = 16, noise_seed: int | None = None) -> bytes:
    """An RGB PNG built by hand (no imaging library needed): a gradient, or with
    ``noise_seed`` random pixels, which do not compress (for files of a wanted size)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return (len(data).to_bytes(4, "big") + body
                + (zlib.crc32(body) & 0xFFFFFFFF).to_bytes(4, "big"))

    noise = None if noise_seed is None else random.Random(noise_seed)
    rows = b"".join(  # each scanline: filter byte 0, then RGB triples
        b"\x00" + (noise.randbytes(3 * width) if noise else b"".join(
            bytes((x * 15 % 256, y * 15 % 256, 128)) for x in range(width)))
        for y in range(height))
    header = (width.to_bytes(4, "big") + height.to_bytes(4, "big")
              + bytes((8, 2, 0, 0, 0)))  # 8-bit depth, RGB, no interlace
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def pdf_bytes(pages: Sequence[str]) -> bytes:
    """The bytes of a PDF with one page per string, each page holding that text."""
    pdf = _new_pdf()
    for text in pages:
        _write_page_text(pdf, text)
    return bytes(pdf.output())


def text_pdf(path: Path, pages: Sequence[str]) -> Path:
    """Write a PDF with one page per string; returns ``path``."""
    path.write_bytes(pdf_bytes(pages))
    return path


def many_pages_pdf(path: Path, text: str, pages: int) -> Path:
    """Write a PDF of ``pages`` copies of one text page (fast to make, slow to read)."""
    source = PdfReader(io.BytesIO(pdf_bytes([text])))
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_page(source.pages[0])
    with path.open("wb") as handle:
        writer.write(handle)
    return path


def image_only_pdf(path: Path, pages: int = 2) -> Path:
    """Write a PDF with no text layer: a filled rectangle, then an image on each next page."""
    pdf = _new_pdf()
    for index in range(pages):
        if index % 2 == 0:
            _draw_rectangle_page(pdf)
        else:
            _draw_image_page(pdf)
    path.write_bytes(bytes(pdf.output()))
    return path


def mixed_pdf(path: Path, pages: Sequence[str | None]) -> Path:
    """Write a PDF where a string is a text page and ``None`` is a page with only a drawing."""
    pdf = _new_pdf()
    for index, text in enumerate(pages):
        if text is None:
            (_draw_rectangle_page if index % 2 == 0 else _draw_image_page)(pdf)
        else:
            _write_page_text(pdf, text)
    path.write_bytes(bytes(pdf.output()))
    return path


def large_pdf(path: Path, text: str, min_bytes: int) -> Path:
    """Write a valid one-page PDF of at least ``min_bytes``: ``text`` above a noise image."""
    side = math.isqrt(min_bytes // 3) + 1
    pdf = _new_pdf()
    _write_page_text(pdf, text)
    pdf.image(io.BytesIO(png_bytes(side, side, noise_seed=min_bytes)), x=20, y=60, w=100)
    path.write_bytes(bytes(pdf.output()))
    assert path.stat().st_size >= min_bytes
    return path


def encrypted_pdf(path: Path, pages: Sequence[str], user: str, owner: str,
                  algorithm: str | None = None) -> Path:
    """Write a text PDF encrypted by pypdf; ``algorithm=None`` is pypdf's default (RC4)."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_bytes(pages))))
    if algorithm is None:
        writer.encrypt(user_password=user, owner_password=owner)
    else:
        writer.encrypt(user_password=user, owner_password=owner, algorithm=algorithm)
    with path.open("wb") as handle:
        writer.write(handle)
    return path


def truncated_pdf(path: Path, pages: Sequence[str]) -> Path:
    """Write the first half of a valid text PDF (no xref table, no trailer)."""
    data = pdf_bytes(pages)
    path.write_bytes(data[: len(data) // 2])
    return path
