"""Both front ends on a real terminal (a pty), as a person starts them.

The other CLI tests capture stderr, so nothing in them draws the live progress bar, which is
only drawn on a terminal; ``extractor run`` crashed with exit 70 for every person who typed
it (a progress column read a task field that was never set) while the suite stayed green.
These run the installed console script on a pseudo-terminal and read what it draws.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from ptykit import EXTRACTOR, PtyProcess, plain

REPO = Path(__file__).resolve().parents[1]
INVOICES = REPO / "sample_docs" / "invoices"

pytestmark = pytest.mark.skipif(not EXTRACTOR.exists(), reason="console script not installed")


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("EXTRACTOR_") and k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        (tmp_path / name).mkdir(exist_ok=True)
        env[name] = str(tmp_path / name)
    env["TMPDIR"] = str(tmp_path)
    return env


def test_extractor_run_on_a_terminal_draws_progress_and_writes_the_output(
        tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    with PtyProcess([EXTRACTOR, "run", INVOICES, "--preset", "invoice", "--offline",
                     "--output", out], env=_env(tmp_path), cwd=tmp_path) as child:
        code = child.wait(90)
        shown = plain(child.output)
    assert code == 0, shown
    assert "internal error" not in shown and "Traceback" not in shown
    assert "offline" in shown
    assert "7/7" in shown  # the progress bar was drawn, and reached the end
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["summary"]["chunks"] == 7


def test_extractor_run_on_a_narrow_terminal_still_finishes(tmp_path: Path) -> None:
    with PtyProcess([EXTRACTOR, "run", INVOICES, "--preset", "invoice", "--offline",
                     "--output", tmp_path / "r.csv"], env=_env(tmp_path), cwd=tmp_path,
                    columns=40, rows=10) as child:
        code = child.wait(90)
    assert code == 0, plain(child.output)
    assert (tmp_path / "r.csv").stat().st_size > 0


def test_the_app_opens_on_a_terminal_and_quits_with_ctrl_q(tmp_path: Path) -> None:
    with PtyProcess([EXTRACTOR, INVOICES, "--preset", "invoice",
                     "--session", tmp_path / "s.sqlite"], env=_env(tmp_path), cwd=tmp_path,
                    columns=120, rows=36) as child:
        child.expect(r"offline", timeout=60)
        child.expect(r"acme-2024-0117", timeout=30)  # the documents are listed
        child.send("\x11")  # Ctrl+Q: nothing is running, so no confirmation
        code = child.wait(30)
        shown = plain(child.output)
    assert code == 0, shown[-2000:]
    assert "Traceback" not in shown
    assert (tmp_path / "s.sqlite").is_file()
