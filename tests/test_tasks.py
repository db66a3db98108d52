"""``tasks.py``: what it installs, and when it does not install again.

Loaded from the file itself (it is a script, not a package module), with ``VENV`` pointed
at a temporary folder, so nothing here touches the real ``.venv`` or calls pip.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]


def _tasks(venv: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    spec = importlib.util.spec_from_file_location("tasks_under_test", REPO / "tasks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "VENV", venv)
    return module


def test_run_after_test_does_not_reinstall(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    tasks = _tasks(tmp_path, monkeypatch)
    assert tasks.needs_install("dev") and tasks.needs_install("")
    tasks.mark_installed("dev")  # what `tasks.py test` leaves behind
    assert not tasks.needs_install("dev")
    assert not tasks.needs_install("")  # the test tools install the app too


def test_run_alone_does_not_count_as_the_test_tools(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    tasks = _tasks(tmp_path, monkeypatch)
    tasks.mark_installed("")
    assert not tasks.needs_install("")
    assert tasks.needs_install("dev")


def test_a_changed_pyproject_installs_again(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    tasks = _tasks(tmp_path, monkeypatch)
    tasks.mark_installed("dev")
    monkeypatch.setattr(tasks, "_spec_hash", lambda: "0" * 16)
    assert tasks.needs_install("") and tasks.needs_install("dev")


@pytest.mark.parametrize(("args", "added"), [
    ([], ["-n", "auto"]),
    (["-k", "engine", "-q"], ["-n", "auto"]),
    (["-n", "0"], []),
    (["-n3"], []),
    (["--numprocesses=4"], []),
    (["-p", "no:xdist"], []),
])
def test_the_suite_runs_on_every_core_unless_told(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  args: list[str], added: list[str]) -> None:
    assert _tasks(tmp_path, monkeypatch).parallel(args) == added
