"""RunSummary: the run at a glance, above the request table.

It renders a tracker ``Summary`` and nothing else: progress, counts by status, latency
percentiles, tokens and cost, throughput, the adaptive concurrency limit, a cool-down
countdown, the circuit breaker's message, whether the run is paused, with several endpoints
a line for each (in flight / limit, answers, 429s, errors, breaker, structured-output mode),
and (once an attempt has failed) the failure reasons with their counts. The run view calls
``show(summary, now)`` once per flush, never per event.

Every line is assembled from literal parts (Textual ``Content``, never markup, so theme
variables such as ``$error`` work): the circuit message quotes the provider's error, which
may hold brackets. Time only enters through ``now``, so a test that
fixes the clock gets the same picture every time.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.widget import Widget
from textual.widgets import ProgressBar, Static

from extractor_tui.core.model import BreakerState, ChunkStatus, EndpointHealth
from extractor_tui.core.scrub import printable
from extractor_tui.core.tracker import Summary, describe_failures

__all__ = ["OFFLINE_LABEL", "CostFn", "RunSummary", "provider_label"]

CostFn = Callable[[int, int], float | None]
"""``cost(prompt_tokens, completion_tokens)`` in USD, or None when the price is unknown."""

OFFLINE_LABEL = "offline (built-in heuristic, no LLM)"


def provider_label(provider: str) -> str:
    """What to call the provider; the built-in one must never pass for an LLM."""
    if provider == "offline":
        return OFFLINE_LABEL
    return provider or "not started"


def _seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} s"


class _Line:
    """Literal (text, style) parts; ``Content.assemble`` never parses them as markup."""

    def __init__(self) -> None:
        self.parts: list[tuple[str, str]] = []

    def append(self, text: str, style: str = "") -> None:
        self.parts.append((text, style))

    def __bool__(self) -> bool:
        return bool(self.parts)

    def content(self) -> Content:
        return Content.assemble(*self.parts)


def _state(summary: Summary, now: float) -> Content:
    line = _Line()
    circuit = (summary.circuit or "").translate({10: " ", 13: " "})
    if circuit.startswith("open: "):  # the breaker waits, then probes; not the end
        line.append("◆ circuit ", "bold $warning")
        line.append(circuit, "$warning")
    elif circuit:
        line.append("■ stopped: ", "bold $error")
        line.append(circuit, "$error")
    elif summary.finished and summary.cancelled:
        line.append("■ cancelled", "bold $warning")
        line.append(f": {summary.cancelled:,} chunk(s) not sent; resume them from Sessions "
                    "or retry them on Failed", "$warning")
    elif summary.finished:
        line.append("✔ finished", "bold $success")
    elif summary.paused:
        line.append("⏸ paused", "bold $warning")
    elif summary.provider:
        line.append("▶ running", "bold $accent")
    else:
        line.append("waiting to start", "$text-muted")
    if summary.cooling_until is not None and not summary.finished:
        line.append(f"   cooling down after a 429: {_seconds(summary.cooling_until - now)} left",
                    "$warning")
    line.append("   provider ", "$text-muted")
    line.append(provider_label(summary.provider), "bold")
    if summary.model and summary.provider != "offline":
        line.append("   model ", "$text-muted")
        line.append(summary.model, "bold")
    return line.content()


_COUNTED = (
    (ChunkStatus.PENDING, "pending", "$text-muted"),
    (ChunkStatus.IN_PROGRESS, "in progress", "$accent"),
    (ChunkStatus.RETRYING, "retrying", "$warning"),
    (ChunkStatus.COMPLETED, "completed", "$success"),
    (ChunkStatus.FAILED, "failed", "$error"),
    (ChunkStatus.CANCELLED, "cancelled", "$text-disabled"),
    (ChunkStatus.SPLIT, "split", "$text-muted"),
)


def _counts(summary: Summary) -> Content:
    line = _Line()
    for status, label, style in _COUNTED:
        count = summary.counts.get(status, 0)
        if status is ChunkStatus.SPLIT and not count:
            continue
        if line:
            line.append(" · ", "$text-muted")
        line.append(f"{label} ")
        line.append(f"{count:,}", style if count else "$text-muted")
    if summary.retries:
        line.append("   retries ", "$text-muted")
        line.append(", ".join(f"{kind} {n}" for kind, n in sorted(summary.retries.items())))
    return line.content()


def _figures(summary: Summary, cost: CostFn | None) -> Content:
    line = _Line()

    def item(label: str, value: str) -> None:
        if line:
            line.append(" · ", "$text-muted")
        line.append(f"{label} ", "$text-muted")
        line.append(value)

    item("p50", _seconds(summary.p50))
    item("p95", _seconds(summary.p95))
    item("tokens", f"{summary.prompt_tokens:,} in / {summary.completion_tokens:,} out"
                   + (" (estimated)" if summary.tokens_estimated else ""))
    price = cost(summary.prompt_tokens, summary.completion_tokens) if cost else None
    item("cost", "unknown" if price is None else f"${price:,.4f}")
    item("rate", f"{summary.calls_per_second:.1f} calls/s, "
                 f"{summary.throughput:.1f} completed/s")
    # in flight / current limit / ceiling; a lowered limit lets calls already sent finish,
    # and those are counted apart so in flight never reads above the limit.
    flying = min(summary.in_flight, summary.limit)
    over = summary.in_flight - flying
    item("in flight / limit / ceiling", f"{flying} / {summary.limit} / {summary.maximum}"
         + (f" (+{over} finishing)" if over > 0 else ""))
    return line.content()


_BREAKER_STYLE = {BreakerState.CLOSED: "$success", BreakerState.OPEN: "$warning",
                  BreakerState.OUT_OF_SERVICE: "$warning", BreakerState.STOPPED: "$error"}


def _endpoint(health: EndpointHealth, now: float) -> Content:
    """``fleet-a  in flight 3 / 20 · 120 answers · 3× 429 · 0 errors · closed ·
    json_schema``, then why its breaker is not closed, or that it cools down."""
    line = _Line()
    line.append(health.name, "bold" if health.serves else "$text-muted")
    if not health.serves:
        line.append("  does not serve this model", "$text-muted")
        return line.content()
    line.append("  in flight ", "$text-muted")
    line.append(f"{health.in_flight} / {health.limit}")
    for count, label, style in ((health.answers, " answers", "$success"),
                                (health.rate_limited, "× 429", "$warning"),
                                (health.errors, " errors", "$error")):
        line.append(" · ", "$text-muted")
        line.append(f"{count:,}", style if count else "")
        line.append(label, "$text-muted")
    line.append(" · ", "$text-muted")
    line.append(health.breaker.value, _BREAKER_STYLE[health.breaker])
    line.append(" · ", "$text-muted")
    line.append(health.mode)
    if health.cooling_until is not None and health.cooling_until > now:
        line.append(f"   cooling down: {_seconds(health.cooling_until - now)} left", "$warning")
    if health.reason and health.breaker is not BreakerState.CLOSED:
        line.append("   ")
        line.append(printable(health.reason).translate({10: " ", 13: " "}),
                    _BREAKER_STYLE[health.breaker])
    return line.content()


def _endpoints(summary: Summary, now: float) -> Content:
    """One line per endpoint when there are several (one endpoint's figures are the run's)."""
    if len(summary.endpoints) < 2:
        return Content("")
    return Content("\n").join([_endpoint(health, now) for health in summary.endpoints])


def _failures(summary: Summary) -> Content:
    line = _Line()
    if summary.failures:
        line.append("failed attempts ", "$text-muted")
        line.append(printable(describe_failures(summary.failures, most=3)), "$warning")
    return line.content()


class RunSummary(Widget):
    """Progress bar and three lines of figures, then one per endpoint when there are several,
    and the failure reasons once an attempt failed; ``show()`` replaces all of them at once."""

    DEFAULT_CSS = """
    RunSummary {
        height: auto;
        padding: 0 1;
        & > Horizontal { height: 1; }
        & #progress { width: 1fr; }
        & #progress Bar { width: 1fr; }
        & #done { width: auto; margin-left: 2; }
    }
    """

    def __init__(self, cost: CostFn | None = None, *, name: str | None = None,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._cost = cost
        self._shown: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        with Horizontal():
            # The ETA would read the wall clock; the rate line already says how fast it goes.
            yield ProgressBar(show_eta=False, id="progress")
            yield Static(id="done")
        yield Static(id="state")
        yield Static(id="counts")
        yield Static(id="figures")
        yield Static(id="endpoints")
        yield Static(id="failures")

    def show(self, summary: Summary, now: float) -> None:
        """Draw ``summary`` as of ``now`` (the engine's clock)."""
        cancelled = summary.counts.get(ChunkStatus.CANCELLED, 0)
        done = summary.done - cancelled  # a cancelled chunk is not done: the bar says so
        self.query_one("#progress", ProgressBar).update(
            total=summary.total or None, progress=done)
        self._set("done", Content(f"{done:,} / {summary.total:,} done"
                                  + (f" · {cancelled:,} cancelled" if cancelled else "")))
        self._set("state", _state(summary, now))
        self._set("counts", _counts(summary))
        self._set("figures", _figures(summary, self._cost))
        endpoints = _endpoints(summary, now)
        self.query_one("#endpoints", Static).display = bool(endpoints.plain)
        self._set("endpoints", endpoints)
        failures = _failures(summary)
        self.query_one("#failures", Static).display = bool(failures.plain)
        self._set("failures", failures)

    def _set(self, name: str, content: Content) -> None:
        # Ten flushes a second mostly repeat the last line; skip those (and their layout).
        # Comparing the text suffices: each line's styles follow from its text.
        if self._shown.get(name) != content.plain:
            self._shown[name] = content.plain
            self.query_one(f"#{name}", Static).update(content)
