"""The run view, driven with Pilot: events in through the buffer, a fake controller out.

What matters here: rows show the tracker's state after a flush; the filter and the
controls work; document-derived text is shown literally; 2,000 rows stream in without the
table ever being rebuilt; and one snapshot pins the look (a fixed clock makes it stable).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from textual.app import App, ComposeResult
from textual.message import Message
from textual.widgets import Footer, Static

from extractor_tui.core.events import (
    AttemptFinished,
    AttemptStarted,
    ChunkCancelled,
    ChunkCompleted,
    ChunkFailed,
    ChunkRetrying,
    ChunkSplit,
    CircuitOpened,
    ConcurrencyChanged,
    CoolDownStarted,
    EndpointInfo,
    Event,
    RequestPlanned,
    RunFinished,
    RunPaused,
    RunResumed,
    RunStarted,
    StructuredOutputChanged,
)
from extractor_tui.core.model import ChunkId
from extractor_tui.core.model import ChunkStatus
from extractor_tui.core.tracker import RequestTracker
from extractor_tui.errors import ErrorKind
from extractor_tui.ui import OFFLINE_LABEL, CancelRequested, EventBuffer, RequestSelected, RunView

NOW = 100.0


class FakeController:
    """Records the view's calls; ``now()`` is fixed at ``NOW`` unless a test moves it."""

    def __init__(self, concurrency: int = 20) -> None:
        self.calls: list[str] = []
        self._concurrency = concurrency
        self.clock = NOW
        self.limit = concurrency
        self.in_flight = 0
        self.concurrency_cap = 100

    def pause(self) -> None:
        self.calls.append("pause")

    def resume(self) -> None:
        self.calls.append("resume")

    def cancel(self) -> None:
        self.calls.append("cancel")

    def set_concurrency(self, n: int) -> None:
        self.calls.append(f"concurrency {n}")
        self._concurrency = self.limit = n

    @property
    def concurrency(self) -> int:
        return self._concurrency

    def now(self) -> float:
        return self.clock


class RunApp(App[None]):
    """The smallest host: one RunView (its table focused) and a footer."""

    def __init__(self, buffer: EventBuffer | None = None,
                 controller: FakeController | None = None, interval: float = 0.1) -> None:
        super().__init__()
        self.buffer = buffer or EventBuffer()
        self.controller = controller or FakeController()
        self.interval = interval
        self.cancel_requests = 0

    def compose(self) -> ComposeResult:
        yield RunView(self.buffer, self.controller, interval=self.interval,
                      cost=lambda prompt, completion: (prompt * 0.15 + completion * 0.6) / 1e6)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(RunView).table.focus()

    def on_cancel_requested(self, message: CancelRequested) -> None:
        self.cancel_requests += 1


def planned(n: int, document: str = "contract-{doc}.pdf", per_doc: int = 5,
            provider: str = "openai") -> Iterator[Event]:
    """RunStarted and ``n`` RequestPlanned, ``per_doc`` chunks per document."""
    yield RunStarted(n, 20, provider, "gpt-4o-mini", 0.0)
    for i in range(n):
        doc, chunk = divmod(i, per_doc)
        yield RequestPlanned(ChunkId(doc, chunk), document.format(doc=doc),
                             (chunk + 1, chunk + 2), 800 + i, 0.0)


def completed(cid: ChunkId, at: float, attempt: int = 1) -> Iterator[Event]:
    yield AttemptStarted(cid, attempt, at - 1.5)
    yield AttemptFinished(cid, attempt, at, 1.5, "ok", 200, None, 900, 40)
    yield ChunkCompleted(cid, attempt, at, 1.5, 900, 40, "gpt-4o-mini", (), "{}")


def retrying(cid: ChunkId, at: float, next_at: float) -> Iterator[Event]:
    yield AttemptStarted(cid, 1, at - 1.0)
    yield AttemptFinished(cid, 1, at, 1.0, "transient", 503, "503 Service Unavailable")
    yield ChunkRetrying(cid, ErrorKind.TRANSIENT, "503 Service Unavailable", next_at, at)


