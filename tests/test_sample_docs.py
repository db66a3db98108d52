"""sample_docs/: every document loads with the expected pages, every expected value sits on
its stated page (through our own loader and page mapping), and the generator reproduces the
committed files byte for byte."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from extractor_tui.core import Document, LoadResult, load_documents

SAMPLES = Path(__file__).resolve().parents[1] / "sample_docs"
EXPECTED: dict[str, Any] = json.loads((SAMPLES / "expected.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def loaded() -> dict[str, Document]:
    import asyncio

    result: LoadResult = asyncio.run(load_documents([SAMPLES / name for name in EXPECTED]))
    assert result.errors == []
    return {doc.path.relative_to(SAMPLES).as_posix(): doc for doc in result.documents}


def test_three_kinds_in_pdf_and_text() -> None:
    kinds = {(entry["kind"], Path(name).suffix) for name, entry in EXPECTED.items()}
    for kind in ("invoice", "contract", "discharge_summary"):
        assert (kind, ".pdf") in kinds and any(k == kind and s != ".pdf" for k, s in kinds)
    assert min(e["pages"] for e in EXPECTED.values() if e["kind"] == "contract") >= 10


def test_page_counts_match(loaded: dict[str, Document]) -> None:
    for name, entry in EXPECTED.items():
        assert loaded[name].page_count == entry["pages"], name


def _displays(display: Any) -> list[str]:
    if isinstance(display, str):
        return [display]
    if isinstance(display, list):
        return [text for item in display for text in _displays(item)]
    if isinstance(display, dict):
        return [text for item in display.values() for text in _displays(item)]
    return [str(display)]


def _find(text: str, needle: str) -> int:
    pattern = r"\s+".join(re.escape(word) for word in needle.split())
    match = re.search(pattern, text, flags=re.IGNORECASE)
    return match.start() if match else -1


def test_every_value_is_on_its_stated_page(loaded: dict[str, Document]) -> None:
    checked = 0
    for name, entry in EXPECTED.items():
        doc = loaded[name]
        for field, spec in entry["fields"].items():
            for display in _displays(spec["display"]):
                offset = _find(doc.text, display)
                assert offset >= 0, f"{name}: {field} {display!r} not in the text"
                assert doc.page_of(offset) == spec["page"], f"{name}: {field} {display!r}"
                checked += 1
    assert checked > 100


def _digests(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*"))
            if p.is_file() and p.suffix in {".pdf", ".txt", ".md", ".json"}
            and p.name != "README.md"}


@pytest.mark.skipif(importlib.util.find_spec("fpdf") is None, reason="fpdf2 not installed")
def test_generator_reproduces_the_committed_files(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(SAMPLES / "generate.py"), "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _digests(tmp_path) == _digests(SAMPLES)
