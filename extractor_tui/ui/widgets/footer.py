"""The key footer: one widget drawing one line, as Textual's Footer looks and acts.

Textual's Footer is a container of one widget per key, rebuilt whenever the keys change, and
every tab switch changes them: mounting and styling a dozen widgets took 60-80 ms of each
switch (measured with bench/scale.py's app section, half of what a switch cost), and the new
keys came two or three frames after the screen they belong to. This one reads the screen's
active bindings when it renders and repaints only when the keys it shows change, so a
switch costs one line of text. It keeps what the stock one does: the same look (each key
bold in the accent colour before its description, disabled keys dim, the command palette's
key on the right behind a thin rule), a click runs the key (a disabled one rings the bell),
the key under the mouse is highlighted and its tooltip shown.
"""

from __future__ import annotations

from typing import ClassVar, NamedTuple

from rich.style import Style
from rich.text import Text
from textual import events
from textual.screen import Screen
from textual.widget import Widget

__all__ = ["FooterItem", "QuietFooter"]


class FooterItem(NamedTuple):
    """One key as the footer shows it."""

    key: str
    display: str
    description: str
    enabled: bool
    tooltip: str
    palette: bool = False  # the command palette's key, drawn on the right


class QuietFooter(Widget, can_focus=False):
    """The active keys of the screen in one line; redrawn only when they change."""

    ALLOW_SELECT = False
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "footer-key--key", "footer-key--description", "footer-key--hover",
        "footer-key--rule"}
    DEFAULT_CSS = """
    QuietFooter {
        color: $footer-foreground;
        background: $footer-background;
        dock: bottom;
        height: 1;
        text-wrap: nowrap;
        .footer-key--key {
            color: $footer-key-foreground;
            background: $footer-key-background;
            text-style: bold;
        }
        .footer-key--description {
            color: $footer-description-foreground;
            background: $footer-description-background;
        }
        .footer-key--hover {
            color: $footer-key-foreground;
            background: $block-hover-background;
        }
        .footer-key--rule { color: $foreground 20%; }
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self._items: tuple[FooterItem, ...] = ()
        self._spans: list[tuple[int, int, FooterItem]] = []  # x from, x to, item: for clicks
        self._hover: FooterItem | None = None

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self.bindings_changed)
        self._items = self._active()

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _active(self) -> tuple[FooterItem, ...]:
        """The keys to show, as Textual's Footer picks them: one per action, in order."""
        app = self.app
        active = self.screen.active_bindings
        items: list[FooterItem] = []
        actions: set[str] = set()
        for _, binding, enabled, tooltip in active.values():
            if binding.show and binding.action not in actions:
                actions.add(binding.action)
                items.append(FooterItem(binding.key, app.get_key_display(binding),
                                        binding.description, enabled, tooltip))
        if app.ENABLE_COMMAND_PALETTE and app.COMMAND_PALETTE_BINDING in active:
            _, binding, enabled, _ = active[app.COMMAND_PALETTE_BINDING]
            items.append(FooterItem(binding.key, app.get_key_display(binding),
                                    binding.description, enabled,
                                    binding.tooltip or binding.description, palette=True))
        return tuple(items)

    def bindings_changed(self, screen: Screen[object]) -> None:
        if not self.is_attached or screen is not self.screen:
            return
        items = self._active()
        if items != self._items:
            self._items = items
            self.refresh()

    @property
    def items(self) -> tuple[FooterItem, ...]:
        """The keys the footer shows now."""
        return self._items

    def _label(self, item: FooterItem) -> Text:
        """`` key description `` as a FooterKey draws it; the palette's key is compact
        (``key description``), as Textual draws it."""
        base = self.rich_style
        if not item.enabled:
            base = base + Style(dim=True)
        if item is self._hover:
            base = base + self.get_component_rich_style("footer-key--hover")
        key = self.get_component_rich_style("footer-key--key", partial=True)
        description = self.get_component_rich_style("footer-key--description", partial=True)
        if not item.description:
            text = Text(item.display, style=key)
        elif item.palette:
            text = Text.assemble((item.display, key), (f" {item.description}", description))
        else:
            text = Text.assemble((f" {item.display} ", key), (f"{item.description} ",
                                                             description))
        text.stylize_before(base)
        return text

    def render(self) -> Text:
        fill = Style(bgcolor=self.rich_style.bgcolor)
        keys = [item for item in self._items if not item.palette]
        palette = next((item for item in self._items if item.palette), None)
        right = Text()
        if palette is not None:  # docked right behind a thin rule, one blank after it
            right = Text.assemble(("▏", self.get_component_rich_style("footer-key--rule")),
                                  self._label(palette), (" ", fill))
        room = self.size.width - right.cell_len
        line = Text(no_wrap=True, overflow="crop")
        self._spans = []
        for item in keys:
            start = line.cell_len
            if start >= room:
                break
            label = self._label(item)
            line.append_text(label)
            self._spans.append((start, min(start + label.cell_len, room), item))
        line.truncate(max(room, 0))
        if palette is not None:
            line.append(" " * max(room - line.cell_len, 0), fill)
            start = line.cell_len
            line.append_text(right)
            self._spans.append((start, start + right.cell_len, palette))
        return line

    def _at(self, x: int) -> FooterItem | None:
        return next((item for start, end, item in self._spans if start <= x < end), None)

    def on_mouse_move(self, event: events.MouseMove) -> None:
        item = self._at(event.x)
        if item is not self._hover:
            self._hover = item
            self.tooltip = item.tooltip if item is not None and item.tooltip else None
            self.refresh()

    def on_leave(self, event: events.Leave) -> None:
        if self._hover is not None:
            self._hover = None
            self.tooltip = None
            self.refresh()

    def on_mouse_down(self, event: events.MouseDown) -> None:
        item = self._at(event.x)
        if item is None:
            return
        if item.enabled:
            self.app.simulate_key(item.key)
        else:
            self.app.bell()
