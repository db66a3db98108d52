"""The dry-run plan's token estimate is within ±20 % of what the run then reports, on every
sample_docs folder with its preset: with the offline provider, and over HTTP against the
loopback server answering like a model (``clikit.model_responder``) and counting tokens with
cl100k_base, as a server whose model uses it would."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from clikit import KINDS, SAMPLES, model_responder
from loopback import LoopbackServer

from chunking import resolve_encoding
from extractor_tui.config import Settings
from extractor_tui.core.fields import preset
from extractor_tui.core.job import Job
from extractor_tui.core.session import Session

TOLERANCE = 0.20


def _count(text: str) -> int:
    return len(resolve_encoding(None).encoding.encode_ordinary(text))


def _settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **values: Any) -> Settings:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "EXTRACTOR_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    return Settings(**values)


async def _plan_and_run(settings: Settings, kind: str, tmp_path: Path
                        ) -> tuple[int, int, int, int]:
    with Session.open(tmp_path / f"{kind}.sqlite") as session:
        job = Job(settings, preset(kind), session)
        try:
            await job.add_paths([SAMPLES / KINDS[kind]])
            plan = job.plan()
            await job.run()
            summary = job.report()["summary"]
        finally:
            await job.aclose()
    assert summary["failed_chunks"] == 0
    return (plan.prompt_tokens, summary["prompt_tokens"], plan.completion_tokens,
            summary["completion_tokens"])


def _within(estimate: int, actual: int) -> bool:
    return abs(estimate - actual) <= TOLERANCE * actual


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_the_plan_is_within_20_percent_with_the_offline_provider(
        kind: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = _settings(monkeypatch, tmp_path, provider="offline")
    plan_prompt, prompt, plan_completion, completion = await _plan_and_run(settings, kind,
                                                                           tmp_path)
    assert _within(plan_prompt, prompt), (plan_prompt, prompt)
    assert _within(plan_completion, completion), (plan_completion, completion)


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_the_plan_is_within_20_percent_against_the_loopback_server(
        kind: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    async with LoopbackServer(responder=model_responder, token_counter=_count) as server:
        settings = _settings(monkeypatch, tmp_path, base_url=server.base_url,
                             api_key="sk-test-not-a-key", model="loopback-1", timeout_s=10)
        plan_prompt, prompt, plan_completion, completion = await _plan_and_run(
            settings, kind, tmp_path)
    assert _within(plan_prompt, prompt), (plan_prompt, prompt)
    assert _within(plan_completion, completion), (plan_completion, completion)