def failed(cid: ChunkId, at: float) -> Iterator[Event]:
    yield AttemptStarted(cid, 1, at - 0.5)
    yield AttemptFinished(cid, 1, at, 0.5, "invalid-output", 200, "not JSON")
    yield ChunkFailed(cid, 3, at, ErrorKind.INVALID_OUTPUT, "not JSON after 3 tries")


def scripted_run(n: int = 50, document: str = "contract-{doc}.pdf") -> list[Event]:
    """A run caught mid-way: of ``n`` requests every 5th completed, every 7th in flight,
    every 11th retrying (at ``NOW + 2.5``), every 13th failed; the rest pending."""
    events = list(planned(n, document))
    for i in range(n):
        cid = ChunkId(*divmod(i, 5))
        if i % 13 == 0:
            events += failed(cid, 50.0)
        elif i % 11 == 0:
            events += retrying(cid, 60.0, NOW + 2.5)
        elif i % 7 == 0:
            events.append(AttemptStarted(cid, 1, NOW - 3.0))
        elif i % 5 == 0:
            events += completed(cid, 40.0 + i)
    return events


def feed(app: RunApp, events: list[Event]) -> RunView:
    for event in events:
        app.buffer(event)
    view = app.query_one(RunView)
    view.flush()
    return view


def shown(view: RunView) -> list[str]:
    return [view.table.line_text(i).plain for i in range(view.table.row_count)]


def summary_text(view: RunView) -> str:
    return " ".join(str(widget.render()) for widget in view.summary.query("Static"))


async def test_rows_and_summary_follow_the_events() -> None:
    app = RunApp(interval=0.05)
    async with app.run_test(size=(160, 50)) as pilot:
        for event in scripted_run(50):
            app.buffer(event)
        await pilot.pause(0.3)  # the view's own timer drains the buffer
        view = app.query_one(RunView)
        rows = app.buffer.tracker.rows
        assert view.table.row_count == 50
        lines = shown(view)
        assert "failed" in lines[0] and "invalid-output" in lines[0]  # i == 0: failed
        assert "completed" in lines[5] and "1.5 s" in lines[5]
        assert "in progress" in lines[7] and "3.0 s…" in lines[7]
        assert "retrying" in lines[11] and "in 2.5 s" in lines[11]
        assert rows[ChunkId(2, 1)].attempt_count == 1 and lines[11].split()[4] == "1"
        text = summary_text(view)
        counts = app.buffer.tracker.summary(NOW).counts
        assert counts[ChunkStatus.FAILED] == 4 and counts[ChunkStatus.RETRYING] == 4
        assert "failed 4" in text and "retrying 4" in text and "completed 8" in text
        assert "12 / 50 done" in text and "gpt-4o-mini" in text and "cost $0.0013" in text


async def test_filter_shows_only_failed_rows_without_rebuilding_per_flush() -> None:
    app = RunApp()
    async with app.run_test(size=(160, 50)) as pilot:
        view = feed(app, scripted_run(50))
        view.set_status_filter("failed")
        await pilot.pause()
        assert view.table.row_count == 4
        assert all(" failed " in line for line in shown(view))
        rebuilds = view.table.rebuilds
        feed(app, list(failed(ChunkId(0, 1), 70.0)))  # a pending row fails: joins in place
        assert [line.split()[1] for line in shown(view)] == ["0", "1", "3", "1", "4"]
        assert view.table.rebuilds == rebuilds
        await pilot.press("f")  # cycles on to "cancelled": nothing
        assert view.status_filter == "cancelled" and view.table.row_count == 0
        await pilot.click("#filters .chip", offset=(2, 0))  # the first chip: all
        assert view.status_filter == "all" and view.table.row_count == 50


