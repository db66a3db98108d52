"""Textual's Footer, rebuilt once per refresh and only when the keys it shows changed.

The stock Footer recomposes on every bindings signal, and switching tabs sends several (the
old focus leaves, nothing is focused, the new focus arrives): five rebuilds of a dozen key
widgets per switch, about half the time a switch takes. This one coalesces the signals
of one refresh into a single rebuild and skips it when the visible keys are the same.
"""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer

__all__ = ["QuietFooter"]

_Shown = tuple[tuple[str, str, str, bool], ...]


class QuietFooter(Footer):
    """A Footer that rebuilds at most once per refresh, and only on a real change."""

    def __init__(self) -> None:
        super().__init__()
        self._pending = False
        self._shown: _Shown | None = None

    def _visible(self) -> _Shown:
        return tuple((key, binding.action, binding.description, bool(enabled))
                     for key, (_, binding, enabled, _) in self.screen.active_bindings.items()
                     if binding.show)

    def bindings_changed(self, screen: Screen[object]) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus or not self.is_attached or screen is not self.screen:
            return
        if not self._pending:
            self._pending = True
            self.call_after_refresh(self._rebuild)

    async def _rebuild(self) -> None:
        self._pending = False
        shown = self._visible()
        if shown != self._shown:
            self._shown = shown
            await self.recompose()
