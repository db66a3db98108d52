"""Where extractor keeps its files: the XDG base directories, decided in this one place.

* config: ``$XDG_CONFIG_HOME/extractor`` (``~/.config/extractor``): ``config.toml``;
* data: ``$XDG_DATA_HOME/extractor`` (``~/.local/share/extractor``): the app's sessions
  and its list of recent ones;
* state: ``$XDG_STATE_HOME/extractor`` (``~/.local/state/extractor``): crash logs, in a
  folder only the user may read (``crashlog.py``).

Why by hand and not platformdirs: these are the locations the README has always given, on
every platform, and platformdirs would move the config file on macOS to ``~/Library/...``
where existing users would not find it. Each rule is one line; a relative value of an
``XDG_*`` variable is ignored, as the XDG specification says.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["APP", "config_dir", "data_dir", "state_dir"]

APP = "extractor"


def _base(variable: str, *default: str) -> Path:
    value = os.environ.get(variable, "")
    return Path(value) if os.path.isabs(value) else Path.home().joinpath(*default)


def config_dir() -> Path:
    """``$XDG_CONFIG_HOME/extractor``, else ``~/.config/extractor``."""
    return _base("XDG_CONFIG_HOME", ".config") / APP


def data_dir() -> Path:
    """``$XDG_DATA_HOME/extractor``, else ``~/.local/share/extractor``."""
    return _base("XDG_DATA_HOME", ".local", "share") / APP


def state_dir() -> Path:
    """``$XDG_STATE_HOME/extractor``, else ``~/.local/state/extractor``."""
    return _base("XDG_STATE_HOME", ".local", "state") / APP
