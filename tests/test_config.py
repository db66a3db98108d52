"""Settings layering: defaults < config file < environment < flags, and readable errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from extractor_tui.config import Settings, default_config_path, load_settings
from extractor_tui.errors import ConfigError


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    for name in Settings.model_fields:
        monkeypatch.delenv(f"EXTRACTOR_{name.upper()}", raising=False)
    monkeypatch.delenv("EXTRACTOR_CONFIG", raising=False)


def test_defaults() -> None:
    settings = load_settings()
    assert (settings.chunk_tokens, settings.overlap_tokens) == (1000, 100)
    assert settings.max_file_bytes == 100 * 1024 * 1024


def test_layers_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text("chunk_tokens = 300\noverlap_tokens = 30\nmodel = 'from-file'\n",
                      encoding="utf-8")
    assert load_settings(config).chunk_tokens == 300
    monkeypatch.setenv("EXTRACTOR_CHUNK_TOKENS", "400")
    settings = load_settings(config)
    assert (settings.chunk_tokens, settings.model) == (400, "from-file")
    assert load_settings(config, chunk_tokens=500, model=None).chunk_tokens == 500


def test_default_config_file_is_read(tmp_path: Path) -> None:
    path = default_config_path()
    assert path == tmp_path / "xdg" / "extractor" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text("max_file_mb = 2.5\n", encoding="utf-8")
    assert load_settings().max_file_mb == 2.5


@pytest.mark.parametrize("content,message", [
    ("chunk_tokens = [", "not valid TOML"),
    ("chunk_tokens = 'many'", "chunk_tokens"),
    ("colour = 'blue'", "colour"),
])
def test_bad_config_file_is_one_readable_error(tmp_path: Path, content: str,
                                               message: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_settings(config)


def test_the_environment_beats_the_file_under_any_of_its_names(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text("base_url = 'http://from-file/v1'\nconcurrency = 3\n", encoding="utf-8")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://from-env/v1")
    settings = load_settings(config)
    assert (settings.base_url, settings.concurrency) == ("http://from-env/v1", 3)
    assert {"base_url", "concurrency"} <= settings.model_fields_set  # set, not defaults


def test_settings_keep_no_state_between_loads(tmp_path: Path) -> None:
    """Which config file to read is an argument, not a module-level ContextVar: settings
    built directly read none, whatever was loaded before."""
    import ast

    from extractor_tui import config as module

    config = tmp_path / "config.toml"
    config.write_text("chunk_tokens = 300\noverlap_tokens = 30\n", encoding="utf-8")
    assert load_settings(config).chunk_tokens == 300
    assert Settings().chunk_tokens == 1000
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    assert not [node for node in tree.body if isinstance(node, ast.Assign | ast.AnnAssign)
                and "ContextVar" in ast.unparse(node)]
