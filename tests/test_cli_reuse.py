"""A session reused by another command: the report holds what this command asked for, and
stderr says what the session gave and what it did not.

Before: a run on one document of a session that held six reported all six, the five
others ``complete`` with the new fields null, exit 0; pending chunks of documents not named
were sent too.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clikit import ServerThread, cli_env, model_responder, run_cli
from loopback import Fault

from extractor_tui.cli import EXIT_OK

__all__ = ["cli_env"]

INVOICES = "sample_docs/invoices"
ACME = f"{INVOICES}/acme-2024-0117.txt"


def test_other_fields_on_one_document_report_that_document_only(
        cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    session = cli_env / "s.sqlite"
    first = run_cli(["run", INVOICES, "--preset", "invoice", "--offline", "--session",
                     session], capsys)
    assert first.code == EXIT_OK
    again = run_cli(["run", ACME, "--field", "total:number", "--field", "iban", "--offline",
                     "--session", session], capsys)
    report = json.loads(again.out)
    assert [d["path"] for d in report["documents"]] == [ACME]
    assert list(report["documents"][0]["fields"]) == ["total", "iban"]
    assert report["summary"]["documents"] == 1
    assert ("session: 5 other document(s) in it are not part of this run and not in its "
            "report") in again.err
    assert ("session: the fields differ from the session's (invoice: invoice_number, "
            "invoice_date, due_date, vendor, customer, currency, subtotal, tax, total; now "
            "total, iban): no stored answer fits them") in again.err
    assert "to send: 1 request(s) (0 answered from the session)" in again.err


def test_the_same_command_again_says_what_it_reused(cli_env: Path,
                                                    capsys: pytest.CaptureFixture[str]
                                                    ) -> None:
    session = cli_env / "s.sqlite"
    args = ["run", INVOICES, "--preset", "invoice", "--offline", "--session", session]
    assert run_cli(args, capsys).code == EXIT_OK
    again = run_cli(args, capsys)
    assert again.code == EXIT_OK
    assert "session: 7 of 7 chunk(s) answered from it; 0 to send" in again.err
    assert "not part of this run" not in again.err and "differ" not in again.err


def test_another_model_reuses_nothing_and_sends_only_the_named_documents(
        cli_env: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    session = cli_env / "s.sqlite"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-123")
    with ServerThread(responder=model_responder) as srv:
        base = ["--preset", "invoice", "--base-url", srv.base_url, "--session", session]
        assert run_cli(["run", INVOICES, *base, "--retries", "1"], capsys).code == EXIT_OK
        with ServerThread(responder=model_responder,
                          default=Fault.server_error(500)) as failing:
            broken = ["--preset", "invoice", "--base-url", failing.base_url, "--session",
                      session, "--retries", "1", "--model", "gpt-4.1-mini"]
            run_cli(["run", INVOICES, *broken], capsys)  # every chunk failed: pending
        sent = len(srv.chats())
        again = run_cli(["run", ACME, *base, "--model", "gpt-4.1-mini"], capsys)
        assert len(srv.chats()) == sent + 1  # the one chunk of the one named document
    assert again.code == EXIT_OK, again.err
    assert [d["path"] for d in json.loads(again.out)["documents"]] == [ACME]
    assert ("session: its answers came from gpt-4.1-mini, this run asks gpt-4.1-mini"
            not in again.err)


def test_a_model_change_is_said(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    session = cli_env / "s.sqlite"
    assert run_cli(["run", ACME, "--preset", "invoice", "--offline", "--session", session],
                   capsys).code == EXIT_OK
    again = run_cli(["run", ACME, "--preset", "invoice", "--offline", "--session", session,
                     "--model", "gpt-4.1-mini"], capsys)
    assert again.code == EXIT_OK
    assert ("session: its answers came from gpt-4o-mini, this run asks gpt-4.1-mini: none "
            "of them is reused") in again.err
