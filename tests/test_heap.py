"""The front ends freeze what setting up left, so full GC passes stay short (heap.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_CHILD = r"""
import gc, json, sys
from extractor_tui.cli import main
before = gc.get_freeze_count()
code = main(sys.argv[1:])
print(json.dumps({"code": code, "before": before, "after": gc.get_freeze_count()}))
"""


def test_extractor_run_freezes_its_setup_out_of_the_collector(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "EXTRACTOR_"))}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    env["XDG_STATE_HOME"] = str(tmp_path / "state")
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, "run", str(ROOT / "sample_docs" / "invoices"),
         "--preset", "invoice", "--session", str(tmp_path / "s.sqlite"),
         "--output", str(tmp_path / "out.json")],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False)
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    assert figures["code"] == 0, out.stderr
    assert figures["before"] == 0
    # the imports alone are tens of thousands of objects; what the run made later is not frozen
    assert figures["after"] > 20_000
    assert (tmp_path / "out.json").exists()


_OFFLINE_APP = r"""
import sys
from pathlib import Path
from extractor_tui.ui.launch import build_app
from extractor_tui.config import Settings
from extractor_tui.core.fields import preset
app = build_app(Settings(provider="offline"), preset("invoice"), Path(sys.argv[1]), [])
print("openai" in sys.modules)
"""


def test_the_offline_app_starts_without_importing_the_sdk(tmp_path: Path) -> None:
    """The SDK takes most of a second to import; the offline provider never needs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "EXTRACTOR_"))}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    out = subprocess.run([sys.executable, "-c", _OFFLINE_APP, str(tmp_path / "s.sqlite")],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
                         check=False)
    assert out.stdout.strip().splitlines()[-1:] == ["False"], out.stderr


_APP_DRAWN = r"""
import asyncio, gc, json, sys
from pathlib import Path
from extractor_tui.config import Settings
from extractor_tui.core.fields import preset
from extractor_tui.ui.launch import build_app, prepare_to_run
app = build_app(Settings(provider="offline"), preset("invoice"), Path(sys.argv[1]), [])
prepare_to_run(app)
settled = gc.get_freeze_count()

async def main() -> int:
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await pilot.pause()
        drawn = gc.get_freeze_count()
        await pilot.press("ctrl+q")
    return drawn

print(json.dumps({"settled": settled, "drawn": asyncio.run(main())}))
"""


def test_the_app_freezes_what_its_first_screen_built(tmp_path: Path) -> None:
    """As ``extractor`` starts it (``launch.prepare_to_run``): the widgets and styles of the
    first screen live as long as the app, and a full GC pass over them cost 30-65 ms."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "EXTRACTOR_"))}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    out = subprocess.run([sys.executable, "-c", _APP_DRAWN, str(tmp_path / "s.sqlite")],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
                         check=False)
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    assert figures["settled"] > 20_000, "the imports, frozen before the app runs"
    assert figures["drawn"] > figures["settled"] + 5_000, out.stderr
