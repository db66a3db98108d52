"""The PDF worker process: ``python -m extractor_tui.core.pdf_worker``.

Why a module run with ``-m`` and not ``multiprocessing``: multiprocessing's "spawn" re-runs
the caller's ``__main__`` in every worker, so any script that loads documents without an
``if __name__ == "__main__"`` guard would spawn workers that spawn workers. A plain child
process running this module imports only what it needs, behaves the same on every OS, and
is driven with asyncio's own subprocess pipes.

Protocol on stdin/stdout, one frame per message: a 4-byte big-endian length, then UTF-8 JSON.
Request ``{"path": …}``; reply ``{"pages": [...], "engine": …}`` or
``{"error": <DocumentError class name>, "reason": …}``. An empty stdin ends the worker.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any, BinaryIO

from extractor_tui.core.pdf import HEADER, decode_frame, encode_frame, read_pdf, short_reason
from extractor_tui.errors import DocumentError

__all__ = ["handle", "main"]


def _read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    data = stream.read(size)
    return data if data is not None and len(data) == size else None


def handle(path: Path) -> dict[str, Any]:
    """One request: pages, or the error class name and its one-line reason."""
    try:
        result = read_pdf(path)
    except DocumentError as exc:
        return {"error": type(exc).__name__, "reason": exc.reason}
    except Exception as exc:  # noqa: BLE001 - one file must never kill the worker
        return {"error": "CorruptPdf", "reason": f"unreadable PDF ({short_reason(exc)})"}
    return {"pages": list(result.pages), "engine": result.engine}


def main() -> int:
    # Ctrl-C reaches the whole process group; the parent decides when workers stop, and a
    # file must never be reported as corrupt because the user pressed Ctrl-C.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        header = _read_exactly(stdin, HEADER.size)
        if header is None:
            return 0
        body = _read_exactly(stdin, HEADER.unpack(header)[0])
        if body is None:
            return 0
        reply = handle(Path(decode_frame(body)["path"]))
        stdout.write(encode_frame(reply))
        stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
