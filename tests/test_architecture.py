"""Layering rules: chunking <- core <- {ui, cli}; the engine never loads Textual or Rich.

Checked in fresh subprocesses, because this test process has imported everything already.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def modules_after_import(*names: str) -> set[str]:
    """Modules loaded after importing ``names`` and touching every name in their __all__."""
    code = ("import importlib, sys\n"
            + "".join(f"m = importlib.import_module({n!r}); [getattr(m, a) for a in m.__all__]\n"
                      for n in names)
            + "print('\\n'.join(sorted(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=60, check=True)
    return set(done.stdout.split())


def core_modules() -> list[str]:
    """Every module of the engine, found on disk, so a new one cannot escape the check."""
    root = ROOT / "extractor_tui" / "core"
    return sorted("extractor_tui.core." + ".".join(path.relative_to(root).with_suffix("").parts)
                  .removesuffix(".__init__") for path in root.rglob("*.py")
                  if path.name != "__init__.py")


def test_engine_imports_neither_textual_nor_rich() -> None:
    modules = core_modules()
    assert {"extractor_tui.core.engine", "extractor_tui.core.job",
            "extractor_tui.core.session", "extractor_tui.core.llm.openai_client"} <= set(modules)
    loaded = modules_after_import("chunking", "extractor_tui.core", "extractor_tui.config",
                                  "extractor_tui.errors", *modules)
    assert set(modules) <= loaded  # the imports really happened
    leaked = sorted(m for m in loaded if m.split(".")[0] in {"textual", "rich"})
    assert leaked == []


def test_chunking_imports_nothing_of_extractor_tui() -> None:
    loaded = modules_after_import("chunking")
    assert "chunking.chunker" in loaded
    assert not [m for m in loaded if m.startswith("extractor_tui")]


@pytest.mark.parametrize("package", ["chunking", "extractor_tui/core"])
def test_no_source_file_imports_upward(package: str) -> None:
    forbidden = {"chunking": ("extractor_tui",),
                 "extractor_tui/core": ("textual", "rich", "extractor_tui.ui",
                                        "extractor_tui.cli")}[package]
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert not name.startswith(forbidden), f"{path}: imports {name}"


@pytest.mark.parametrize("package", ["chunking", "extractor_tui.core", "extractor_tui.errors",
                                     "extractor_tui.config"])
def test_public_surface_is_complete(package: str) -> None:
    module = importlib.import_module(package)
    exported = set(module.__all__)
    assert all(hasattr(module, name) for name in exported)
    public = {name for name, value in vars(module).items()
              if not name.startswith("_") and getattr(value, "__module__", "").startswith(
                  package) and not isinstance(value, type(sys))}
    assert public <= exported, f"public but not in __all__: {sorted(public - exported)}"


def test_every_module_opens_with_a_docstring() -> None:
    for package in ("chunking", "extractor_tui"):
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            assert ast.get_docstring(tree), f"{path} has no module docstring"


def test_lazy_core_exports_match_all() -> None:
    import extractor_tui.core as core

    assert sorted(core._HOMES) == sorted(core.__all__)