async def test_filtered_index_stays_equal_to_a_recomputation() -> None:
    app = RunApp()
    async with app.run_test() as pilot:
        events = scripted_run(60)
        view = feed(app, events[:30])
        view.set_status_filter("in progress")
        rows = app.buffer.tracker.rows
        whole = ChunkId(1, 1)  # truncated: its halves must sit right under it
        first, second = (RequestPlanned(h, "contract-1.pdf", (2, 2), 400, 2.0)
                         for h in whole.halves())
        events += [AttemptStarted(whole, 1, 1.0), ChunkSplit(whole, (first, second), 2.0),
                   AttemptStarted(first.id, 1, 3.0), AttemptStarted(second.id, 1, 3.0)]
        for start in range(30, len(events), 17):  # flushes that cut through every pattern
            feed(app, events[start:start + 17])
            expected = sorted(cid for cid, row in rows.items()
                              if row.status is ChunkStatus.IN_PROGRESS)
            assert list(view.table.view) == expected
        assert first.id in view.table.view and view.table.rebuilds == 1
        view.set_status_filter("all")
        assert list(view.table.view).index(first.id) == list(rows).index(whole) + 1
        await pilot.pause()


async def test_pause_resume_cancel_and_concurrency_go_to_the_controller() -> None:
    app = RunApp()
    async with app.run_test() as pilot:
        feed(app, scripted_run(10))
        await pilot.press("p", "p", "plus", "plus", "minus", "c")
        await pilot.pause()
        assert app.controller.calls == ["pause", "resume", "concurrency 21",
                                        "concurrency 22", "concurrency 21"]
        assert app.cancel_requests == 1
        app.controller.set_concurrency(100)
        await pilot.press("plus")
        assert app.controller.concurrency == 100  # bounded
        feed(app, [RunPaused(NOW)])  # the engine says paused: p now resumes
        await pilot.press("p")
        assert app.controller.calls[-1] == "resume"
        titles = [command.title for command in app.query_one(RunView).system_commands()]
        assert {"Pause run", "Cancel run", "Raise concurrency"} <= set(titles)
        feed(app, [RunFinished(0, 0, 0, NOW)])
        calls = len(app.controller.calls)
        await pilot.press("p", "plus")
        assert len(app.controller.calls) == calls  # nothing to steer once it is over


async def test_cursor_moves_and_announces_the_selected_request() -> None:
    app = RunApp()
    selected: list[ChunkId] = []

    def hook(message: Message) -> None:
        if isinstance(message, RequestSelected):
            selected.append(message.chunk_id)

    async with app.run_test(size=(120, 20), message_hook=hook) as pilot:
        view = feed(app, scripted_run(50))
        await pilot.press("down", "down", "end")
        await pilot.pause()
        assert view.table.selected == ChunkId(9, 4) and selected[-1] == ChunkId(9, 4)
        assert view.table.scroll_offset.y > 0  # the last row was scrolled into sight
        await pilot.press("home", "pagedown")
        assert view.table.cursor_row == view.table.size.height - 1  # one page down
        await pilot.press("home")
        await pilot.click(view.table, offset=(5, 3))  # header, then rows 0, 1, 2
        assert view.table.selected == ChunkId(0, 2)


async def test_document_text_is_shown_literally() -> None:
    app = RunApp()
    async with app.run_test(size=(160, 20)) as pilot:
        name = "[/bold] evil [red]x[/red] \x1b[31m.pdf"
        view = feed(app, [*planned(2, document=name),
                          CircuitOpened("401 [/bold] bad key [red]", True, None, NOW)])
        await pilot.pause()
        line = view.table.line_text(0)
        assert "[/bold] evil [red]x[/red]" in line.plain and "\x1b" not in line.plain
        assert not [span for span in line.spans if "red" in str(span.style)]
        assert "401 [/bold] bad key [red]" in summary_text(view)
        assert "[/bold] evil [red]x[/red]" in view.table.render_line(1).text  # as painted


async def test_offline_provider_is_labelled_as_such() -> None:
    app = RunApp()
    async with app.run_test() as pilot:
        view = feed(app, list(planned(3, provider="offline")))
        await pilot.pause()
        assert OFFLINE_LABEL in summary_text(view)


async def test_two_thousand_rows_stream_in_without_a_rebuild() -> None:
    app = RunApp(interval=0.05)
    async with app.run_test(size=(160, 50)) as pilot:
        view = app.query_one(RunView)
        order = view.table.view
        events = list(planned(2000, per_doc=40))
        for start in range(0, len(events), 250):  # arrive over several flushes
            for event in events[start:start + 250]:
                app.buffer(event)
            await pilot.pause(0.06)
        for i in range(0, 2000, 3):
            for event in completed(ChunkId(*divmod(i, 40)), 10.0):
                app.buffer(event)
        await pilot.pause(0.2)
        assert view.table.row_count == 2000 and view.table.view is order
        assert view.table.rebuilds == 0 and app.buffer.pending == 0
        assert "completed 667" in summary_text(view)


