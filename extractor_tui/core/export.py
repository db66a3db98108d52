"""Writing the report: JSON (everything), CSV (one row per document), JSONL (failed chunks).

Why it is built this way:

* **Atomic files.** Each writer writes a temporary file in the target's folder and
  ``os.replace``-s it over the target; a value that cannot be serialised, a crash or a full
  disk removes the temporary file and never leaves half a file, and an existing export stays
  intact until the new one is complete. The JSON of a large report goes into that file a
  part at a time (its whole text, held three times over, was 80 MB at 10,000 documents);
  on stdout it is rendered whole first, since a pipe cannot take half of it back.
* **CSV for spreadsheets.** Encoded ``utf-8-sig``: without the BOM, Excel reads UTF-8 as
  the local code page and "Zoë" becomes "ZoÃ«"; Python's csv readers and pandas skip it.
  (On stdout there is no BOM: a pipe is not a spreadsheet.) Every text cell a spreadsheet
  would run as a formula is neutralised with a leading ``'`` (OWASP, CSV injection): cells
  starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return, *and* cells whose first
  character after leading whitespace is one of ``= + - @``, because LibreOffice and some
  import paths trim leading spaces before parsing. Real numbers (int/float values) are
  written as numbers and left alone: ``-12.5`` stays a number, while the *text* "-12.5"
  from a string field is neutralised. A list is joined with ``"; "`` and the joined cell is
  checked as a whole (a formula can only start at the start of a cell). The
  provider and model are columns of every row, so an offline result is never taken for an
  LLM's; whole numbers are written without ``.0``.
* **No secrets.** Exports contain only the report, and the report never holds settings,
  so no API key (or base URL credential) can end up in an exported file.

File-system errors are wrapped here, at the one boundary for output files: ``check_output``
refuses a path that cannot be written as ``ConfigError`` before a run spends anything, and
a write that still fails afterwards (a full disk, a reader that closed stdout) is
``OutputError`` naming the path.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import re
import secrets
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from extractor_tui.core.values import plain_number
from extractor_tui.errors import ConfigError, OutputError

__all__ = [
    "EXTENSIONS",
    "PRETTY_DOCUMENTS",
    "check_output",
    "csv_cell",
    "export",
    "neutralise",
    "report_json",
    "report_json_parts",
    "write_csv",
    "write_failures_jsonl",
    "write_json",
]

EXTENSIONS = (".json", ".csv", ".jsonl")
"""What ``export`` understands; ``"-"`` writes JSON to stdout."""

_JSON_UNSAFE = re.compile("[\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_OWN_COLUMNS = ("path", "status", "provider", "model")
_FORMULA_AFTER_SPACE = ("=", "+", "-", "@")

_Report = Mapping[str, Any]


def check_output(target: Path | str, label: str = "--output") -> None:
    """Refuse an output that cannot be written, before anything is spent on a run.

    ``"-"`` needs an open stdout (``>&-`` closes it); a file needs a known extension, a
    name that is not a folder, and a folder that exists and takes a new file: a probe
    file is created there and removed, which also catches read-only file systems and
    ACLs that permission bits do not show.
    """
    if str(target) == "-":
        if sys.stdout is None:  # Python found file descriptor 1 closed at start-up
            raise ConfigError("stdout is closed: give --output FILE")
        return
    path = Path(target)
    if path.is_dir():
        raise ConfigError(f"{label} {target}: is a folder; name a file in it")
    if path.suffix.lower() not in EXTENSIONS:
        raise ConfigError(f"{label} {target}: use a .json, .csv or .jsonl file, or - for "
                          "JSON on stdout")
    folder = path.parent
    if not folder.is_dir():
        missing = "is not a folder" if folder.exists() else "does not exist"
        raise ConfigError(f"{label} {target}: the folder {folder} {missing}")
    probe = folder / f".{path.name}.{secrets.token_hex(4)}.probe"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"{label} {target}: cannot write in {folder}: "
                          f"{exc.strerror or exc}") from exc


def _to_stdout(payload: bytes) -> None:
    """Every byte to stdout, or ``OutputError``: a pipe may take only part of a write (as
    ``| head`` goes away), and a short write must not pass for a finished report."""
    if sys.stdout is None:
        raise OutputError("stdout is closed: give --output FILE")
    sys.stdout.flush()
    buffer = getattr(sys.stdout, "buffer", None)
    try:
        if buffer is None:
            sys.stdout.write(payload.decode("utf-8"))
        else:  # bytes, so non-ASCII survives a stdout whose encoding is not UTF-8
            view = memoryview(payload)
            while view:
                written = buffer.write(view)
                if not written:
                    raise BlockingIOError(0, "stdout took no more bytes")
                view = view[written:]
        sys.stdout.flush()
    except BrokenPipeError as exc:
        _silence_stdout()
        raise OutputError("stdout was closed before the whole report was written (broken "
                          "pipe)") from exc
    except OSError as exc:
        _silence_stdout()
        raise OutputError(f"cannot write the report to stdout: {exc.strerror or exc}") from exc


def _silence_stdout() -> None:
    """Point file descriptor 1 at the null device, so what is still buffered is dropped at
    exit instead of raising again (the recipe of Python's ``signal`` documentation)."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError, AttributeError):
        pass  # not a real file descriptor (captured in a test): nothing is flushed at exit


def _write(data: str | Iterable[str], path: Path | None, encoding: str = "utf-8") -> None:
    """``data`` (text, or its parts in order) to stdout (None) or atomically to ``path``.
    Parts are encoded and written one by one: a 10,000-document report held its 26 MB of
    text three times over (the parts, the joined text, its bytes)."""
    parts = [data] if isinstance(data, str) else data
    if path is None:  # whole, or not at all: a reader of a pipe cannot take half back
        _to_stdout("".join(parts).encode("utf-8"))
        return
    temp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    try:
        # 0o666 and the umask, like any new file (mkstemp would make it 0o600).
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                     0o666)
        try:
            with os.fdopen(fd, "wb") as handle:
                for payload in _encoded(parts, encoding):
                    handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, path)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc


