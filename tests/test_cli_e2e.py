"""``extractor run`` end to end on ``sample_docs``: over HTTP, through faults, and golden files.

* Over the loopback server (real sockets, the real ``openai`` SDK) answering like a model
  (``clikit.model_responder``): every labelled value of ``expected.json`` comes out, on its
  page, with a quote that is in the document.
* The same runs with about a quarter of the requests failing (5xx, dropped connections,
  malformed JSON, 429 with ``retry-after-ms``) give exactly the clean run's fields.
* ``--offline`` runs are compared with ``tests/golden/<preset>.json``; regenerate them with
  ``UPDATE_GOLDEN=1 pytest tests/test_cli_e2e.py`` and review the diff.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clikit import (
    EXPECTED,
    KINDS,
    PRESET_OF,
    REPO,
    ServerThread,
    cli_env,
    fields_and_statuses,
    flaky_script,
    folded,
    isolate,
    model_responder,
    run_cli,
    stable,
)

from extractor_tui.cli import EXIT_OK, main
from extractor_tui.core import load_documents

__all__ = ["cli_env"]  # the fixture, imported so pytest finds it

GOLDEN = Path(__file__).parent / "golden"
API_KEY = "sk-test-123"


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    """One well-behaved model server for the clean runs of this module."""
    with ServerThread(responder=model_responder) as thread:
        yield thread


@pytest.fixture(scope="module")
def clean_runs(server: ServerThread, tmp_path_factory: pytest.TempPathFactory
               ) -> dict[str, dict[str, Any]]:
    """The report of a clean run of each preset over its folder, as written to out.json."""
    reports = {}
    with pytest.MonkeyPatch.context() as monkeypatch:
        tmp = tmp_path_factory.mktemp("clean")
        isolate(monkeypatch, tmp)
        monkeypatch.chdir(REPO)
        for preset, folder in KINDS.items():
            out = tmp / f"{preset}.json"
            code = main(["run", f"sample_docs/{folder}", "--preset", preset, "--base-url",
                         server.base_url, "--api-key", API_KEY, "--output", str(out)])
            assert code == EXIT_OK, preset
            reports[preset] = json.loads(out.read_text(encoding="utf-8"))
    return reports


@pytest.fixture(scope="module")
def texts() -> dict[str, str]:
    """The text the engine reads from each sample document, by its relative path."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.chdir(REPO)
        loaded = asyncio.run(load_documents([Path("sample_docs") / f for f in KINDS.values()]))
    assert loaded.errors == []
    return {doc.path.as_posix(): doc.text for doc in loaded.documents}


def _norm(value: Any) -> Any:
    """Strings whitespace-collapsed, lists as sets of them; numbers and ISO dates as they are."""
    if isinstance(value, list):
        return {_norm(item) for item in value}
    if isinstance(value, str):
        return " ".join(value.split())
    return value




def _labelled_problems(report: dict[str, Any], preset: str, texts: dict[str, str]
                       ) -> tuple[dict[tuple[str, str], str], int]:
    """(path, field) → what is wrong, for every labelled expected value; and how many."""
    by_path = {doc["path"]: doc for doc in report["documents"]}
    expected = {f"sample_docs/{name}": entry for name, entry in EXPECTED.items()
                if PRESET_OF[entry["kind"]] == preset}
    assert set(by_path) == set(expected)
    problems: dict[tuple[str, str], str] = {}
    checked = 0
    for path, entry in expected.items():
        doc = by_path[path]
        text = folded(texts[path])
        for name, truth in entry["fields"].items():
            if not truth["labelled"] or name not in doc["fields"]:
                continue  # prose-only values, and invoice line items (not in the preset)
            checked += 1
            field = doc["fields"][name]
            pages = {source["page"] for source in field["sources"]}
            quotes = [source["quote"] for source in field["sources"]]
            if not field["valid"]:
                problems[path, name] = f"invalid: {field['errors']}"
            elif _norm(field["value"]) != _norm(truth["value"]):
                problems[path, name] = f"{field['value']!r} != {truth['value']!r}"
            elif truth["page"] not in pages:
                problems[path, name] = f"page {truth['page']} not in {sorted(pages)}"
            elif not quotes or not all(q.strip() and folded(q) in text for q in quotes):
                problems[path, name] = f"a quote is empty or not in the text: {quotes}"
    return problems, checked


@pytest.mark.parametrize("preset", list(KINDS))
def test_labelled_values_come_out_on_their_page_with_a_real_quote(
        preset: str, clean_runs: dict[str, dict[str, Any]], texts: dict[str, str]) -> None:
    report = clean_runs[preset]
    assert {doc["status"] for doc in report["documents"]} == {"complete"}
    problems, checked = _labelled_problems(report, preset, texts)
    assert checked >= {"invoice": 40, "contract": 4, "medical": 30}[preset]
    assert problems == {}


def test_faults_do_not_change_the_result(clean_runs: dict[str, dict[str, Any]], cli_env: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    kinds = []
    with ServerThread(responder=model_responder, script=flaky_script(seed=7)) as flaky:
        for preset, folder in KINDS.items():
            out = cli_env / f"{preset}.json"
            result = run_cli(["run", f"sample_docs/{folder}", "--preset", preset, "--base-url",
                              flaky.base_url, "--api-key", API_KEY, "--retries", "8",
                              "--output", out], capsys)
            assert result.code == EXIT_OK, result.err
            report = json.loads(out.read_text(encoding="utf-8"))
            assert fields_and_statuses(report) == fields_and_statuses(clean_runs[preset])
            assert stable(report) == stable(clean_runs[preset])
            assert report["summary"]["retries"] > 0
        kinds = [record.fault for record in flaky.chats()]
    faults = [kind for kind in kinds if kind != "ok"]
    assert set(faults) == {"server_error", "drop", "malformed", "rate_limited"}
    assert len(faults) >= 0.15 * len(kinds)


def _golden_report(preset: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    result = run_cli(["run", f"sample_docs/{KINDS[preset]}", "--preset", preset, "--offline"],
                     capsys)
    assert result.code == EXIT_OK, result.err
    report: dict[str, Any] = json.loads(result.out)
    report["summary"].pop("elapsed_seconds")
    return report


@pytest.mark.parametrize("preset", list(KINDS))
def test_offline_report_matches_the_golden_file(preset: str, cli_env: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    report = _golden_report(preset, capsys)
    golden = GOLDEN / f"{preset}.json"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n",
                          encoding="utf-8")
    assert golden.is_file(), f"{golden} is missing: run with UPDATE_GOLDEN=1"
    assert report == json.loads(golden.read_text(encoding="utf-8"))
