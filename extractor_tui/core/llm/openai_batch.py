"""OpenAI's Files and Batch APIs, through the official SDK, errors mapped at this one door.

Why it is built this way:

* The SDK's typed methods (``files.create`` with purpose ``batch``, ``batches.create`` with
  the 24h window, ``retrieve``, ``list``, ``cancel``, ``files.content``): these calls are
  few (one per batch, one per poll), so their per-call cost does not matter, and the SDK
  knows the multipart upload.
* Its own ``AsyncOpenAI`` on the SDK's default transport, not the chat client's: an output
  file can be far larger than the cap on one answer (``max_response_mb``), and an upload
  of up to 200 MB is a body the chat transport never sends.
* ``max_retries=0``, as everywhere: a poll that fails is simply made again later, and the
  batch runner decides when to give up (``batch.py``).
* What comes back is plain data (``batch_files.RemoteBatch``): nothing above this module sees an SDK
  type. Every ``openai.*Error`` becomes a ``ProviderError`` through ``map_error``, with the
  key redacted from what the server said.
"""

from __future__ import annotations

from typing import Any

import httpx2
import openai

from extractor_tui.core.batch_files import RemoteBatch
from extractor_tui.core.llm.openai_client import map_error
from extractor_tui.core.scrub import redact, register_secret
from extractor_tui.errors import ProviderError

__all__ = ["OpenAIBatchService"]
_LIST_PAGES = 10  # batches.list pages read to find one by its input file (100 each)


def _remote(batch: Any) -> RemoteBatch:
    counts = batch.request_counts
    errors = tuple(
        redact(f"{e.code or 'error'}"
               + (f" (line {e.line})" if e.line is not None else "")
               + f": {e.message or ''}")[:300]
        for e in ((batch.errors.data or []) if batch.errors is not None else []))
    return RemoteBatch(str(batch.id), str(batch.status), str(batch.input_file_id),
                       counts.total if counts else 0, counts.completed if counts else 0,
                       counts.failed if counts else 0, batch.output_file_id,
                       batch.error_file_id, errors, int(batch.created_at or 0),
                       batch.in_progress_at)


class OpenAIBatchService:
    """Upload, create, poll, cancel and download batches at one OpenAI-compatible endpoint."""

    def __init__(self, *, base_url: str | None, api_key: str | None,
                 timeout: float = 60.0) -> None:
        register_secret(api_key)
        self._sdk = openai.AsyncOpenAI(base_url=base_url or None,
                                       api_key=api_key or "not-needed", max_retries=0,
                                       timeout=timeout)
        self._timeout = timeout

    @property
    def endpoint(self) -> str:
        return str(self._sdk.base_url)

    def _error(self, exc: openai.OpenAIError) -> ProviderError:
        error = map_error(exc, self._timeout)
        error.message = redact(error.message)
        error.args = (error.message, *error.args[1:])
        return error

    async def upload(self, name: str, data: bytes) -> str:
        """Upload a JSONL input file (purpose ``batch``); its file id."""
        try:
            uploaded = await self._sdk.files.create(file=(name, data), purpose="batch")
        except openai.OpenAIError as exc:
            raise self._error(exc) from exc
        return str(uploaded.id)

    async def create(self, input_file_id: str) -> RemoteBatch:
        try:
            batch = await self._sdk.batches.create(
                input_file_id=input_file_id, endpoint="/v1/chat/completions", completion_window="24h",
                metadata={"created_by": "extractor"})
        except openai.OpenAIError as exc:
            raise self._error(exc) from exc
        return _remote(batch)

    async def retrieve(self, batch_id: str) -> RemoteBatch:
        try:
            return _remote(await self._sdk.batches.retrieve(batch_id))
        except openai.OpenAIError as exc:
            raise self._error(exc) from exc

    async def cancel(self, batch_id: str) -> RemoteBatch:
        try:
            return _remote(await self._sdk.batches.cancel(batch_id))
        except openai.OpenAIError as exc:
            raise self._error(exc) from exc

    async def find(self, input_file_id: str) -> RemoteBatch | None:
        """The batch made from ``input_file_id``, if one was: a run killed between
        creating a batch and recording it finds it here instead of paying for it twice."""
        after: str | None = None
        try:
            for _ in range(_LIST_PAGES):
                page = await (self._sdk.batches.list(limit=100, after=after) if after
                              else self._sdk.batches.list(limit=100))
                for batch in page.data:
                    if batch.input_file_id == input_file_id:
                        return _remote(batch)
                if not page.has_more or not page.data:
                    return None
                after = page.data[-1].id
        except openai.OpenAIError as exc:
            raise self._error(exc) from exc
        return None

    async def download(self, file_id: str) -> bytes:
        """An output or error file's content."""
        try:
            content = await self._sdk.files.content(file_id)
        except openai.OpenAIError as exc:
            raise self._error(exc) from exc
        return content.content

    def line_error(self, status: int, body: object) -> ProviderError:
        """An error line's answer (``status`` and JSON ``body``) as the error a live call
        answered so raises: 429 back-pressure, 5xx transient, 401 or a refused structured
        output fatal, with the server's own words (``map_error``)."""
        request = httpx2.Request("POST", f"{self.endpoint}chat/completions")
        response = httpx2.Response(status, request=request)
        data = body.get("error", body) if isinstance(body, dict) else body
        return self._error(openai.APIStatusError(f"Error code: {status}", response=response,
                                                 body=data))

    async def aclose(self) -> None:
        await self._sdk.close()
