"""A DataTable whose cursor is a row and whose Home and End keys go to the first and last
row, as in every list a person has used; Textual's own scroll sideways."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import DataTable

__all__ = ["RowTable"]


class RowTable(DataTable[Text]):
    """Rows of literal text; Home/End reach the first/last row."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("home", "scroll_top", "First row", show=False),
        Binding("end", "scroll_bottom", "Last row", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
