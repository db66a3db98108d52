"""Scale benchmark: is every step linear at 100x the sample? Prints figures, asserts nothing.

    .venv/bin/python bench/scale.py [--docs 10000] [--work DIR] [--only SECTION ...]

The inputs are generated here, deterministically, into ``--work`` (default
``$TMPDIR/extractor-scale``) and reused by later runs; nothing is committed. The LLM is the
loopback server (``tests/loopback.py``) in its own process at 5 ms latency, so the figures
are the product's own cost, not a model's.

Sections (targets are for a 2-core machine; compare ratios measured in the same run):
  register   registering a 4 MB and a 50 MB text file (load, chunk, store): seconds, the
             ratio 50 MB / 4 MB (linear = 12.5), and the longest event-loop stall meanwhile
  run        ``extractor run`` over 1,000 and over --docs small documents (1-3 pages each):
             wall seconds per chunk and their ratio, peak RSS, the longest event-loop stall;
             then the same command again on the finished session (nothing to send)
  app        the app on that session: seconds until the first screen shows a document (on a
             pty, as a person starts it), then (Pilot) the longest loop stall while it opens,
             switching to Results, Documents and Failed (keys 6, 1, 5) and jumping to the
             last of the 10,000 rows: each key's time until its screen is painted (see
             ``_app_switching``) with the CPU meanwhile, the longest loop stall, and the SQL
             statements that read chunk text while switching; and the same switches on a
             pty, until each screen's header and footer keys are written
  interrupt  SIGINT while a 16 MB file is loading (``--dry-run``): seconds until it exits
  pdf        peak RSS of the process tree while a 50,000-page PDF is loaded (``--dry-run``)

The event-loop stall is measured inside the process under test: the ``run`` section runs
``extractor run`` in a child Python that starts a 5 ms ticker on the same loop (see
``_child_run``), and the app's is measured by a ticker on the Pilot's loop.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from benchkit import Ticker, loopback  # noqa: E402

EXTRACTOR = Path(sys.executable).parent / "extractor"
SECTIONS = ("register", "run", "app", "interrupt", "pdf")
_WORDS = ("agreement party invoice amount total due date payment services company limited "
          "section clause term period notice confidential information shall include the of "
          "and to in for by with under this any all such other herein hereby provided that "
          "net tax rate hour unit quantity description account number reference address "
          "street city state delaware new york january march june september december").split()


# --------------------------------------------------------------------------- inputs


def _prose(rng: random.Random, chars: int) -> str:
    """Sentences of plain words, about ``chars`` characters, with a paragraph now and then."""
    out: list[str] = []
    size = 0
    while size < chars:
        sentence = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(6, 18)))
        sentence = sentence.capitalize() + ". "
        if rng.random() < 0.15:
            sentence += "\n\n"
        out.append(sentence)
        size += len(sentence)
    return "".join(out)


def _text_file(path: Path, megabytes: float, seed: int) -> Path:
    """A text file of about ``megabytes`` MiB, a form feed every ~3,000 characters."""
    if path.exists():
        return path
    rng = random.Random(seed)
    target = int(megabytes * 1024 * 1024)
    with path.open("w", encoding="utf-8") as handle:
        written = 0
        while written < target:
            page = _prose(rng, 3000) + "\f"
            handle.write(page)
            written += len(page)
    return path


def _small_docs(folder: Path, count: int, seed: int) -> Path:
    """``count`` documents of 1-3 pages (a header line with a number, then prose)."""
    marker = folder / ".complete"
    if marker.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    for n in range(count):
        pages = [f"Invoice No. INV-{n:06d}\nTotal: ${rng.randint(100, 99999)}.00\n"
                 + _prose(rng, rng.randint(900, 1500)) for _ in range(rng.randint(1, 3))]
        sub = folder / f"{n // 1000:02d}"
        sub.mkdir(exist_ok=True)
        (sub / f"doc-{n:06d}.txt").write_text("\f".join(pages), encoding="utf-8")
    marker.touch()
    return folder


def _big_pdf(path: Path, pages: int) -> Path:
    if path.exists():
        return path
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format=(300, 200))
    pdf.set_font("helvetica", size=9)
    pdf.set_auto_page_break(False)
    for n in range(pages):
        pdf.add_page()
        pdf.set_xy(10, 20)
        pdf.cell(text=f"Page {n + 1} of the agreement: section {n % 97} term notice.")
    pdf.output(str(path))
    return path


# --------------------------------------------------------------------------- helpers


def _env(work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("EXTRACTOR_") and k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        folder = work / "xdg" / name
        folder.mkdir(parents=True, exist_ok=True)
        env[name] = str(folder)
    return env


def _tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and every descendant, from /proc (0 when gone)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                parent = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(entry))
    total, todo = 0, [pid]
    page = os.sysconf("SC_PAGE_SIZE")
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/statm", encoding="ascii") as handle:
                total += int(handle.read().split()[1]) * page
        except (OSError, ValueError, IndexError):
            pass
        todo.extend(children.get(current, []))
    return total


def _measure(argv: Sequence[str | Path], env: dict[str, str], *, sample_tree: bool = False,
             on_start: Callable[[subprocess.Popen[bytes]], None] | None = None,
             timeout: float = 3600.0) -> dict[str, Any]:
    """Run a command; its wall seconds, exit code, output, its own peak RSS (``wait4`` on
    that one child: the process and the descendants it reaped) and, if asked, the peak RSS
    of its whole process tree sampled every 20 ms (worker processes alive at once)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen([str(a) for a in argv], env=env, stdout=out, stderr=err)
        if on_start is not None:
            on_start(proc)
        tree_peak = 0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid == proc.pid:
                break
            if time.perf_counter() - started > timeout:
                proc.kill()
            if sample_tree:
                tree_peak = max(tree_peak, _tree_rss(proc.pid))
            time.sleep(0.02)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return {"wall": wall, "code": proc.returncode,
                "stdout": out.read().decode("utf-8", "replace"),
                "stderr": err.read().decode("utf-8", "replace"), "tree_peak": tree_peak,
                "maxrss": usage.ru_maxrss * 1024}


