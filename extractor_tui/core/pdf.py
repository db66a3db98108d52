"""Reading the text of a PDF: pypdfium2 first, pypdf as the fallback.

This is the code that runs inside the worker processes of ``core/pdf_pool.py``; it is a
plain function so tests can call it directly.

Engines: pypdfium2 (PDFium, ~12x faster than pypdf) first; pypdf for files PDFium refuses.
PDFium opens owner-password-only PDFs with the empty user password by itself; pypdf is told
to try the empty password too. What comes back is plain text per page, or a DocumentError.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from extractor_tui.errors import CorruptPdf, DocumentError, EncryptedPdf, UnreadableFile

__all__ = ["HEADER", "PdfPages", "decode_frame", "encode_frame", "read_pdf", "short_reason"]


@dataclass(frozen=True)
class PdfPages:
    """The text of each page, and which engine produced it."""

    pages: tuple[str, ...]
    engine: str


def _clean(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")


def _read_with_pdfium(path: Path) -> PdfPages:
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        pdf = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        if exc.err_code == pdfium_c.FPDF_ERR_PASSWORD:
            raise EncryptedPdf(path) from exc
        raise
    try:
        pages = []
        for index in range(len(pdf)):
            page = pdf[index]
            textpage = page.get_textpage()
            pages.append(_clean(textpage.get_text_bounded()))
            textpage.close()
            page.close()
        return PdfPages(tuple(pages), "pypdfium2")
    finally:
        pdf.close()


def _read_with_pypdf(path: Path) -> PdfPages:
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise EncryptedPdf(path)
        return PdfPages(tuple(_clean(page.extract_text() or "") for page in reader.pages),
                        "pypdf")
    except FileNotDecryptedError as exc:
        raise EncryptedPdf(path) from exc
    except PdfReadError as exc:
        raise CorruptPdf(path, f"corrupt or truncated PDF ({short_reason(exc)})") from exc
    except OSError as exc:  # permissions, I/O error: the file, not the PDF, is the problem
        raise UnreadableFile.from_os_error(path, exc) from exc


def read_pdf(path: Path) -> PdfPages:
    """Text of every page; raises a DocumentError subclass with a one-line reason.

    Runs inside a worker process, but is a plain function so tests can call it directly.
    """
    try:
        with path.open("rb") as handle:
            head = handle.read(1024)
    except OSError as exc:
        raise UnreadableFile.from_os_error(path, exc) from exc
    if b"%PDF-" not in head:  # the spec allows the header anywhere in the first 1 KiB
        raise CorruptPdf(path, "not a PDF (no %PDF header): renamed or damaged?")
    try:
        return _read_with_pdfium(path)
    except EncryptedPdf:
        raise
    except Exception as pdfium_exc:  # noqa: BLE001 - PDFium refused it: let pypdf try
        try:
            return _read_with_pypdf(path)
        except DocumentError:
            raise
        except Exception as exc:  # noqa: BLE001 - both parsers failed: one clear reason
            raise CorruptPdf(path, f"corrupt or truncated PDF ({short_reason(pdfium_exc)}; "
                                   f"pypdf: {short_reason(exc)})") from exc


def short_reason(exc: BaseException) -> str:
    """The first line of an exception's message, at most 160 characters."""
    text = str(exc).strip().splitlines()
    return text[0][:160] if text else type(exc).__name__


# Framing between the pool and its workers (see core/pdf_worker.py): a 4-byte big-endian
# length, then UTF-8 JSON.
HEADER = struct.Struct(">I")


def encode_frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message, ensure_ascii=False).encode("utf-8")
    return HEADER.pack(len(body)) + body


def decode_frame(body: bytes) -> dict[str, Any]:
    message = json.loads(body.decode("utf-8"))
    if not isinstance(message, dict):
        raise ValueError("frame is not a JSON object")
    return message