def _offered(app: RunApp) -> set[str]:
    """The actions the footer offers now."""
    return {b.binding.action for b in app.screen.active_bindings.values()
            if b.enabled and b.binding.show}


async def test_a_cancelled_run_says_cancelled_and_stops_offering_pause() -> None:
    """Issue 12 items 12 and 18: not '✔ finished 100 %' with most chunks cancelled."""
    app = RunApp()
    async with app.run_test(size=(160, 30)) as pilot:
        view = feed(app, [])
        await pilot.pause()
        assert not {"pause", "cancel_run"} & _offered(app), "no run yet: nothing to pause"
        events = list(planned(10))
        for i in range(3):
            events += completed(ChunkId(0, i) if i < 5 else ChunkId(1, i - 5), 5.0)
        feed(app, events)
        await pilot.pause()
        assert {"pause", "cancel_run"} <= _offered(app)
        feed(app, [*(ChunkCancelled(ChunkId(*divmod(i, 5)), "cancelled by the user", 6.0)
                     for i in range(3, 10)), RunFinished(3, 0, 7, 6.0)])
        await pilot.pause()
        text = summary_text(view)
        assert "cancelled" in text and "finished" not in text
        assert "3 / 10 done · 7 cancelled" in text
        assert view.summary.query_one("#progress").progress == 3
        assert not {"pause", "resume", "cancel_run"} & _offered(app), "the run is over"
        feed(app, [RunStarted(1, 20, "openai", "m", 7.0), *completed(ChunkId(0, 3), 8.0),
                   RunFinished(1, 0, 0, 8.0)])
        assert "✔ finished" in summary_text(view), "a later run that finishes says so"


async def test_concurrency_reads_in_flight_limit_ceiling_from_the_gate() -> None:
    """Issue 12 item 13: in flight / current limit / ceiling; never more in flight than
    the limit (answers not yet parsed are not in flight)."""
    controller = FakeController(concurrency=25)
    controller.limit, controller.in_flight = 1, 1
    app = RunApp(controller=controller)
    async with app.run_test(size=(160, 30)) as pilot:
        events = list(planned(40))
        events += [AttemptStarted(ChunkId(*divmod(i, 5)), 1, 1.0) for i in range(38)]
        view = feed(app, events)
        assert "in flight / limit / ceiling 1 / 1 / 25" in summary_text(view)
        await pilot.press("minus", "minus", "minus")
        assert controller.calls == ["concurrency 24", "concurrency 23", "concurrency 22"]
        controller.limit, controller.in_flight = 20, 38  # the limit was just lowered
        view.flush()
        assert "20 / 20 / 22 (+18 finishing)" in summary_text(view)
        await pilot.press("plus")
        assert controller.calls[-1] == "concurrency 23"