_OUTPUT_BYTES = 1 << 20
"""What ``_encoded`` gathers before handing bytes on (a write call per megabyte)."""


def _encoded(parts: Iterable[str], encoding: str) -> Iterator[bytes]:
    """The parts' bytes, about a megabyte at a time (a BOM, if the encoding has one, once)."""
    encoder = codecs.getincrementalencoder(encoding)()
    pending: list[bytes] = []
    size = 0
    for part in parts:
        pending.append(encoder.encode(part))
        size += len(pending[-1])
        if size >= _OUTPUT_BYTES:
            yield b"".join(pending)
            pending, size = [], 0
    pending.append(encoder.encode("", final=True))
    yield b"".join(pending)


def _json_text(data: object, indent: int | None = None) -> str:
    """JSON as UTF-8 text, with what a terminal would act on written as ``\\u`` escapes.

    ``json`` escapes C0 controls itself; C1 controls, bidi and zero-width characters, and
    the lone surrogates of a file name that is not UTF-8, only ever stand inside strings,
    where ``\\uXXXX`` means the same character: a parser reads the exact name back (Python's
    ``os.fsencode`` gives its bytes), and ``cat report.json`` cannot drive the terminal.
    """
    text = json.dumps(data, ensure_ascii=False, indent=indent)
    return _JSON_UNSAFE.sub(lambda match: f"\\u{ord(match[0]):04x}", text)


PRETTY_DOCUMENTS = 100
"""Reports with more documents than this are written one document per line."""


def report_json(report: _Report) -> str:
    """The report as JSON text: indented for up to ``PRETTY_DOCUMENTS`` documents, else one
    compact document per line (the same data; ``json`` indents only with its pure-Python
    encoder, which took seconds for a 10,000-document report, and a line per document is
    still readable with ``grep``, ``head`` or ``jq``)."""
    return "".join(report_json_parts(report))


