"""A fake of OpenAI's Files and Batch APIs, served by ``LoopbackServer`` (``batch=``).

Why it is built this way:

* The shapes are OpenAI's, as the SDK types them (``openai.types.Batch``, ``FileObject``,
  ``BatchError``, ``BatchRequestCounts``) and as the Batch guide documents the files: an
  output line is ``{"id", "custom_id", "response": {"status_code", "request_id", "body"},
  "error": null}``; a request the model endpoint refused (4xx/5xx) goes to the *error*
  file in that same shape, and one that never ran (``batch_expired``, ``batch_cancelled``,
  ``request_timeout``) has ``"response": null`` and ``"error": {"code", "message"}``.
* The statuses move as OpenAI's do (validating → in_progress → finalizing → completed;
  failed when the input does not validate; expired; cancelling → cancelled), but by
  *polls*, not by time: each ``GET /v1/batches/{id}`` moves that batch on by one step, so
  a test says exactly where a batch is and never waits on a clock.
* Validation is OpenAI's: synchronous 400/404s at create time (unknown file, wrong
  purpose, a file over the byte limit: "File is too large.", a window other than 24h, an
  endpoint not served), then the documented per-line codes while ``validating``
  (``invalid_json_line``, ``duplicate_custom_id``, ``url_mismatch``, ``model_mismatch``,
  ``empty_file``, ``too_many_tasks``) end the batch ``failed`` with ``errors.data``.
* Each request of a batch is answered by the server's own responder and fault script
  (``line_script``, the same ``Fault`` values as live calls): ``ok``, ``malformed`` or
  ``truncated`` make a 200 line with that content; error faults make an error-file line
  with that status and OpenAI's error body; ``hang`` and ``drop`` make a
  ``request_timeout`` line.
* ``hold`` keeps every batch where it is (a provider that takes hours), for a client that
  is killed while it waits; ``expire_after`` ends a batch ``expired`` after that many
  in-progress polls, with what was not done in the error file as ``batch_expired``.
* Everything is bounded: a file is at most ``max_upload_bytes``, a batch at most
  ``max_requests`` lines to validate, and every loop runs over a finite list.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias
from urllib.parse import parse_qs

__all__ = ["BatchAPI", "FakeBatch", "FakeFile", "LineAnswer", "OPENAI_MAX_BYTES",
           "OPENAI_MAX_REQUESTS", "TERMINAL"]

OPENAI_MAX_REQUESTS = 50_000  # per input file, as OpenAI documents it
OPENAI_MAX_BYTES = 200_000_000  # per input file ("200 MB")
MAX_FILE_BYTES = 512 * 1024 * 1024  # OpenAI's limit on any uploaded file
_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
_ENDPOINTS = ("/v1/chat/completions", "/v1/responses", "/v1/embeddings", "/v1/completions",
              "/v1/moderations")
TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
_NOT_RUN = {
    "batch_expired": "This request could not be executed before the completion window "
                     "expired.",
    "batch_cancelled": "This request could not be executed because the batch was "
                       "cancelled.",
    "request_timeout": "The request timed out.",
}

Status: TypeAlias = Literal["validating", "failed", "in_progress", "finalizing", "completed",
                            "expired", "cancelling", "cancelled"]
Reply: TypeAlias = tuple[int, bytes, dict[str, str]]


@dataclass(frozen=True)
class LineAnswer:
    """How the model endpoint answered one request of a batch: an HTTP status and body, or
    ``not_run`` (``request_timeout``) when it never gave one."""

    status: int
    body: bytes
    not_run: str | None = None


Answerer: TypeAlias = Callable[[dict[str, Any], int], LineAnswer]
"""The server's answer to one request body (the ``n``-th request line it ran)."""


@dataclass
class FakeFile:
    id: str
    filename: str
    purpose: str
    content: bytes
    created_at: int

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "object": "file", "bytes": len(self.content),
                "created_at": self.created_at, "filename": self.filename,
                "purpose": self.purpose, "status": "processed", "expires_at": None,
                "status_details": None}


