"""The console script's entry (``extractor_tui/entry.py``): a Ctrl-C while the command's
modules load (0.3-1 s on a cold start) says "interrupted" and exits 130; it was a traceback
and exit -2, from inside an import, before any handler of ``cli.main`` existed."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType

import pytest

from extractor_tui import entry
from extractor_tui.exits import EXIT_INTERRUPTED, EXIT_OK


class _CtrlCWhileLoading(importlib.abc.MetaPathFinder):
    """Raises KeyboardInterrupt where the command's modules are found: a Ctrl-C then."""

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname == "extractor_tui.cli":
            raise KeyboardInterrupt
        return None


def test_ctrl_c_while_the_command_loads_says_interrupted_and_exits_130(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delitem(sys.modules, "extractor_tui.cli", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_CtrlCWhileLoading(), *sys.meta_path])
    assert entry.main() == EXIT_INTERRUPTED
    assert capsys.readouterr().err == "interrupted\n"


def test_the_entry_runs_the_command_line(monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "argv", ["extractor", "--version"])
    with pytest.raises(SystemExit) as done:  # argparse's --version exits 0
        entry.main()
    assert done.value.code == EXIT_OK
    assert capsys.readouterr().out.startswith("extractor ")
