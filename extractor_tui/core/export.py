"""Writing the report: JSON (everything), CSV (one row per document), JSONL (failed chunks).

Why it is built this way:

* **Atomic files.** Each writer renders the whole text in memory first (so a value that
  cannot be serialised fails before the disk is touched), writes it to a temporary file in
  the target's folder and ``os.replace``-s it over the target. A crash or a full disk never
  leaves half a file, and an existing export stays intact until the new one is complete.
* **CSV for spreadsheets.** Encoded ``utf-8-sig``: without the BOM, Excel reads UTF-8 as
  the local code page and "Zoë" becomes "ZoÃ«"; Python's csv readers and pandas skip it.
  (On stdout there is no BOM: a pipe is not a spreadsheet.) Every text cell a spreadsheet
  would run as a formula is neutralised with a leading ``'`` (OWASP, CSV injection): cells
  starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return, *and* cells whose first
  character after leading whitespace is one of ``= + - @``, because LibreOffice and some
  import paths trim leading spaces before parsing. Real numbers (int/float values) are
  written as numbers and left alone: ``-12.5`` stays a number, while the *text* "-12.5"
  from a string field is neutralised. A list is joined with ``"; "`` and the joined cell is
  checked as a whole (a formula can only start at the start of a cell).
* **No secrets.** Exports contain only the report, and the report never holds settings,
  so no API key (or base URL credential) can end up in an exported file.

File-system errors are wrapped here, at the one boundary for output files, as
``ConfigError`` naming the path: the output path is something the user chose.
"""

from __future__ import annotations

import csv
import io
import json
import os
import secrets
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from extractor_tui.errors import ConfigError

__all__ = [
    "EXTENSIONS",
    "csv_cell",
    "export",
    "neutralise",
    "write_csv",
    "write_failures_jsonl",
    "write_json",
]

EXTENSIONS = (".json", ".csv", ".jsonl")
"""What ``export`` understands; ``"-"`` writes JSON to stdout."""

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_AFTER_SPACE = ("=", "+", "-", "@")

_Report = Mapping[str, Any]


def _write(data: str, path: Path | None, encoding: str = "utf-8") -> None:
    """``data`` to stdout (None) or atomically to ``path``."""
    if path is None:
        sys.stdout.flush()
        buffer = getattr(sys.stdout, "buffer", None)
        if buffer is None:
            sys.stdout.write(data)
        else:  # bytes, so non-ASCII survives a stdout whose encoding is not UTF-8
            buffer.write(data.encode("utf-8"))
        sys.stdout.flush()
        return
    payload = data.encode(encoding)
    temp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    try:
        # 0o666 and the umask, like any new file (mkstemp would make it 0o600).
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                     0o666)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, path)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from exc


def write_json(report: _Report, path: Path | None) -> None:
    """The whole report, UTF-8, indented; to stdout when ``path`` is None."""
    _write(json.dumps(report, ensure_ascii=False, indent=2) + "\n", path)


def neutralise(text: str) -> str:
    """``text`` with a leading ``'`` when a spreadsheet would run it as a formula."""
    if text.startswith(_FORMULA_START) or text.lstrip().startswith(_FORMULA_AFTER_SPACE):
        return "'" + text
    return text


def _plain(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return str(value)


def csv_cell(value: object) -> str:
    """One CSV cell: numbers as numbers, lists joined with ``"; "``, text neutralised."""
    if isinstance(value, (int, float)) or value is None:  # bool too: "true"/"false"
        return _plain(value)
    if isinstance(value, (list, tuple)):
        return neutralise("; ".join(_plain(item) for item in value))
    return neutralise(str(value))


def _columns(report: _Report) -> list[str]:
    """Field names: the first document's order, then any field only later documents have."""
    names: dict[str, None] = {}
    for document in report.get("documents", ()):
        names.update(dict.fromkeys(document.get("fields", {})))
    return list(names)


def write_csv(report: _Report, path: Path | None) -> None:
    """One row per document: ``path``, ``status``, then one column per field."""
    fields = _columns(report)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([neutralise(name) for name in ("path", "status", *fields)])
    for document in report.get("documents", ()):
        values = document.get("fields", {})
        writer.writerow([csv_cell(document.get("path")), csv_cell(document.get("status")),
                         *(csv_cell(values[name]["value"] if name in values else None)
                           for name in fields)])
    _write(out.getvalue(), path, "utf-8" if path is None else "utf-8-sig")


def write_failures_jsonl(report: _Report, path: Path | None) -> None:
    """One JSON object per failed or cancelled chunk, in document then chunk order."""
    lines = []
    for document in report.get("documents", ()):
        for chunk in document.get("failed_chunks", ()):
            lines.append(json.dumps({
                "document": document.get("path"), "chunk": chunk.get("chunk"),
                "pages": chunk.get("pages"), "reason": chunk.get("reason"),
                "error": chunk.get("error"), "attempts": chunk.get("attempts"),
                "text": chunk.get("text"), "raw": chunk.get("raw")}, ensure_ascii=False))
    _write("".join(line + "\n" for line in lines), path)


def export(report: _Report, path: Path | str) -> None:
    """Write ``report`` in the format its extension names; ``"-"`` is JSON on stdout."""
    if str(path) == "-":
        write_json(report, None)
        return
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix == ".json":
        write_json(report, target)
    elif suffix == ".csv":
        write_csv(report, target)
    elif suffix == ".jsonl":
        write_failures_jsonl(report, target)
    else:
        kind = f"extension {suffix!r}" if suffix else "no extension"
        raise ConfigError(f"cannot export to {target}: {kind}; use .json (the whole report), "
                          ".csv (one row per document) or .jsonl (failed chunks), "
                          "or - for JSON on stdout")
