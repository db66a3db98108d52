"""The Textual app: wiring only. Seven tabs, the global keys, the command palette, the
error handler and the quit confirmation.

Each tab holds one view from ``screens/`` that coordinates its area; the ``Controller``
owns the Job and runs every slow verb in a worker. The app only routes: controller
messages (``DocumentsChanged``, ``RunBegan``, ``RunEnded``, ``ValueEdited``,
``JobReplaced``) make the views reload; a failed worker becomes one notification here;
every view's bindings are offered in the command palette and the help, so neither can
drift from the keys. A tab's view is mounted the first time the tab is shown, so the app
starts fast whatever it holds; views reload from the controller, so nothing is missed.
Build it with ``launch.build_app``, as the CLI and the tests do.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar, Protocol, cast

from rich.text import Text
from textual.app import App, ComposeResult, SystemCommand
from textual.notifications import SeverityLevel
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widget import Widget
from textual.containers import ScrollableContainer, Vertical
from textual.widgets import DataTable, Header, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from extractor_tui.config import Settings
from extractor_tui.core.clock import Clock
from extractor_tui.core.fields import FieldSet
from extractor_tui.core.llm.base import Client
from extractor_tui.core.model import ChunkStatus
from extractor_tui.core.scrub import redact
from extractor_tui.core.session import Session
from extractor_tui.crashlog import CrashLogUnavailable, write_crash_log
from extractor_tui.errors import ExtractorError
from extractor_tui.heap import freeze
from extractor_tui.ui.controller import (
    Controller,
    DocumentsChanged,
    JobReplaced,
    RunBegan,
    RunEnded,
    ValueEdited,
)
from extractor_tui.ui.dialogs.confirm import ConfirmDialog
from extractor_tui.ui.dialogs.export import ExportDialog
from extractor_tui.ui.dialogs.help import HelpDialog, help_sections
from extractor_tui.ui.recent import RecentSessions
from extractor_tui.ui.screens.documents import DocumentsView
from extractor_tui.ui.screens.failed import FailedView
from extractor_tui.ui.screens.fields import FieldsView
from extractor_tui.ui.screens.results import ResultsView
from extractor_tui.ui.screens.run import CancelRequested, RunView
from extractor_tui.ui.screens.sessions import SessionsView
from extractor_tui.ui.screens.settings import SettingsView
from extractor_tui.ui.widgets.footer import QuietFooter
from extractor_tui.ui.widgets.literal import display_path, literal
from extractor_tui.ui.widgets.request_table import RequestTable
from extractor_tui.ui.widgets.virtual_table import VirtualTable
from extractor_tui.ui.widgets.run_bar import RunBar, RunRequested

__all__ = ["ERROR_TIMEOUT_S", "TABS", "VIEWS", "ExtractorApp"]

ERROR_TIMEOUT_S = 24 * 3600.0
"""How long an error notification stays: until the user clicks it away, in practice."""

TABS: tuple[tuple[str, str, str], ...] = (
    ("documents", "Documents", "Add files and folders; see pages, tokens, chunks, status."),
    ("fields", "Fields", "What to extract: names, types, descriptions; presets; schemas."),
    ("settings", "Settings", "Provider, model, key, concurrency, chunk sizes, retries."),
    ("run", "Run", "Every request live; pause, cancel, change concurrency."),
    ("failed", "Failed", "Failed chunks: errors, attempts, text, raw output; retry them."),
    ("results", "Results", "Values per document: validity, grounding, sources; edit them."),
    ("sessions", "Sessions", "Reopen a recent session; resume its unfinished run."),
)
"""(id, title, purpose) of each tab, in order; key N shows the Nth."""

def _run_view(controller: Controller) -> Widget:
    """The Run tab: the start button and the provider line above the live request view."""
    return Vertical(RunBar(), RunView(controller.events, controller,
                                      cost=lambda p, o: controller.job.cost(p, o),
                                      batches=controller.batches))


VIEWS: dict[str, Callable[[Controller], Widget]] = {
    "documents": DocumentsView, "fields": FieldsView, "settings": SettingsView,
    "run": _run_view, "failed": FailedView, "results": ResultsView, "sessions": SessionsView}
"""How each tab's content is made, on first use (engine events wait in the buffer)."""
_VIEW_TYPES: dict[str, type[Widget]] = {
    "documents": DocumentsView, "fields": FieldsView, "settings": SettingsView,
    "run": RunView, "failed": FailedView, "results": ResultsView, "sessions": SessionsView}