def _mb(n: float) -> str:
    return f"{n / 1024 / 1024:.0f} MB"


# --------------------------------------------------------------------------- sections


async def _register_once(path: Path, session_path: Path) -> dict[str, float]:
    """The steps of ``Job.add_paths`` for one file, each timed: load (read, decode, pages),
    chunk (tiktoken, in threads), register (hash, keys, store: the step the issue names), and
    the whole call's longest event-loop stall."""
    from extractor_tui.config import load_settings
    from extractor_tui.core.chunks import chunk_documents
    from extractor_tui.core.documents import LoadOptions, load_documents
    from extractor_tui.core.fields import preset
    from extractor_tui.core.job import Job
    from extractor_tui.core.session import Session

    settings = load_settings(None, provider="offline", max_file_mb=1000)
    session_path.unlink(missing_ok=True)
    with Session.open(session_path) as session:
        job = Job(settings, preset("invoice"), session)
        ticker = Ticker()
        ticker.start()
        started = time.perf_counter()
        loaded = await load_documents([path], LoadOptions(max_file_bytes=2**40))
        read = time.perf_counter()
        [entry] = await chunk_documents(loaded.documents, job.chunker, settings.load_workers)
        chunked = time.perf_counter()
        await job._register(entry.document, entry.chunks)  # noqa: SLF001 - the step measured
        registered = time.perf_counter()
        stall = await ticker.stop()
        stall_cpu = ticker.worst_cpu
        chunks = len(session.work_items())
        await job.aclose()
    return {"load": read - started, "chunk": chunked - read, "register": registered - chunked,
            "total": registered - started, "stall": stall, "chunks": chunks}


def section_register(work: Path, runs: int) -> None:
    small = _text_file(work / "text-4mb.txt", 4, seed=4)
    big = _text_file(work / "text-50mb.txt", 50, seed=50)
    results: dict[str, list[dict[str, float]]] = {"4": [], "50": []}
    for _ in range(runs):
        for label, path in (("4", small), ("50", big)):
            results[label].append(asyncio.run(_register_once(path, work / "register.sqlite")))

    def med(label: str, key: str) -> float:
        return statistics.median(r[key] for r in results[label])

    for label in ("4", "50"):
        print(f"register  {label} MB text ({results[label][0]['chunks']:.0f} chunks): register "
              f"{med(label, 'register'):.2f} s (target for 4 MB < 0.3 s); the whole way in "
              f"{med(label, 'total'):.2f} s (load {med(label, 'load'):.2f}, chunk "
              f"{med(label, 'chunk'):.2f})  [median of {runs}]")
    stall = max(r["stall"] for v in results.values() for r in v)
    for label in ("4", "50"):
        stalls = ", ".join(f"{r['stall'] * 1000:.0f}" for r in results[label])
        print(f"register  {label} MB: longest loop stall of each run {stalls} ms")
    print(f"register  50 MB / 4 MB: register {med('50', 'register') / med('4', 'register'):.1f}x,"
          f" the whole way in {med('50', 'total') / med('4', 'total'):.1f}x (linear = 12.5x, "
          f"target <= 13x); longest loop stall {stall * 1000:.0f} ms (target < 100 ms)")