def report_json_parts(report: _Report) -> Iterator[str]:
    """``report_json``'s text in parts, a document at a time when there are many."""
    documents = report.get("documents")
    if not isinstance(documents, list) or len(documents) <= PRETTY_DOCUMENTS:
        yield _json_text(report, indent=2) + "\n"
        return
    yield "{"
    for at, (key, value) in enumerate(report.items()):
        name = _json_text(key)
        yield ",\n" if at else ""
        if key != "documents":
            yield f"{name}: {_json_text(value)}"
            continue
        yield f"{name}: [\n"
        for number, document in enumerate(documents):
            yield (",\n" if number else "") + _json_text(document)
        yield "\n]"
    yield "}\n"


def write_json(report: _Report, path: Path | None) -> None:
    """The whole report as UTF-8 JSON (``report_json``); to stdout when ``path`` is None."""
    _write(report_json_parts(report), path)


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
        return repr(plain_number(value))  # 12450, not 12450.0
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


def _provider(summary: Mapping[str, Any]) -> tuple[str, str]:
    """The provider and model cells: an offline result must never pass for an LLM's."""
    provider = str(summary.get("provider") or "")
    if provider == "offline":
        return "offline (no LLM)", ""
    return provider, str(summary.get("model") or "")


def write_csv(report: _Report, path: Path | None, *, verified: bool = False) -> None:
    """One row per document: ``path``, ``status``, ``provider``, ``model``, then one column
    per field. A field named like one of the first four leaves that name to the field, and
    the document's own column is called ``document <name>`` (a field name has no space).
    With ``verified``, each field's column is followed by ``NAME verified`` (the verify
    stage's verdict, empty where none took effect)."""
    fields = _columns(report)
    own = [name if name not in fields else f"document {name}" for name in _OWN_COLUMNS]
    provider, model = _provider(report.get("summary", {}))
    out = io.StringIO()
    writer = csv.writer(out)
    header = [name for field in fields
              for name in ((field, f"{field} verified") if verified else (field,))]
    writer.writerow([neutralise(name) for name in (*own, *header)])
    for document in report.get("documents", ()):
        values = document.get("fields", {})
        cells = []
        for name in fields:
            entry = values.get(name, {})
            cells.append(csv_cell(entry.get("value")))
            if verified:
                cells.append(csv_cell(entry.get("verified")))
        writer.writerow([csv_cell(document.get("path")), csv_cell(document.get("status")),
                         csv_cell(provider), csv_cell(model), *cells])
    # A file name that is not UTF-8 is shown with its odd bytes as \\xNN: a spreadsheet
    # has no way to hold them, and the JSON report keeps the exact name.
    text = _SURROGATE.sub(lambda m: f"\\x{ord(m[0]) - 0xDC00:02x}" if ord(m[0]) >= 0xDC80
                          else "\ufffd", out.getvalue())
    _write(text, path, "utf-8" if path is None else "utf-8-sig")


def write_failures_jsonl(report: _Report, path: Path | None) -> None:
    """One JSON object per failed or cancelled chunk, in document then chunk order."""
    lines = []
    for document in report.get("documents", ()):
        for chunk in document.get("failed_chunks", ()):
            lines.append(_json_text({
                "document": document.get("path"), "chunk": chunk.get("chunk"),
                "pages": chunk.get("pages"), "reason": chunk.get("reason"),
                "error": chunk.get("error"), "attempts": chunk.get("attempts"),
                "text": chunk.get("text"), "raw": chunk.get("raw")}))
    _write("".join(line + "\n" for line in lines), path)


def export(report: _Report, path: Path | str, *, verified_columns: bool = False) -> None:
    """Write ``report`` in the format its extension names; ``"-"`` is JSON on stdout.
    ``verified_columns`` adds each field's verdict column to a CSV."""
    if str(path) == "-":
        write_json(report, None)
        return
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix == ".json":
        write_json(report, target)
    elif suffix == ".csv":
        write_csv(report, target, verified=verified_columns)
    elif suffix == ".jsonl":
        write_failures_jsonl(report, target)
    else:
        kind = f"extension {suffix!r}" if suffix else "no extension"
        raise ConfigError(f"cannot export to {target}: {kind}; use .json (the whole report), "
                          ".csv (one row per document) or .jsonl (failed chunks), "
                          "or - for JSON on stdout")
