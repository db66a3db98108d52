"""A directory tree that lists only what can be added: folders and .pdf, .txt, .md files.

Hidden entries are left out, as the loader passes over them too; the supported suffixes
come from the loader itself, so the tree never offers a file the loader would refuse.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import DirectoryTree

from extractor_tui.core.documents import SUPPORTED_SUFFIXES

__all__ = ["DocumentTree"]


class DocumentTree(DirectoryTree):
    """Folders and supported documents, no hidden entries; Backspace climbs a folder, so
    the tree is not stuck below the folder the app started in."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("backspace", "up", "Up a folder", tooltip="Show the parent folder"),
    ]

    def action_up(self) -> None:
        here = Path(self.path).resolve()
        if here.parent != here:
            self.path = here.parent

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        return [path for path in paths if not path.name.startswith(".")
                and (path.is_dir() or path.suffix.lower() in SUPPORTED_SUFFIXES)]

    @property
    def highlighted_path(self) -> Path | None:
        node = self.cursor_node
        return node.data.path if node is not None and node.data is not None else None