_CHILD = r"""
import asyncio, json, sys, time
sys.argv = ["extractor", *json.loads(sys.argv[1])]
from rich.console import Console
from extractor_tui.cli import _parser
from extractor_tui.cli_run import prepare, run_command
args = _parser().parse_args(sys.argv[1:])
prepare(args)  # as extractor.cli.main does, before the loop
worst = 0.0
async def tick():
    global worst
    while True:
        before = time.perf_counter()
        await asyncio.sleep(0.005)
        worst = max(worst, time.perf_counter() - before - 0.005)
async def main():
    ticker = asyncio.create_task(tick())
    try:
        return await run_command(args, Console(stderr=True))
    finally:
        ticker.cancel()
code = asyncio.run(main())
with open("/proc/self/status", encoding="ascii") as status:
    hwm = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
print(json.dumps({"stall": worst, "hwm": hwm}), file=sys.stderr)
sys.exit(code)
"""


def _child_run(argv: Sequence[str | Path], env: dict[str, str]) -> dict[str, Any]:
    """``extractor run ARGV`` in a fresh Python with a loop ticker; figures of that process."""
    figures = _measure([sys.executable, "-c", _CHILD, json.dumps([str(a) for a in argv])], env)
    found = re.findall(r'\{"stall": ([0-9.e-]+), "hwm": ([0-9]+)\}', figures["stderr"])
    figures["stall"] = float(found[-1][0]) if found else float("nan")
    # The process's own high-water mark: wait4's ru_maxrss also counts the memory of this
    # (bench) process the child was forked from, before its exec (369 MB after the
    # register section, reported for a 1,000-document run that peaked at 141 MB).
    figures["maxrss"] = int(found[-1][1]) if found else 0
    return figures


def _run_docs(work: Path, folder: Path, base_url: str, session: Path) -> dict[str, Any]:
    session.unlink(missing_ok=True)
    out = session.with_suffix(".json")
    argv = ["run", folder, "--preset", "invoice", "--base-url", base_url, "--api-key", "bench",
            "--model", "gpt-4o-mini", "--session", session, "--output", out]
    first = _child_run(argv, _env(work))
    if first["code"] not in (0, 1):
        raise RuntimeError(f"extractor run failed ({first['code']}): {first['stderr'][-2000:]}")
    report = json.loads(out.read_text(encoding="utf-8"))
    first["chunks"] = report["summary"]["chunks"]
    first["requests"] = report["summary"]["requests"]
    again = _child_run(argv, _env(work))
    first["resume_wall"], first["resume_code"] = again["wall"], again["code"]
    first["resume_stall"] = again["stall"]
    return first


def section_run(work: Path, docs: int) -> Path:
    base = _small_docs(work / "docs-1000", 1000, seed=1000)
    many = _small_docs(work / f"docs-{docs}", docs, seed=docs)
    with loopback(["--latency", "0.005", "--max-requests", "10000000"]) as url:
        small = _run_docs(work, base, url, work / "run-1000.sqlite")
        large = _run_docs(work, many, url, work / f"run-{docs}.sqlite")
    per_small = small["wall"] / max(1, small["chunks"])
    per_large = large["wall"] / max(1, large["chunks"])
    for label, fig, per in (("1,000", small, per_small), (f"{docs:,}", large, per_large)):
        print(f"run       {label} documents: {fig['chunks']:,} chunks, {fig['requests']:,} "
              f"requests, {fig['wall']:.1f} s ({per * 1000:.2f} ms/chunk), exit "
              f"{fig['code']}, longest loop stall {fig['stall'] * 1000:.0f} ms")
    print(f"run       per-chunk ratio {docs:,} / 1,000: {per_large / per_small:.2f}x "
          f"(target <= 1.2x)")
    print(f"run       peak RSS of the {docs:,}-document run: {_mb(large['maxrss'])}; of the "
          f"1,000-document run: {_mb(small['maxrss'])} (target < 500 MB)")
    print(f"resume    the finished {docs:,}-document command again: {large['resume_wall']:.1f} s, "
          f"exit {large['resume_code']}, longest loop stall "
          f"{large['resume_stall'] * 1000:.0f} ms (target < 5 s)")
    return work / f"run-{docs}.sqlite"