@dataclass
class FakeBatch:
    """One batch and where it is; ``lines`` are its requests once validated."""

    id: str
    input_file_id: str
    endpoint: str
    completion_window: str
    metadata: dict[str, str] | None
    created_at: int
    status: Status = "validating"
    lines: list[dict[str, Any]] = field(default_factory=list)
    done: int = 0  # lines run so far, in order
    output: list[dict[str, Any]] = field(default_factory=list)
    errored: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    polls: int = 0  # retrieves while in progress
    times: dict[str, int] = field(default_factory=dict)
    output_file_id: str | None = None
    error_file_id: str | None = None
    model: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0

    def to_json(self) -> dict[str, Any]:
        stamp = {name: self.times.get(name) for name in (
            "in_progress_at", "finalizing_at", "completed_at", "failed_at", "expired_at",
            "cancelling_at", "cancelled_at")}
        failed = len(self.errored)
        body: dict[str, Any] = {
            "id": self.id, "object": "batch", "endpoint": self.endpoint,
            "errors": ({"object": "list", "data": self.errors} if self.errors else None),
            "input_file_id": self.input_file_id, "completion_window": self.completion_window,
            "status": self.status, "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id, "created_at": self.created_at,
            "expires_at": self.created_at + 24 * 3600, **stamp,
            "request_counts": {"total": len(self.lines),
                               "completed": len(self.output), "failed": failed},
            "metadata": self.metadata, "model": self.model,
            "usage": {"input_tokens": self.input_tokens,
                      "input_tokens_details": {"cached_tokens": 0},
                      "output_tokens": self.output_tokens,
                      "output_tokens_details": {"reasoning_tokens": 0},
                      "total_tokens": self.input_tokens + self.output_tokens},
        }
        return body


def _error(message: str, type_: str = "invalid_request_error", code: str | None = None,
           param: str | None = None) -> bytes:
    return json.dumps({"error": {"message": message, "type": type_, "param": param,
                                 "code": code}}).encode()


def _json(payload: Mapping[str, Any], status: int = 200) -> Reply:
    return status, json.dumps(payload).encode(), {}


