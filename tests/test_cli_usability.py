"""Small things a person meets at once: where a bad value came from, what ``extractor --help``
shows, amounts without a stray ``.0``, CSV columns that fields cannot shadow, and a CSV that
says which provider made it."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from clikit import cli_env, run_cli

from extractor_tui.cli import EXIT_OK, EXIT_USAGE, main

__all__ = ["cli_env"]

ACME = "sample_docs/invoices/acme-2024-0117.txt"
RUN = ["run", ACME, "--preset", "invoice", "--offline", "--dry-run"]


def test_a_bad_flag_value_names_the_flag(cli_env: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli([*RUN, "--concurrency", "0"], capsys)
    assert result.code == EXIT_USAGE
    assert result.err.strip() == "error: --concurrency 0: must be at least 1"


def test_a_bad_environment_value_names_the_variable(cli_env: Path,
                                                    capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXTRACTOR_CONCURRENCY", "lots")
    result = run_cli(RUN, capsys)
    assert result.code == EXIT_USAGE
    assert result.err.strip() == "error: EXTRACTOR_CONCURRENCY=lots: must be a whole number"


def test_a_bad_config_value_names_the_file(cli_env: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    config = cli_env / "config.toml"
    config.write_text("concurrency = 500\ntimeout_s = 30\n", encoding="utf-8")
    result = run_cli([*RUN, "--config", config], capsys)
    assert result.code == EXIT_USAGE
    assert result.err.strip() == f"error: {config}: concurrency = 500: must be at most 100"


def test_a_flag_wins_over_a_bad_environment_value(cli_env: Path,
                                                  capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXTRACTOR_CONCURRENCY", "500")
    assert run_cli([*RUN, "--concurrency", "4"], capsys).code == EXIT_OK


def test_a_secret_value_is_never_echoed_in_an_error(cli_env: Path,
                                                    capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "https://bob:s3cr3t-pw@example.com/v1")
    result = run_cli(RUN, capsys)
    assert result.code == EXIT_USAGE
    assert result.err.startswith("error: OPENAI_BASE_URL: a user name or password")
    assert "s3cr3t" not in result.err


def test_extractor_help_shows_the_apps_own_arguments(capsys: pytest.CaptureFixture[str]
                                                     ) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    shown = capsys.readouterr().out
    for word in ("PATH", "--preset", "--session", "--schema", "--field", "extractor run",
                 "extractor export"):
        assert word in shown, word


def test_whole_amounts_print_without_a_trailing_zero(cli_env: Path,
                                                     capsys: pytest.CaptureFixture[str]
                                                     ) -> None:
    doc = cli_env / "whole.txt"
    doc.write_text("INVOICE\nInvoice No.: 77\nSubtotal: 12450\nTotal: 12,450.00 EUR\n",
                   encoding="utf-8")
    out = cli_env / "out.csv"
    result = run_cli(["run", doc, "--field", "total:number", "--field", "subtotal:number",
                      "--offline", "--output", out], capsys)
    assert result.code == EXIT_OK, result.err
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert (rows[0]["total"], rows[0]["subtotal"]) == ("12450", "12450")
    shown = run_cli(["run", doc, "--field", "total:number", "--offline"], capsys).out
    assert '"value": 12450,' in shown and "12450.0" not in shown


def test_fields_named_like_the_csv_columns_keep_their_own_columns(
        cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = cli_env / "order.txt"
    doc.write_text("ORDER\nStatus: shipped\nPath: /warehouse/7\nProvider: ACME Logistics\n",
                   encoding="utf-8")
    out = cli_env / "out.csv"
    result = run_cli(["run", doc, "--field", "status", "--field", "path", "--field",
                      "provider", "--offline", "--output", out], capsys)
    assert result.code == EXIT_OK, result.err
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    header, row = rows
    assert len(header) == len(set(header))  # no column name twice
    values = dict(zip(header, row, strict=True))
    assert values["document path"] == str(doc)
    assert values["document status"] == "complete"
    assert values["document provider"] == "offline (no LLM)"
    assert (values["status"], values["path"], values["provider"]) == (
        "shipped", "/warehouse/7", "ACME Logistics")


def test_the_csv_says_which_provider_made_it(cli_env: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = cli_env / "out.csv"
    assert run_cli(["run", ACME, "--preset", "invoice", "--offline", "--output", out],
                   capsys).code == EXIT_OK
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert rows[0]["provider"] == "offline (no LLM)"
    assert rows[0]["model"] == ""  # the offline provider uses no model
    assert json.loads(json.dumps(rows))  # plain strings


def test_a_run_over_many_documents_lists_the_ones_to_look_at_then_counts(
        cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Thousands of documents must not mean thousands of lines on stderr (10,000 took 6 s
    and buried the totals): past SUMMARY_LINES, the documents that need a look, then counts."""
    from extractor_tui.cli_run import SUMMARY_LINES

    folder = cli_env / "many"
    folder.mkdir()
    for n in range(SUMMARY_LINES + 5):
        total = f"Total: ${100 + n}.00\n" if n % 3 else ""  # every third lacks its total
        (folder / f"inv-{n:02d}.txt").write_text(
            f"Invoice No. INV-{n:04d}\nInvoice Date: 2024-01-{n % 28 + 1:02d}\n"
            f"Vendor: Acme Ltd\n{total}", encoding="utf-8")
    result = run_cli(["run", folder, "--preset", "invoice", "--offline",
                      "--output", cli_env / "r.json"], capsys)
    report = json.loads((cli_env / "r.json").read_text(encoding="utf-8"))
    statuses = [doc["status"] for doc in report["documents"]]
    listed = [line for line in result.err.splitlines() if "inv-" in line]
    needing_a_look = [s for s in statuses if s != "complete"]
    assert 0 < len(listed) == min(SUMMARY_LINES, len(needing_a_look)) < len(statuses)
    assert all("complete" not in line.split()[0] for line in listed)
    more = [line for line in result.err.splitlines() if "more document(s) not listed" in line]
    assert len(more) == 1 and f"{len(statuses) - len(listed)} more" in more[0]
    assert f"{statuses.count('complete')} complete" in more[0]