def _first_doc_name(session_path: Path) -> str:
    import sqlite3
    db = sqlite3.connect(f"file:{session_path}?mode=ro", uri=True)
    try:
        path = str(db.execute("SELECT path FROM documents ORDER BY id LIMIT 1").fetchone()[0])
    finally:
        db.close()
    return Path(path).stem


def _app_first_screen(work: Path, session_path: Path) -> float:
    from ptykit import PtyProcess

    name = _first_doc_name(session_path)
    started = time.perf_counter()
    with PtyProcess([EXTRACTOR, "--session", session_path], env=_env(work), cwd=work,
                    columns=120, rows=36) as child:
        child.expect(re.escape(name), timeout=120)
        elapsed = time.perf_counter() - started
        child.send("\x11")
        child.wait(60)
    return elapsed


_PTY_STEPS = (("6", "Results", ("Grounded", "Open value")),
              ("5", "Failed", ("Error class", "Retry all")),
              ("1", "Documents", ("Tokens", "Add path")),
              ("6", "Results again", ("Grounded", "Open value")),
              ("5", "Failed again", ("Error class", "Retry all")),
              ("1", "Documents again", ("Tokens", "Add path")))
"""Each key, its screen, and what shows it is there: a column header of its list and a key
of its own in the footer."""


def _app_pty_switching(work: Path, session_path: Path) -> dict[str, float]:
    """The app on a pty, as a person runs it: seconds from each key until both the new
    screen's column header and its own footer key have been written to the terminal (the
    pty is read every 5 ms). A check on the Pilot figures from outside the process."""
    from ptykit import PtyProcess, plain

    name = _first_doc_name(session_path)
    shown: dict[str, float] = {}
    with PtyProcess([EXTRACTOR, "--offline", "--session", session_path], env=_env(work),
                    cwd=work, columns=120, rows=36) as child:
        child.expect(re.escape(name), timeout=120)
        time.sleep(1.0)  # the first screen settles
        for key, tab, markers in _PTY_STEPS:
            while select.select([child._master], [], [], 0)[0]:  # noqa: SLF001 - drain
                child._pump(0)  # noqa: SLF001
            written = len(child._bytes)  # noqa: SLF001 - only what follows the key counts
            started = time.perf_counter()
            child.send(key)
            while not all(m in plain(child._bytes[written:].decode("utf-8", "replace"))  # noqa: SLF001
                          for m in markers):
                child._pump(0.005)  # noqa: SLF001
                if time.perf_counter() - started > 30:
                    raise RuntimeError(f"{tab}: {markers} not shown in 30 s")
            shown[tab] = time.perf_counter() - started
            time.sleep(0.8)  # the tab underline's slide and anything after it
        child.send("\x11")
        child.wait(60)
    return shown


_CHUNK_TEXT = re.compile(r"\bc\.text\b|\btext\b\s*,|\bSELECT\b.*\btext\b", re.S)
_ONE_DOCUMENT = re.compile(r"\bdoc_id\s*=\s*(\?|\d+)")


