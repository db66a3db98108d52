"""The README is a contract too: every ``extractor run`` option, every key of the JSON report
and every exit code is written in it, and it says where the command and the test corpus are.
Read from the code (the parser, a real report), so a new option or key cannot go
undocumented."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
from clikit import REPO, cli_env, run_cli

from extractor_tui import cli
from extractor_tui.core.report import FailedChunk

__all__ = ["cli_env"]

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _block(opening: str) -> str:
    """The fenced block of the README whose first line starts with ``opening``."""
    for block in re.findall(r"```[a-z]*\n(.*?)```", README, re.S):
        if block.startswith(opening):
            return str(block)
    raise AssertionError(f"no block starting {opening!r} in the README")


def test_every_run_option_is_in_the_readme() -> None:
    block = _block("extractor run PATH... [options]")
    parser = cli._parser()
    run = next(action for action in parser._actions if action.dest == "command")
    options = [option for action in run.choices["run"]._actions  # type: ignore[union-attr]
               for option in action.option_strings if option.startswith("--")]
    assert len(options) > 15
    missing = [option for option in options if not re.search(rf"{option}\b", block)]
    assert missing == [], f"options not in the README's list: {missing}"


def _keys(value: Any, prefix: str = "") -> set[str]:
    """Every key of a JSON value, as a bare name (field names excepted)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if prefix != "fields":
                found.add(key)
            found |= _keys(inner, key)
    elif isinstance(value, list):
        for inner in value:
            found |= _keys(inner, prefix)
    return found


def test_every_json_key_is_in_the_readme(cli_env: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    docs = cli_env / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("INVOICE\nInvoice No.: 7\nTotal: 12.50\n", encoding="utf-8")
    (docs / "empty.txt").write_bytes(b"")
    (docs / "schema.json").write_text("{}", encoding="utf-8")
    result = run_cli(["run", docs, "--preset", "invoice", "--offline"], capsys)
    report = json.loads(result.out)
    keys = _keys(report)
    keys |= {field.name for field in dataclasses.fields(FailedChunk)}
    assert {"version", "skipped", "tokens", "edited", "candidates", "normalized"} <= keys
    block = _block('{"version"')
    missing = sorted(key for key in keys if f'"{key}"' not in block)
    assert missing == [], f"report keys not in the README's Output block: {missing}"


def test_every_exit_code_is_in_the_readme() -> None:
    codes = {name: getattr(cli, name) for name in dir(cli) if name.startswith("EXIT_")}
    section = README[README.index("**Exit codes.**"):]
    section = section[:section.index("\n\n")]
    missing = [name for name, code in codes.items() if f"`{code}`" not in section]
    assert missing == [], f"exit codes not in the README: {missing}"


def test_the_readme_says_where_the_command_and_the_corpus_are() -> None:
    assert ".venv/bin/extractor" in README
    assert "source .venv/bin/activate" in README
    assert "github.com/applicaai/kleister-nda" in README
    assert "github.com/invoice-x/invoice2data" in README
    assert "after `tasks.py test`" in README


def test_each_exit_code_is_defined_once() -> None:
    """In ``exits.py``: the CLI, ``extractor run`` and the report's exit code share them."""
    import ast

    defined = []
    for path in sorted((REPO / "extractor_tui").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = node.targets if isinstance(node, ast.Assign) else []
            names = [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
            defined += [(path.name, name) for name in names if name.startswith("EXIT_")]
    assert {file for file, _ in defined} == {"exits.py"}
    assert sorted(name for _, name in defined) == sorted(
        name for name in dir(cli) if name.startswith("EXIT_"))