"""The class of each tab's view: its BINDINGS feed the help and the command palette."""


class _View(Protocol):
    def reload(self) -> None: ...


class ExtractorApp(App[int]):
    """The extractor TUI. Returns exit code 0 when it closes."""

    TITLE = "extractor"
    CSS = """
    #tabs { height: 1fr; }
    TabPane { padding: 0; }
    DataTable { scrollbar-gutter: stable; }
    Toast { max-width: 70; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "help", "Help"),
        Binding("question_mark", "help", "Help", show=False),
        Binding("ctrl+r", "start_run", "Run…"),
        Binding("ctrl+e", "export", "Export…"),
        Binding("f2", "toggle_dark", "Theme"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
        *[Binding(str(n), f"show_tab('{tab}')", title, show=False)
          for n, (tab, title, _) in enumerate(TABS, 1)],
    ]

    def __init__(self, settings: Settings, fields: FieldSet, session: Session,
                 recent: RecentSessions, *, paths: Iterable[Path] = (),
                 client: Client | None = None, clock: Clock | None = None,
                 notes: Iterable[str] = (), differences: Iterable[str] = (),
                 created: bool = False, busy: str | None = None) -> None:
        super().__init__()
        self.controller = Controller(self, settings, fields, session, recent, client=client,
                                     clock=clock, differences=tuple(differences),
                                     created=created)
        self._paths = list(paths)
        self._notes = list(notes)
        self._busy = busy  # who writes the session, when this app may only read it
        self.freeze_when_drawn = False  # launch.prepare_to_run: see heap.py

    # -- layout -------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        # No fields given: open where they are chosen.
        with TabbedContent(id="tabs", initial="fields" if self._notes else "documents"):
            for n, (tab, title, _) in enumerate(TABS, 1):
                with TabPane(f"{n} {title}", id=tab):
                    if tab == "documents":
                        yield DocumentsView(self.controller)
        yield QuietFooter()

    async def _view(self, tab: str) -> Widget:
        """The view of ``tab``, mounted on first use: the app starts with one of seven."""
        pane = self.query_one(TabbedContent).get_pane(tab)
        if not pane.children:
            await pane.mount(VIEWS[tab](self.controller))
            self._refresh_status()
        return pane.query_one(_VIEW_TYPES[tab])

    def on_mount(self) -> None:
        if self.freeze_when_drawn:
            self.call_after_refresh(freeze)
        self._refresh_status()
        for note in self._notes:
            self.notify(note, severity="warning", timeout=12, markup=False)
        if not self._notes:
            self._focus_tab("documents")
        reopened = self.controller.document_count() > 0  # a session with work in it
        if self._busy is not None:
            self._offer_read_only(self._busy)
        elif self._paths:
            self.controller.add_paths(self._paths)
        for line in self.controller.differences:
            self.notify(f"Not as the session was made: {line}.", severity="warning",
                        timeout=12, markup=False)
        if reopened:
            self.controller.ask_key()

    def _offer_read_only(self, holder: str) -> None:
        """One session, one writer: another extractor holds this one, so the app may look
        at it (results, export) but not add, run or edit; or the user quits."""
        session = self.controller.session_path
        skipped = (f" The {len(self._paths)} path(s) given are not added." if self._paths
                   else "")

        def answered(read_only: bool | None) -> None:
            if not read_only:
                self.exit(0)

        self.push_screen(ConfirmDialog(
            "Session in use", Text.assemble(
                literal(display_path(session), "bold"), " is in use by ", literal(holder),
                ". Open it read-only? You can look at its documents and results and export "
                f"them; adding, running and editing wait until it is free.{skipped}"),
            yes="Open read-only", no="Quit"), answered)

    def _views(self) -> Iterator[_View]:
        """The views mounted so far (the others read everything when first shown)."""
        for tab, kind in _VIEW_TYPES.items():
            if tab != "run":  # the run view redraws itself on its timer
                yield from (cast(_View, view) for view in self.query(kind))

    def _reload(self) -> None:
        if self.controller.closed:  # quitting: the session is being closed
            return
        for view in self._views():
            view.reload()
        self._refresh_status()

    def _refresh_status(self) -> None:
        c = self.controller
        if c.closed:
            return
        offline = c.job.provider == "offline"
        self.sub_title = (("offline provider (built-in heuristic, no LLM)" if offline
                           else f"{c.job.provider} · {c.settings.model}")
                          + f" · session {c.session_path.name}"
                          + (" (read-only)" if c.job.session.read_only else ""))
        for bar in self.query(RunBar):
            bar.show(c.job.provider, c.settings.model, c.settings.base_url, c.running,
                     c.endpoint_names)
        unfinished = c.unfinished_count()
        number = [tab for tab, _, _ in TABS].index("failed") + 1
        self.query_one(TabbedContent).get_tab("failed").label = (
            f"{number} Failed ({unfinished})" if unfinished else f"{number} Failed")

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Every notification; an error stays until it is clicked away, so it is read."""
        if severity == "error":
            timeout = ERROR_TIMEOUT_S
        super().notify(message, title=title, severity=severity, timeout=timeout,
                       markup=markup)

    # -- controller messages ------------------------------------------------------------------

    def on_documents_changed(self, message: DocumentsChanged) -> None:
        self._reload()

    def on_value_edited(self, message: ValueEdited) -> None:
        self._reload()

    def on_job_replaced(self, message: JobReplaced) -> None:
        if self.controller.closed:
            return
        for view in self.query(SettingsView):
            view.reload(force=True)
        self._reload()

    async def on_run_began(self, message: RunBegan) -> None:
        await self.action_show_tab("run")
        self._refresh_status()

    def on_run_ended(self, message: RunEnded) -> None:
        self._reload()
        result = message.result
        if result is None or self.controller.closed:
            return
        done, failed, cancelled = (result.count(ChunkStatus.COMPLETED),
                                   result.count(ChunkStatus.FAILED),
                                   result.count(ChunkStatus.CANCELLED))
        counts = f"{done} completed, {failed} failed, {cancelled} cancelled"
        if result.fatal:
            self.notify(f"{counts}. {result.fatal}", title="Run stopped", severity="error",
                        timeout=15, markup=False)
        elif result.budget:  # a Batch API run submits only what the cap holds
            self.notify(f"{counts}. {result.budget}", title="Cost cap reached",
                        severity="warning", timeout=15, markup=False)
        elif failed or cancelled:
            self.notify(f"{counts}. Review them on the Failed screen (5).",
                        title="Run finished", severity="warning", markup=False)
        else:
            self.notify(f"{counts}. See the Results screen (6).", title="Run finished",
                        markup=False)

    def on_run_requested(self, message: RunRequested) -> None:
        self.controller.request_run()

    def on_cancel_requested(self, message: CancelRequested) -> None:
        self.push_screen(ConfirmDialog(
            "Cancel the run?", "Requests in flight are abandoned; everything finished is "
            "kept, and the rest can be sent later (Sessions, Resume).", yes="Cancel run",
            no="Keep running", danger=True),
            lambda yes: self.controller.cancel() if yes else None)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place a failed worker is reported: a notification, never a traceback."""
        error = event.worker.error
        if event.state is not WorkerState.ERROR or error is None:
            return
        if isinstance(error, ExtractorError):
            message = redact(str(error))
        else:
            try:
                log = write_crash_log("".join(traceback.format_exception(error)))
                where = f"details in {log}"
            except CrashLogUnavailable as exc:
                where = f"no log was written: {exc}"
            message = redact(f"{type(error).__name__}: {error} (a bug; {where})")
        self.notify(message, title=f"{event.worker.name} failed", severity="error",
                    timeout=15, markup=False)
        self._reload()

    async def on_tabbed_content_tab_activated(self,
                                              event: TabbedContent.TabActivated) -> None:
        if event.pane.id is not None:
            await self._view(event.pane.id)
            self._focus_tab(event.pane.id)

    # -- actions ------------------------------------------------------------------------------

    async def action_show_tab(self, tab: str) -> None:
        """Show ``tab`` whole in one frame: its view is built first (the first time) while
        the current one still shows, then shown and focused in one step, so the frame that
        shows it has its rows, its focus and its keys (shown first and built after, a blank
        pane, then the rows, then the focus were painted one after the other)."""
        await self._view(tab)
        self.query_one(TabbedContent).active = tab
        self._focus_tab(tab)

    def _focus_tab(self, tab: str) -> None:
        pane = self.query_one(TabbedContent).get_pane(tab)
        target = (next(iter(pane.query(DataTable)), None)
                  or next(iter(pane.query(VirtualTable)), None)
                  or next(iter(pane.query(RequestTable)), None)
                  or next((w for w in pane.query("*") if w.focusable
                           and not isinstance(w, ScrollableContainer)), None))
        if target is not None:  # now, not after this message (``focus()`` waits a turn)
            target.screen.set_focus(target)

    def action_start_run(self) -> None:
        self.controller.request_run()

    def action_export(self) -> None:
        def chosen(path: Path | None) -> None:
            if path is not None:
                self.controller.export(path)

        self.push_screen(ExportDialog(Path.cwd() / "extractor-results.json"), chosen)

    def action_help(self) -> None:
        own = [b for b in self.BINDINGS if isinstance(b, Binding) and b.show]
        screens = [(title, purpose, self._bindings_of(tab)) for tab, title, purpose in TABS]
        self.push_screen(HelpDialog(help_sections(own, screens, self._keys)))

    def _keys(self, binding: Binding) -> str:
        """``delete,x`` → ``del / x``, each key as the Footer shows it."""
        return " / ".join(self.get_key_display(replace(binding, key=key.strip()))
                          for key in binding.key.split(","))

    def _bindings_of(self, tab: str) -> list[Binding]:
        seen: set[str] = set()
        found = []
        for binding in _VIEW_TYPES[tab].BINDINGS:
            if isinstance(binding, Binding) and binding.action not in seen:
                seen.add(binding.action)
                found.append(binding)
        return found

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Every action of every screen, so the palette can do whatever a key can."""
        yield from super().get_system_commands(screen)
        for tab, title, purpose in TABS:
            yield SystemCommand(f"Show {title}", purpose,
                                lambda tab=tab: self.action_show_tab(tab))
        yield SystemCommand("Start run…", "Show the plan (chunks, tokens, cost), then run",
                            self.action_start_run)
        yield SystemCommand("Export…", "Write the results as JSON, CSV or JSONL",
                            self.action_export)
        yield SystemCommand("Help", "Keys and what each screen is for", self.action_help)
        yield SystemCommand("Toggle light/dark theme", "Switch between the light and dark "
                            "themes", self.action_toggle_dark)
        run_views = self.query(RunView)
        if run_views:  # its own commands depend on the run's state
            yield from run_views.first().system_commands()
        for tab, title, _ in TABS:
            if tab == "run" and run_views:
                continue
            for binding in self._bindings_of(tab):
                yield SystemCommand(f"{title}: {binding.description}",
                                    binding.tooltip or f"{binding.description} ({title})",
                                    lambda t=tab, a=binding.action: self._run_view_action(t, a))

    async def _run_view_action(self, tab: str, action: str) -> None:
        await self.action_show_tab(tab)
        await self.run_action(action, default_namespace=await self._view(tab))

    async def action_quit(self) -> None:
        """Quit; in the middle of a run, ask first. Either way nothing finished is lost."""
        if not self.controller.running:
            await self._quit()
            return
        self.push_screen(ConfirmDialog(
            "Quit during a run?", f"Requests in flight are abandoned. Everything finished "
            f"so far is kept in {display_path(self.controller.session_path)}; resume the "
            "rest from Sessions next time.", yes="Quit", no="Keep running", danger=True),
            self._quit_confirmed)

    def _quit_confirmed(self, yes: bool | None) -> None:
        if yes:
            self.call_later(self._quit)

    async def _quit(self) -> None:
        await self.controller.shutdown()
        self.exit(0)

    async def on_unmount(self) -> None:
        await self.controller.shutdown()