class _Frames:
    """Every frame the app hands its driver, with when it was made (wall and CPU), and what
    the terminal shows after each: the frames are replayed cell by cell (later, outside the
    measured time), so a frame that repaints what is already on screen changes nothing. The
    headless driver Pilot uses skips serialising a frame for the terminal, so this serialises
    it (``render_segments``) as a terminal run would, and that cost counts too."""

    def __init__(self, app: Any) -> None:
        self.made: list[tuple[float, float, Any]] = []
        self._console = app.console
        self._cells: dict[tuple[int, int], tuple[str, Any]] = {}  # (x, y) -> (text, style)
        self._replayed = 0
        self._changed: list[frozenset[int]] = []  # per frame: the rows whose cells changed
        display = app._display  # noqa: SLF001 - the one place a frame leaves the app

        def hooked(screen: Any, update: Any) -> None:
            if update is not None:
                if hasattr(update, "render_segments"):
                    update.render_segments(app.console)
                self.made.append((time.perf_counter(), time.process_time(), update))
            display(screen, update)

        app._display = hooked  # noqa: SLF001

    def _replay(self) -> None:
        from rich.cells import cell_len
        from rich.segment import ControlType

        options = self._console.options
        for _, _, update in self.made[self._replayed:]:
            changed: set[int] = set()
            x = y = 0
            for segment in update.__rich_console__(self._console, options):
                if segment.control:
                    for code in segment.control:
                        if code[0] == ControlType.CURSOR_MOVE_TO:
                            x, y = code[1], code[2]
                    continue
                if segment.text == "\n":
                    continue
                style = segment.style.clear_meta_and_links() if segment.style else None
                for char in segment.text:
                    if self._cells.get((x, y)) != (char, style):
                        self._cells[(x, y)] = (char, style)
                        changed.add(y)
                    x += cell_len(char)
            self._changed.append(frozenset(changed))
        self._replayed = len(self.made)

    def painted(self, since: float, cpu_since: float, decoration: int) -> tuple[float, float]:
        """Wall and CPU seconds from ``since`` to the last frame that changed what the
        terminal shows, other than the ``decoration`` row (the tab strip's underline, which
        slides for 0.3 s after the new screen is drawn); (0, 0) when nothing changed."""
        self._replay()
        content = [(wall, cpu) for (wall, cpu, _), rows in zip(self.made, self._changed)
                   if wall >= since and rows - {decoration}]
        if not content:
            return 0.0, 0.0
        wall, cpu = content[-1]
        return wall - since, cpu - cpu_since


async def _app_switching(session_path: Path) -> dict[str, Any]:
    """Pilot on the session: the loop's longest stall while the app opens, then for each key
    the time until the switched screen is painted, the stall meanwhile, and the SQL that read
    chunk text (split into statements for one document, as opening a row does, and the rest).

    A key's time runs from the key until the last frame, before the app goes idle, that
    changes what the terminal shows, other than the tab underline: the new screen with its
    rows, its focus and its footer keys, what a person sees (a frame that repaints the same
    cells is not counted). It is not the time ``pilot.press`` and ``pilot.pause``
    take: those wait for the underline's 0.3 s slide (``Animator.wait_until_complete``) and
    for at least four 20 ms windows of an idle process (``wait_for_idle``), which no person
    waits for; that made each switch read 450-600 ms beside 100-200 ms of CPU."""
    from textual.widgets._tabs import Underline

    from extractor_tui.config import load_settings
    from extractor_tui.ui.launch import build_app, prepare_to_run
    from extractor_tui.ui.recent import RecentSessions

    settings = load_settings(None, provider="offline")
    recent = RecentSessions(Path(tempfile.mkdtemp()))
    text_reads = {"one document": 0, "more": 0}

    def trace(sql: str) -> None:
        if _CHUNK_TEXT.search(sql) and "chunks" in sql:
            text_reads["one document" if _ONE_DOCUMENT.search(sql) else "more"] += 1

    timings: dict[str, float] = {}
    cpu_times: dict[str, float] = {}  # this process's CPU: what the wall time is on a busy machine
    opening = Ticker()
    opening.start()  # the app is built and mounted on this loop: its start-up counts too
    app = build_app(settings, None, session_path, recent=recent)
    prepare_to_run(app)  # as ``extractor`` does before it runs the app (heap.py)
    frames = _Frames(app)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        open_stall = await opening.stop()
        open_stall_cpu = opening.worst_cpu
        underline = app.screen.query_one(Underline).region.y
        app.controller.job.session._db.set_trace_callback(trace)  # noqa: SLF001 - bench probe
        ticker = Ticker()
        ticker.start()
        for key, tab in (("6", "Results"), ("1", "Documents"), ("5", "Failed"),
                         ("6", "Results again"), ("1", "Documents again"),
                         ("5", "Failed again"),
                         ("end", "Documents: End (the last row)"), ("6", "Results: to it"),
                         ("end", "Results: End (the last document)")):
            if tab.startswith("Documents: End"):
                await pilot.press("1")
                await pilot.pause()
            if tab.startswith("Results: End"):
                app.query_one("#result-docs").focus()
                await pilot.pause()
            started, cpu = time.perf_counter(), time.process_time()
            await pilot.press(key)
            await pilot.pause()  # settled: every frame of this key is made
            timings[tab], cpu_times[tab] = frames.painted(started, cpu, underline)
        stall = await ticker.stop()
        stall_cpu = ticker.worst_cpu
        app.controller.job.session._db.set_trace_callback(None)  # noqa: SLF001
        await pilot.press("ctrl+q")
    return {"timings": timings, "cpu": cpu_times, "stall": stall, "open_stall": open_stall,
            "stall_cpu": stall_cpu, "open_stall_cpu": open_stall_cpu, "reads": text_reads}


