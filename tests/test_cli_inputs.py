"""``extractor run`` on inputs a person really has: a folder holding other files beside the
documents, a folder it may not read, symlink loops, file names that are not UTF-8, a schema
nested beyond reason. One bad input never aborts the run, and nothing is passed over in
silence.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from clikit import child_env, cli_env, run_cli

from extractor_tui.cli import EXIT_OK, EXIT_PARTIAL, EXIT_USAGE
from extractor_tui.core.session import Session

__all__ = ["cli_env"]

REPO = Path(__file__).resolve().parents[1]
INVOICES = REPO / "sample_docs" / "invoices"
ACME = INVOICES / "acme-2024-0117.txt"
EXTRACTOR = Path(sys.executable).parent / "extractor"
NOBODY = 65534


def _invoices(folder: Path) -> Path:
    shutil.copytree(INVOICES, folder)
    return folder


# --------------------------------------------------------------------------- item 2: folders


def test_other_files_in_a_folder_are_skipped_and_listed_without_failing_the_run(
        cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    docs = _invoices(cli_env / "docs")
    (docs / "schema.json").write_text("{}", encoding="utf-8")
    (docs / "notes").mkdir()
    (docs / "notes" / "budget.xlsx").write_bytes(b"PK")
    result = run_cli(["run", docs, "--preset", "invoice", "--offline"], capsys)
    assert result.code == EXIT_OK, result.err
    report = json.loads(result.out)
    assert report["skipped"] == [
        {"path": str(docs / "notes" / "budget.xlsx"), "reason": "unsupported type .xlsx"},
        {"path": str(docs / "schema.json"), "reason": "unsupported type .json"}]
    assert report["summary"]["skipped"] == 2
    assert len(report["documents"]) == 6
    assert {d["status"] for d in report["documents"]} == {"complete"}
    assert f"- {docs}/schema.json: skipped: unsupported type .json" in result.err
    assert f" skipped {docs}/notes/budget.xlsx  unsupported type .xlsx" in result.err


def test_a_file_named_explicitly_that_cannot_be_read_still_fails(
        cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    schema = cli_env / "schema.json"
    schema.write_text("{}", encoding="utf-8")
    result = run_cli(["run", ACME, schema, "--preset", "invoice", "--offline"], capsys)
    assert result.code == EXIT_PARTIAL
    report = json.loads(result.out)
    assert report["skipped"] == []
    failed = [d for d in report["documents"] if d["status"] == "failed"]
    assert [(d["path"], d["error"]) for d in failed] == [
        (str(schema), "unsupported file type .json (use .pdf, .txt or .md)")]


@pytest.mark.skipif(not EXTRACTOR.exists(), reason="console script not installed")
def test_a_subfolder_that_cannot_be_read_is_reported(tmp_path: Path) -> None:
    """Root reads every folder, so as root the command runs as ``nobody``."""
    top = Path(tempfile.mkdtemp(prefix="extractor-walk-"))
    try:
        top.chmod(0o755)
        docs = top / "docs"
        docs.mkdir(mode=0o755)
        shutil.copy(ACME, docs / "acme.txt")
        (docs / "acme.txt").chmod(0o644)
        private = docs / "private"
        private.mkdir()
        (private / "hidden-from-you.txt").write_text("Invoice No.: 9", encoding="utf-8")
        private.chmod(0o700 if os.geteuid() == 0 else 0)
        home = top / "home"
        home.mkdir()
        home.chmod(0o777)
        user: dict[str, Any] = {"user": NOBODY} if os.geteuid() == 0 else {}
        done = subprocess.run([EXTRACTOR, "run", docs, "--preset", "invoice", "--offline"],
                              env=child_env(home), cwd=home, capture_output=True, text=True,
                              timeout=120, **user)
    finally:
        private.chmod(0o700)
        shutil.rmtree(top, ignore_errors=True)
    assert done.returncode == EXIT_PARTIAL, done.stderr
    assert f"✗ {private}: cannot read folder: Permission denied" in done.stderr
    report = json.loads(done.stdout)
    assert [(d["path"], d["status"], d["error"]) for d in report["documents"]] == [
        (str(docs / "acme.txt"), "complete", None),
        (str(private), "failed", "cannot read folder: Permission denied")]


# --------------------------------------------------------------------------- item 3: bad input


def test_a_symlink_loop_is_one_failed_input_not_a_crash(
        cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    docs = cli_env / "docs"
    docs.mkdir()
    shutil.copy(ACME, docs / "acme.txt")
    (docs / "a.txt").symlink_to(docs / "b.txt")
    (docs / "b.txt").symlink_to(docs / "a.txt")
    (docs / "x").symlink_to(docs / "y")
    (docs / "y").symlink_to(docs / "x")
    result = run_cli(["run", docs, "--preset", "invoice", "--offline"], capsys)
    assert result.code == EXIT_PARTIAL, result.err
    assert "internal error" not in result.err
    report = json.loads(result.out)
    assert {d["path"]: d["error"] for d in report["documents"]} == {
        str(docs / "a.txt"): "cannot read: Too many levels of symbolic links",
        str(docs / "b.txt"): "cannot read: Too many levels of symbolic links",
        str(docs / "acme.txt"): None}
    assert [s["path"] for s in report["skipped"]] == [str(docs / "x"), str(docs / "y")]


def test_a_file_name_that_is_not_utf8_is_kept_losslessly_and_shown_escaped(
        cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    docs = cli_env / "docs"
    docs.mkdir()
    raw = b"caf\xe9 \xff.txt"
    odd = docs / os.fsdecode(raw)
    shutil.copy(ACME, odd)
    session = cli_env / "s.sqlite"
    args: list[str | Path] = ["run", docs, "--preset", "invoice", "--offline", "--session",
                              session]
    first = run_cli(args, capsys)
    assert first.code == EXIT_OK, first.err
    assert f"complete {docs}/caf\\xe9 \\xff.txt" in first.err  # escaped on the terminal
    [doc] = json.loads(first.out)["documents"]
    assert os.fsencode(doc["path"]) == os.fsencode(docs) + b"/" + raw  # the real name
    assert doc["fields"]["invoice_number"]["value"] == "INV-2024-0117"
    with Session.open(session) as stored:
        assert [os.fsencode(d.path) for d in stored.documents()] == [os.fsencode(odd)]
    again = run_cli([*args, "--output", cli_env / "out.csv"], capsys)
    assert again.code == EXIT_OK, again.err
    assert "(1 answered from the session)" in again.err
    rows = list(csv.reader(io.StringIO((cli_env / "out.csv").read_text("utf-8-sig"))))
    assert rows[1][0] == f"{docs}/caf\\xe9 \\xff.txt"


def test_a_schema_nested_thousands_of_levels_deep_is_refused_in_one_line(
        cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    deep = cli_env / "deep.json"
    deep.write_text('{"type": "object", "properties": {"a": ' + '{"x": ' * 5000 + "1"
                    + "}" * 5000 + "}}", encoding="utf-8")
    result = run_cli(["run", ACME, "--schema", deep, "--offline"], capsys)
    assert result.code == EXIT_USAGE
    assert result.err.strip().splitlines() == [
        f"error: {deep}: nested too deeply (a field schema needs a few levels, not "
        "thousands)"]
