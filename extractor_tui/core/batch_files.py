"""Batch API files: the JSONL input a batch is made from, and the output and error files.

Kept apart from the runner (``batch.py``) because these are facts about bytes: one request
per line (``custom_id`` = the request key, ``method`` POST, ``url`` the chat endpoint,
``body`` the request exactly as a live call sends it), split where the provider's limits
say (OpenAI: 50,000 requests and 200 MB per input file), and output lines read back into
(custom_id → line) without trusting them: a line that is not JSON, or has no custom_id, is
skipped, and the request it was for goes back to the queue as never run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["BatchLimits", "InputFile", "OPENAI_LIMITS", "OutputLine", "RemoteBatch",
           "input_line", "read_lines", "split_lines"]

CHAT_URL = "/v1/chat/completions"


@dataclass(frozen=True)
class BatchLimits:
    """What one input file may hold at an endpoint (OpenAI's by default; others differ)."""

    max_requests: int = 50_000
    max_bytes: int = 200_000_000  # "200 MB"; decimal, the smaller reading


OPENAI_LIMITS = BatchLimits()


@dataclass(frozen=True)
class RemoteBatch:
    """A batch as the provider reports it (``openai_batch.py`` reads the SDK's into this)."""

    id: str
    status: str
    input_file_id: str
    total: int = 0
    completed: int = 0
    failed: int = 0
    output_file_id: str | None = None
    error_file_id: str | None = None
    errors: tuple[str, ...] = ()
    created_at: int = 0
    in_progress_at: int | None = None


def input_line(key: str, body: Mapping[str, Any]) -> bytes:
    """One request line of an input file, newline included."""
    return (json.dumps({"custom_id": key, "method": "POST", "url": CHAT_URL, "body": body},
                       separators=(",", ":"), ensure_ascii=False) + "\n").encode()


@dataclass(frozen=True)
class InputFile:
    """One batch's worth of lines: the keys in order and the file's bytes."""

    keys: tuple[str, ...]
    data: bytes


def split_lines(lines: Sequence[tuple[str, bytes]], limits: BatchLimits) -> Iterator[InputFile]:
    """(key, line) pairs in files of at most ``max_requests`` lines and ``max_bytes`` bytes,
    in order. A single line over ``max_bytes`` is the caller's to refuse before this."""
    keys: list[str] = []
    parts: list[bytes] = []
    size = 0
    for key, line in lines:
        if keys and (len(keys) >= limits.max_requests or size + len(line) > limits.max_bytes):
            yield InputFile(tuple(keys), b"".join(parts))
            keys, parts, size = [], [], 0
        keys.append(key)
        parts.append(line)
        size += len(line)
    if keys:
        yield InputFile(tuple(keys), b"".join(parts))


@dataclass(frozen=True)
class OutputLine:
    """One line of an output or error file.

    ``status`` and ``body`` are the model endpoint's answer (None when it gave none);
    ``code`` and ``message`` are the Batch API's own error (``batch_expired``,
    ``batch_cancelled``, ``request_timeout``) for a request that never ran.
    """

    custom_id: str
    status: int | None
    body: Any
    code: str | None = None
    message: str | None = None

    @property
    def answered(self) -> bool:
        return self.status == 200 and isinstance(self.body, dict)


def read_lines(content: bytes) -> dict[str, OutputLine]:
    """custom_id → line of an output or error file; lines that cannot be read are skipped."""
    found: dict[str, OutputLine] = {}
    for raw in content.split(b"\n"):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(row, dict) or not isinstance(row.get("custom_id"), str):
            continue
        response, error = row.get("response"), row.get("error")
        status = response.get("status_code") if isinstance(response, dict) else None
        body = response.get("body") if isinstance(response, dict) else None
        code = message = None
        if isinstance(error, dict):
            code = str(error.get("code") or "error")
            message = str(error.get("message") or "")
        found[row["custom_id"]] = OutputLine(
            row["custom_id"], status if isinstance(status, int) else None, body, code, message)
    return found
