"""How a session was made, and putting it back when the session is reopened.

A session's answers are only worth resuming with what produced them: the same provider,
endpoint, model, chunk and overlap sizes (they decide the request keys, so other sizes
re-chunk the documents and send everything again), timeout and retries. The session keeps
those (``Session.set_run_info``); ``restore`` builds the settings to reopen it with.

What the user set this time (a flag, an environment variable, the config file, or a form)
wins, but never silently: each setting that differs from the session's comes back as a line
the plan shows before anything is sent. The API key is never stored, so it is whatever the
environment gives, or what the user types when asked.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from extractor_tui.config import Settings
from extractor_tui.core._session_schema import RunInfo

__all__ = ["RESTORED", "needs_key", "restore", "session_settings"]

RESTORED: dict[str, str] = {
    "provider": "provider", "base_url": "base URL", "model": "model",
    "chunk_tokens": "chunk tokens", "overlap_tokens": "overlap tokens",
    "timeout_s": "timeout (s)", "retries": "retries",
}
"""Setting → what the user calls it, for every setting a reopened session takes back."""


def session_settings(settings: Settings) -> dict[str, Any]:
    """What a session keeps of ``settings`` (see ``RUN_SETTINGS``): never the key."""
    return {"provider": settings.resolved_provider, "chunk_tokens": settings.chunk_tokens,
            "overlap_tokens": settings.overlap_tokens, "timeout_s": settings.timeout_s,
            "retries": settings.retries}


def _stored(info: RunInfo) -> dict[str, Any]:
    """The session's values of ``RESTORED``, as far as it holds them."""
    values: dict[str, Any] = dict(info.settings)
    values.setdefault("provider", "offline" if info.provider == "offline" else "openai")
    values["model"] = info.model
    values["base_url"] = info.base_url
    return values


def _shown(value: object) -> str:
    return "none (api.openai.com)" if value is None else str(value)


def restore(current: Settings, info: RunInfo | None,
            keep: Collection[str] = ()) -> tuple[Settings, tuple[str, ...]]:
    """``current`` with the session's settings put back, and a line per setting in ``keep``
    (set by the user this time) whose value differs from the session's.

    A session with no run info (new) changes nothing. A combination the settings refuse
    (an overlap the chunk size no longer allows) keeps ``current`` and says so.
    """
    if info is None:
        return current, ()
    stored = _stored(info)
    update: dict[str, Any] = {}
    differ: list[str] = []
    for name, label in RESTORED.items():
        if name not in stored:
            continue
        now, then = getattr(current, name), stored[name]
        if name == "provider":
            now = current.resolved_provider
        if now == then:
            continue
        if name in keep:
            differ.append(f"{label}: {_shown(now)} now; the session was made with "
                          f"{_shown(then)}")
        else:
            update[name] = then
    if not update:
        return current, tuple(differ)
    data = current.model_dump()
    data.update(update)
    try:
        restored = Settings(**data)
    except ValueError as exc:
        return current, (*differ, f"the session's settings could not be restored: {exc}")
    return restored, tuple(differ)


def needs_key(settings: Settings) -> bool:
    """An HTTP provider with no key: the user is asked for one (or confirms none). The
    config file's ``[[endpoints]]`` take theirs from the environment, never from the user."""
    return (settings.resolved_provider == "openai" and settings.api_key is None
            and not settings.endpoints)
