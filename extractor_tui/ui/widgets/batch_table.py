"""The Run screen's list of the session's Batch API batches, beside the live request table.

Read from the session (``Job``'s ``BatchStore``) once a second rather than built from events:
the session is the truth, so a batch that a killed run left, and that this run resumed
waiting on, is listed like the others, and nothing is lost between a reopen and the next
event. Hidden while the session has no batch. Every cell is literal text (a provider's
message could hold markup).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from rich.text import Text
from textual.widgets import DataTable

from extractor_tui.core.batch import TERMINAL as _FINISHED
from extractor_tui.core.batch_store import StoredBatch

__all__ = ["BatchTable", "age_and_eta"]

COLUMNS = ("batch", "status", "done / failed / total", "age", "ETA")


def _span(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def age_and_eta(batch: StoredBatch, now: datetime) -> tuple[str, str]:
    """How old the batch is, and when it should be done at the rate it has run so far
    (``–`` until it has run a line; ``done`` once read back)."""
    try:
        age = _span(max(0.0, (now - datetime.fromisoformat(batch.created_at)).total_seconds()))
    except ValueError:
        age = "?"
    done = batch.completed + batch.failed
    if batch.collected or batch.status in _FINISHED:
        return age, "done"
    if batch.in_progress_at is None or done == 0 or batch.requests == 0:
        return age, "–"
    running = max(0.0, now.timestamp() - batch.in_progress_at)
    return age, _span(running * (batch.requests - done) / done)


class BatchTable(DataTable[Text]):
    """One row per batch: the provider's id, status, counts, age and ETA."""

    DEFAULT_CSS = """
    BatchTable { width: 72; height: 1fr; border-left: solid $primary-muted; }
    BatchTable.-empty { display: none; }
    """

    def __init__(self, batches: Callable[[], Sequence[StoredBatch]],
                 now: Callable[[], datetime] | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self._batches = batches
        self._now = now or (lambda: datetime.now(UTC))
        self.add_class("-empty")

    def on_mount(self) -> None:
        for name in COLUMNS:
            self.add_column(name, key=name)
        self.refresh_batches()

    def refresh_batches(self) -> None:
        """Read the session's batches and update the rows that changed."""
        batches = self._batches()
        self.set_class(not batches, "-empty")
        now = self._now()
        for batch in batches:
            age, eta = age_and_eta(batch, now)
            cells = (batch.batch_id or f"#{batch.id} (not created yet)", batch.status,
                     f"{batch.completed:,} / {batch.failed:,} / {batch.requests:,}", age, eta)
            key = str(batch.id)
            if key in self.rows:
                for name, cell in zip(COLUMNS, cells, strict=True):
                    self.update_cell(key, name, Text(cell))
            else:
                self.add_row(*(Text(cell) for cell in cells), key=key)