class BatchAPI:
    """OpenAI's ``/v1/files`` and ``/v1/batches``, kept in memory.

    ``max_requests`` and ``max_bytes`` are the per-batch limits (OpenAI's by default).
    ``lines_per_poll`` is how many requests an in-progress batch runs per poll (0: all at
    the first one). ``validating_polls`` and ``finalizing_polls`` are how many polls a batch
    spends in those statuses. ``hold`` stops every batch where it is. ``expire_after`` ends
    a batch that is still running after that many in-progress polls.
    """

    def __init__(self, answer: Answerer, *, max_requests: int = OPENAI_MAX_REQUESTS,
                 max_bytes: int = OPENAI_MAX_BYTES, lines_per_poll: int = 0,
                 validating_polls: int = 1, finalizing_polls: int = 1,
                 expire_after: int | None = None, hold: bool = False,
                 max_upload_bytes: int = MAX_FILE_BYTES) -> None:
        self._answer = answer
        self.max_requests, self.max_bytes = max_requests, max_bytes
        self.lines_per_poll = lines_per_poll
        self.validating_polls, self.finalizing_polls = validating_polls, finalizing_polls
        self.expire_after, self.hold = expire_after, hold
        self.max_upload_bytes = max_upload_bytes
        self.files: dict[str, FakeFile] = {}
        self.batches: dict[str, FakeBatch] = {}
        self._ids = itertools.count(1)
        self._lines_run = 0
        self.uploads = self.creates = self.retrieves = self.cancels = 0

    # -- routing -------------------------------------------------------------------------

    def handles(self, path: str) -> bool:
        return path == "/v1/files" or path.startswith(("/v1/files/", "/v1/batches"))

    def handle(self, method: str, target: str, headers: Mapping[str, str],
               raw: bytes) -> Reply:
        """Answer one request: ``target`` is the path with its query string."""
        path, _, query = target.partition("?")
        parts = [p for p in path.split("/") if p][1:]  # without "v1"
        params = {k: v[-1] for k, v in parse_qs(query).items()}
        if parts == ["files"] and method == "POST":
            return self._upload(headers, raw)
        if len(parts) == 2 and parts[0] == "files" and method == "GET":
            return self._file(parts[1], lambda f: _json(f.to_json()))
        if len(parts) == 2 and parts[0] == "files" and method == "DELETE":
            return self._delete_file(parts[1])
        if len(parts) == 3 and parts[0] == "files" and parts[2] == "content" \
                and method == "GET":
            return self._file(parts[1], lambda f: (200, f.content,
                                                   {"content-type": "application/octet-stream"}))
        if parts == ["batches"] and method == "POST":
            return self._create(raw)
        if parts == ["batches"] and method == "GET":
            return self._list(params)
        if len(parts) == 2 and parts[0] == "batches" and method == "GET":
            return self._batch(parts[1], self._retrieve)
        if len(parts) == 3 and parts[0] == "batches" and parts[2] == "cancel" \
                and method == "POST":
            return self._batch(parts[1], self._cancel)
        return 404, _error(f"Invalid URL ({method} {path})"), {}

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):06d}"

    # -- files ---------------------------------------------------------------------------

    def _upload(self, headers: Mapping[str, str], raw: bytes) -> Reply:
        kind, _, options = headers.get("content-type", "").partition(";")
        boundary = next((o.strip().split("=", 1)[1].strip('"') for o in options.split(";")
                         if o.strip().startswith("boundary=")), None)
        if kind.strip() != "multipart/form-data" or not boundary:
            return 400, _error("Expected a multipart/form-data body"), {}
        form = _multipart(raw, boundary.encode())
        if "file" not in form:
            return 400, _error("Missing required parameter: 'file'.",
                               code="missing_required_parameter", param="file"), {}
        purpose = form.get("purpose", (None, b""))[1].decode()
        if purpose not in _PURPOSES:
            return 400, _error(f"'{purpose}' is not one of {list(_PURPOSES)} - 'purpose'",
                               param="purpose"), {}
        filename, content = form["file"]
        if len(content) > self.max_upload_bytes:
            return 413, _error("File is too large."), {}
        self.uploads += 1
        record = FakeFile(self._next_id("file-"), filename or "upload", purpose, content,
                          int(time.time()))
        self.files[record.id] = record
        return _json(record.to_json())

    def _file(self, file_id: str, reply: Callable[[FakeFile], Reply]) -> Reply:
        found = self.files.get(file_id)
        if found is None:
            return 404, _error(f"No such File object: {file_id}", param="id"), {}
        return reply(found)

    def _delete_file(self, file_id: str) -> Reply:
        if self.files.pop(file_id, None) is None:
            return 404, _error(f"No such File object: {file_id}", param="id"), {}
        return _json({"id": file_id, "object": "file", "deleted": True})

    # -- batches -------------------------------------------------------------------------

    def _create(self, raw: bytes) -> Reply:
        try:
            body = json.loads(raw)
        except ValueError:
            return 400, _error("We could not parse the JSON body of your request."), {}
        if not isinstance(body, dict):
            return 400, _error("The body must be a JSON object."), {}
        for name in ("input_file_id", "endpoint", "completion_window"):
            if name not in body:
                return 400, _error(f"Missing required parameter: '{name}'.",
                                   code="missing_required_parameter", param=name), {}
        source = self.files.get(str(body["input_file_id"]))
        if source is None:
            return 404, _error(f"No such File object: {body['input_file_id']}",
                               param="input_file_id"), {}
        if source.purpose != "batch":
            return 400, _error(f"File {source.id} has purpose '{source.purpose}'; a batch "
                               "needs purpose 'batch'.", param="input_file_id"), {}
        if len(source.content) > self.max_bytes:
            return 400, _error("File is too large."), {}
        if body["endpoint"] not in _ENDPOINTS:
            return 400, _error(f"Invalid 'endpoint': {body['endpoint']}", param="endpoint"), {}
        if body["completion_window"] != "24h":
            return 400, _error("Invalid 'completion_window': only '24h' is supported.",
                               param="completion_window"), {}
        self.creates += 1
        batch = FakeBatch(self._next_id("batch_"), source.id, str(body["endpoint"]), "24h",
                          body.get("metadata"), int(time.time()))
        self.batches[batch.id] = batch
        return _json(batch.to_json())

    def _list(self, params: Mapping[str, str]) -> Reply:
        newest = sorted(self.batches.values(), key=lambda b: b.id, reverse=True)
        after = params.get("after")
        if after is not None:
            newest = [b for b in newest if b.id < after]
        limit = max(1, min(100, int(params.get("limit", "20"))))
        page = newest[:limit]
        return _json({"object": "list", "data": [b.to_json() for b in page],
                      "first_id": page[0].id if page else None,
                      "last_id": page[-1].id if page else None,
                      "has_more": len(newest) > limit})

    def _batch(self, batch_id: str, reply: Callable[[FakeBatch], Reply]) -> Reply:
        found = self.batches.get(batch_id)
        if found is None:
            return 404, _error(f"No batch found with id '{batch_id}'.", param="batch_id"), {}
        return reply(found)

    def _retrieve(self, batch: FakeBatch) -> Reply:
        self.retrieves += 1
        if not self.hold:
            self._step(batch)
        return _json(batch.to_json())

    def _cancel(self, batch: FakeBatch) -> Reply:
        if batch.status in TERMINAL:
            return 409, _error(f"Cannot cancel a batch with status '{batch.status}'."), {}
        self.cancels += 1
        if batch.status != "cancelling":
            batch.status = "cancelling"
            batch.times["cancelling_at"] = int(time.time())
        return _json(batch.to_json())

    # -- moving a batch on ---------------------------------------------------------------

    def _step(self, batch: FakeBatch) -> None:
        """One poll's worth of progress (see the module docstring)."""
        now = int(time.time())
        batch.polls += 1
        if batch.status == "validating":
            if batch.polls < self.validating_polls:
                return
            errors = self._validate(batch)
            if errors:
                batch.status, batch.errors = "failed", errors
                batch.times["failed_at"] = now
                return
            batch.status, batch.polls = "in_progress", 0
            batch.times["in_progress_at"] = now
            return
        if batch.status == "in_progress":
            if self.expire_after is not None and batch.polls > self.expire_after:
                self._not_run(batch, "batch_expired")
                batch.status = "expired"
                batch.times["expired_at"] = now
                self._write_files(batch)
                return
            count = self.lines_per_poll or len(batch.lines)
            for line in batch.lines[batch.done:batch.done + count]:
                self._run(batch, line)
            batch.done = min(len(batch.lines), batch.done + count)
            if batch.done == len(batch.lines):
                batch.status, batch.polls = "finalizing", 0
                batch.times["finalizing_at"] = now
            return
        if batch.status == "finalizing":
            if batch.polls >= self.finalizing_polls:
                self._write_files(batch)
                batch.status = "completed"
                batch.times["completed_at"] = now
            return
        if batch.status == "cancelling":
            self._not_run(batch, "batch_cancelled")
            self._write_files(batch)
            batch.status = "cancelled"
            batch.times["cancelled_at"] = now

    def _validate(self, batch: FakeBatch) -> list[dict[str, Any]]:
        """The documented per-line checks; the lines are kept when all pass."""
        content = self.files[batch.input_file_id].content
        rows = [row for row in content.split(b"\n") if row.strip()]
        if not rows:
            return [_line_error("empty_file", "The batch input file is empty.", None)]
        if len(rows) > self.max_requests:
            return [_line_error("too_many_tasks", f"The batch input file has {len(rows)} "
                                f"requests; a batch takes at most {self.max_requests}.", None)]
        errors: list[dict[str, Any]] = []
        seen: set[str] = set()
        models: set[str] = set()
        lines: list[dict[str, Any]] = []
        for number, row in enumerate(rows, 1):
            try:
                line = json.loads(row)
            except ValueError:
                line = None
            if not isinstance(line, dict):
                errors.append(_line_error("invalid_json_line",
                                          "This line is not parseable as valid JSON.", number))
                continue
            custom_id, body = line.get("custom_id"), line.get("body")
            if not isinstance(custom_id, str) or not isinstance(body, dict) \
                    or line.get("method") != "POST":
                errors.append(_line_error("missing_required_parameter", "Each line needs a "
                                          "custom_id, method POST and a body.", number))
                continue
            if custom_id in seen:
                errors.append(_line_error("duplicate_custom_id", "The custom_id for this "
                                          "request is a duplicate of another request. The "
                                          "custom_id parameter must be unique for each "
                                          "request in a batch.", number, "custom_id"))
            seen.add(custom_id)
            if line.get("url") != batch.endpoint:
                errors.append(_line_error("url_mismatch", "The provided URL does not match "
                                          "the batch endpoint.", number, "url"))
            models.add(str(body.get("model")))
            lines.append(line)
        if len(models) > 1:
            errors.append(_line_error("model_mismatch", "All requests in a batch must use "
                                      "the same model.", None, "body.model"))
        if not errors:
            batch.lines = lines
            batch.model = next(iter(models))
        return errors

    def _run(self, batch: FakeBatch, line: dict[str, Any]) -> None:
        """Answer one request line: to the output file, or the error file."""
        self._lines_run += 1
        index = self._lines_run
        answer = self._answer(line["body"], index)
        row: dict[str, Any] = {"id": f"batch_req_{index:06d}", "custom_id": line["custom_id"]}
        if answer.not_run is not None:
            batch.errored.append({**row, "response": None, "error": {
                "code": answer.not_run, "message": _NOT_RUN[answer.not_run]}})
            return
        body = json.loads(answer.body) if answer.body else {}
        row["response"] = {"status_code": answer.status, "request_id": f"req_batch_{index}",
                           "body": body}
        row["error"] = None
        if answer.status == 200:
            usage = body.get("usage") if isinstance(body, dict) else None
            if isinstance(usage, dict):
                batch.input_tokens += int(usage.get("prompt_tokens", 0))
                batch.output_tokens += int(usage.get("completion_tokens", 0))
            batch.output.append(row)
        else:
            batch.errored.append(row)

    def _not_run(self, batch: FakeBatch, code: str) -> None:
        """Every request not run yet goes to the error file with ``code``."""
        for line in batch.lines[batch.done:]:
            self._lines_run += 1
            batch.errored.append({"id": f"batch_req_{self._lines_run:06d}",
                                  "custom_id": line["custom_id"], "response": None,
                                  "error": {"code": code, "message": _NOT_RUN[code]}})
        batch.done = len(batch.lines)

    def _write_files(self, batch: FakeBatch) -> None:
        """The output and error files, as ``batch_output`` files (absent when empty)."""
        now = int(time.time())
        for rows, name, attribute in ((batch.output, "output", "output_file_id"),
                                      (batch.errored, "error", "error_file_id")):
            if not rows:
                continue
            content = "".join(json.dumps(row) + "\n" for row in rows).encode()
            record = FakeFile(self._next_id("file-"), f"{batch.id}_{name}.jsonl",
                              "batch_output", content, now)
            self.files[record.id] = record
            setattr(batch, attribute, record.id)

    def statuses(self) -> Sequence[str]:
        return [batch.status for batch in self.batches.values()]

    def advance(self, polls: int = 1) -> None:
        """Move every batch on by ``polls`` polls' worth, as retrieves would (even held)."""
        for _ in range(polls):
            for batch in list(self.batches.values()):
                self._step(batch)


def _line_error(code: str, message: str, line: int | None,
                param: str | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "param": param, "line": line}


def _multipart(raw: bytes, boundary: bytes) -> dict[str, tuple[str | None, bytes]]:
    """name → (filename, content) of a multipart/form-data body (RFC 7578)."""
    form: dict[str, tuple[str | None, bytes]] = {}
    for part in raw.split(b"--" + boundary)[1:]:
        if part.startswith(b"--"):
            break  # the closing delimiter
        head, _, content = part.partition(b"\r\n\r\n")
        if content.endswith(b"\r\n"):
            content = content[:-2]
        disposition = next((line for line in head.decode("utf-8", "replace").split("\r\n")
                            if line.lower().startswith("content-disposition:")), "")
        values: dict[str, str] = {}
        for item in disposition.split(";")[1:]:
            key, _, value = item.strip().partition("=")
            values[key] = value.strip('"')
        if "name" in values:
            form[values["name"]] = (values.get("filename"), content)
    return form