def section_app(work: Path, session_path: Path) -> None:
    if not session_path.exists():
        print(f"app       skipped: {session_path} does not exist (run the 'run' section first)")
        return
    first = _app_first_screen(work, session_path)
    print(f"app       first screen with a document shown: {first:.2f} s (target < 2 s)")
    on_pty = _app_pty_switching(work, session_path)
    print("app       on a pty, key to the screen's header and its footer keys written: "
          + ", ".join(f"{tab} {seconds * 1000:.0f} ms" for tab, seconds in on_pty.items())
          + " (target < 150 ms each)")
    figures = asyncio.run(_app_switching(session_path))
    shown = ", ".join(f"{tab} {seconds * 1000:.0f} ms (cpu {figures['cpu'][tab] * 1000:.0f})"
                      for tab, seconds in figures["timings"].items())
    reads = figures["reads"]
    print(f"app       longest loop stall while the app opens (Pilot): "
          f"{figures['open_stall'] * 1000:.0f} ms (cpu {figures['open_stall_cpu'] * 1000:.0f})")
    print(f"app       switching, key to the screen painted: {shown} (target < 150 ms each); "
          f"longest loop stall "
          f"{figures['stall'] * 1000:.0f} ms (cpu {figures['stall_cpu'] * 1000:.0f}); SQL "
          "statements reading chunk text meanwhile: "
          f"{reads['one document']} for one document, {reads['more']} for more")


def section_interrupt(work: Path, runs: int) -> None:
    path = _text_file(work / "text-16mb.txt", 16, seed=16)
    delays: list[float] = []
    codes: list[int] = []
    for _ in range(runs):
        def interrupt(proc: subprocess.Popen[bytes]) -> None:
            time.sleep(1.5)  # well into the load (start-up takes ~0.5 s)
            proc.send_signal(signal.SIGINT)

        figures = _measure([EXTRACTOR, "run", path, "--preset", "invoice", "--offline",
                            "--dry-run", "--max-file-mb", "1000"], _env(work),
                           on_start=interrupt)
        delays.append(figures["wall"] - 1.5)
        codes.append(figures["code"])
    print(f"interrupt SIGINT 1.5 s into loading a 16 MB file: exits {statistics.median(delays):.2f}"
          f" s later (median of {runs}; runs {', '.join(f'{d:.2f}' for d in delays)}), exit codes "
          f"{sorted(set(codes))} (target < 1 s)")


def section_pdf(work: Path) -> None:
    path = _big_pdf(work / "pages-50000.pdf", 50_000)
    figures = _measure([EXTRACTOR, "run", path, "--preset", "invoice", "--offline",
                        "--dry-run", "--pdf-timeout", "3000", "--max-file-mb", "1000"],
                       _env(work), sample_tree=True)
    plan = re.search(r"plan: .*", figures["stderr"])
    print(f"pdf       50,000-page PDF ({_mb(path.stat().st_size)} file), dry run: "
          f"{figures['wall']:.1f} s, exit {figures['code']}, peak RSS of the process tree "
          f"{_mb(figures['tree_peak'])} (target < 300 MB); "
          f"{plan.group(0)[:90] if plan else figures['stderr'][-300:]}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3, help="repeats of the short sections")
    parser.add_argument("--work", type=Path,
                        default=Path(tempfile.gettempdir()) / "extractor-scale")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    print(f"inputs in {args.work}; python {sys.version.split()[0]}; {os.cpu_count()} CPUs; "
          f"load average {os.getloadavg()[0]:.1f} (figures are wall time: a busy machine "
          "stretches them)")
    session_path = args.work / f"run-{args.docs}.sqlite"
    steps: dict[str, Callable[[], object]] = {
        "register": lambda: section_register(args.work, args.runs),
        "run": lambda: section_run(args.work, args.docs),
        "app": lambda: section_app(args.work, session_path),
        "interrupt": lambda: section_interrupt(args.work, args.runs),
        "pdf": lambda: section_pdf(args.work),
    }
    for name in SECTIONS:
        if name in args.only:
            steps[name]()
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