async def test_each_endpoint_has_a_line_with_its_health() -> None:
    """Issue 15: in flight / limit, answers, 429s, errors, breaker state and mode for each
    endpoint; the run's limit is their sum; one endpoint's cool-down is its own."""
    endpoints = (EndpointInfo("fleet-a", 20, 20, "json_schema"),
                 EndpointInfo("fleet-b", 8, 8, "json_object"),
                 EndpointInfo("dead", 20, 20, "json_schema"))
    a, b, c, d = (ChunkId(0, i) for i in range(4))
    events: list[Event] = [RunStarted(4, 48, "openai-compatible", "m", 0.0, endpoints),
                           *(RequestPlanned(cid, "doc.txt", (1, 1), 10, 0.0)
                             for cid in (a, b, c, d)),
                           AttemptStarted(d, 1, 0.5, "dead"),
                           AttemptFinished(d, 1, 1.0, 0.5, "transient", None, "cannot connect",
                                           endpoint="dead"),
                           CircuitOpened("[dead] cannot connect", False, 105.0, 1.0, "dead",
                                         out_of_service=True),
                           AttemptStarted(a, 1, 0.5, "fleet-a"),
                           AttemptFinished(a, 1, 2.0, 1.5, "ok", 200, None, 900, 40,
                                           endpoint="fleet-a"),
                           ChunkCompleted(a, 1, 2.0, 1.5, 900, 40, "m", (), "{}"),
                           AttemptStarted(b, 1, 2.0, "fleet-b"),
                           AttemptFinished(b, 1, 3.0, 1.0, "back-pressure", 429, "429",
                                           endpoint="fleet-b"),
                           CoolDownStarted(NOW + 3.0, "429", 3.0, "fleet-b"),
                           ConcurrencyChanged(4, 8, "429 rate limit", 3.0, "fleet-b"),
                           AttemptStarted(c, 1, 4.0, "fleet-a"),
                           StructuredOutputChanged("http://a/v1", "json_schema", "tools",
                                                   "moved", "refused", 4.0, "fleet-a")]
    app = RunApp()
    async with app.run_test(size=(180, 40)) as pilot:
        view = feed(app, events)
        await pilot.pause()
        lines = str(view.summary.query_one("#endpoints", Static).render()).splitlines()
        assert lines[0].startswith("fleet-a  in flight 1 / 20 · 1 answers · 0× 429 · "
                                   "0 errors · closed · tools")
        assert lines[1].startswith("fleet-b  in flight 0 / 4 · 0 answers · 1× 429 · 0 errors "
                                   "· closed · json_object   cooling down: 3.0 s left")
        assert lines[2] == ("dead  in flight 0 / 20 · 0 answers · 0× 429 · 1 errors · "
                            "out-of-service · json_schema   [dead] cannot connect")
        assert app.buffer.tracker.summary(NOW).limit == 44  # the run's: 20 + 4 + 20
        text = summary_text(view)
        assert "cooling down after a 429" not in text and "circuit" not in text


def test_rates_stand_still_while_paused() -> None:
    tracker = RequestTracker()
    for event in [*planned(4), *completed(ChunkId(0, 0), 10.0), RunPaused(10.0)]:
        tracker.apply(event)
    paused = tracker.summary(10.0)
    assert tracker.summary(50.0).calls_per_second == paused.calls_per_second > 0
    assert tracker.summary(50.0).throughput == paused.throughput
    tracker.apply(RunResumed(50.0))
    assert tracker.summary(60.0).elapsed == 20.0  # 10 s before the pause, 10 s after


async def test_retry_column_agrees_with_the_cool_down_in_the_header() -> None:
    app = RunApp()
    async with app.run_test(size=(160, 20)) as pilot:
        cid = ChunkId(0, 0)
        view = feed(app, [*planned(1), AttemptStarted(cid, 1, NOW - 1),
                          AttemptFinished(cid, 1, NOW, 1.0, "back-pressure", 429, "429"),
                          ChunkRetrying(cid, ErrorKind.BACK_PRESSURE, "429", NOW + 1.0, NOW),
                          CoolDownStarted(NOW + 4.0, "429", NOW)])
        await pilot.pause()
        assert "in 4.0 s" in shown(view)[0]
        assert "4.0 s left" in summary_text(view)


async def test_paths_read_relative_and_keep_the_file_name_at_100_columns(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    here = tmp_path
    monkeypatch.chdir(here)
    deep = here / "clients" / "2024" / "quarterly-reports" / "north-east-region"
    app = RunApp()
    async with app.run_test(size=(100, 20)) as pilot:
        view = feed(app, list(planned(1, document=str(deep / "contract-{doc}.pdf"))))
        await pilot.pause()
        line = shown(view)[0]
        assert "contract-0.pdf" in line and str(here) not in line
        assert line.startswith("…")


def test_snapshot(snap_compare: object) -> None:
    app = RunApp(interval=3600)  # no timer flush during the shot; the test flushes itself

    async def run_before(pilot: object) -> None:
        feed(app, [*scripted_run(50), CoolDownStarted(NOW + 4.0, "429", NOW)])

    assert snap_compare(app, terminal_size=(150, 36), run_before=run_before)  # type: ignore[operator]
