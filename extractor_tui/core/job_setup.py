"""What a Job is built from, and the setup a front end does before it has one: the client a
settings object asks for, the engine's configuration, the structured-output modes a session
remembers per endpoint, and the work done before a run's event loop starts (the SDK's
imports, the tokenizer).

Apart from ``job.py`` so the Job's file is about documents, runs and results. "Test
connection" uses these very functions, so it asks with the client a run would use.
"""

from __future__ import annotations

import asyncio
import json

from extractor_tui.config import Settings
from extractor_tui.core.chunks import make_chunker
from extractor_tui.core.endpoint_setup import endpoint_specs
from extractor_tui.core.engine import EngineConfig
from extractor_tui.core.llm.base import Client
from extractor_tui.core.session import Session
from extractor_tui.errors import ConfigError, ProviderError

__all__ = ["MODES_META", "endpoint_models", "engine_config", "list_models", "make_client",
           "negotiated_modes", "prepare_sdk", "prepare_tokenizer"]


def prepare_sdk() -> None:
    """What ``make_client`` would do first for an SDK client, done now: the SDK's imports
    (openai, httpx2, aiohttp, 0.3-0.7 s) and its TLS context (50-100 ms). The CLI calls it
    before its event loop starts (``cli_run.prepare``), so the Job makes its client on the
    loop without either."""
    from extractor_tui.core.llm import openai_client, transport  # noqa: F401 - imported now

    transport.warm()


def prepare_tokenizer(settings: Settings) -> None:
    """Build the encoding a Job with ``settings`` chunks with (tiktoken keeps it): its
    constructor is one Rust call that holds the GIL about 70 ms, so on a thread beside the
    event loop it still held the loop. A tokenizer that cannot load is left to the Job,
    which says why."""
    try:
        make_chunker(settings.model, settings.chunk_tokens, settings.overlap_tokens)
    except ConfigError:
        pass


def make_client(settings: Settings) -> Client:
    """The provider the settings ask for: the built-in ``offline`` one or an HTTP endpoint."""
    if settings.resolved_provider == "offline":
        from extractor_tui.core.llm.offline import OfflineClient
        return OfflineClient()
    from extractor_tui.core.llm.openai_client import OpenAIClient
    key = settings.api_key.get_secret_value() if settings.api_key else None
    return OpenAIClient(base_url=settings.base_url, api_key=key, timeout=settings.timeout_s,
                        max_body_bytes=settings.max_response_bytes)


async def list_models(settings: Settings) -> list[str]:
    """The models the endpoint in ``settings`` serves, asked by the very client a run with
    these settings would use ("test connection" on the Settings screen, before they are
    applied); a ``ProviderError`` says why the call failed."""
    client = make_client(settings)
    try:
        return await client.list_models(timeout=min(10.0, settings.timeout_s))
    finally:
        await client.aclose()


async def endpoint_models(settings: Settings) -> list[tuple[str, list[str] | ProviderError]]:
    """Each ``[[endpoints]]`` table's models, or why its call failed, asked at once by the
    clients a run would build (each with the key its variable holds). A variable that is
    not set is a ``ConfigError`` before anything is asked."""
    specs = endpoint_specs(settings, modes={}, wrap=lambda client: client)

    async def ask(client: Client) -> list[str] | ProviderError:
        try:
            return await client.list_models(timeout=min(10.0, settings.timeout_s))
        except ProviderError as exc:
            return exc
        finally:
            await client.aclose()

    answers = await asyncio.gather(*(ask(spec.client) for spec in specs))
    return [(spec.name, answer) for spec, answer in zip(specs, answers, strict=True)]


def engine_config(settings: Settings, structured_start: str | None = None) -> EngineConfig:
    return EngineConfig(concurrency=settings.concurrency, retries=settings.retries,
                        invalid_retries=settings.invalid_retries, timeout=settings.timeout_s,
                        max_rate_limit_wait=settings.max_rate_limit_wait_s,
                        max_tokens=settings.max_output_tokens, rpm=settings.rpm,
                        tpm=settings.tpm, structured_output=settings.structured_output,
                        structured_start=structured_start)


MODES_META = "structured_output"  # JSON: {endpoint without credentials: negotiated mode}


def negotiated_modes(session: Session) -> dict[str, str]:
    try:
        stored = json.loads(session.meta(MODES_META) or "{}")
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in stored.items()} if isinstance(stored, dict) else {}
