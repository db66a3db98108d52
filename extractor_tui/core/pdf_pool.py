"""A pool of PDF worker processes, each read bounded by a time limit.

Why processes: PDF parsing is CPU-bound and holds the GIL (pypdf in a thread stalls the
event loop by 80-120 ms at a time), and a hostile file can make a parser spin or crash.
A worker process keeps the event loop responsive, lets two files parse on two cores, and can
be killed when a file exceeds its time limit; the pool then starts a fresh worker.

Why not ``ProcessPoolExecutor``: it cannot kill one stuck task, only break the whole pool,
failing the innocent files in flight beside it; and its "spawn" start re-imports the caller's
``__main__``. The workers here are ``python -m extractor_tui.core.pdf_worker`` children
driven through asyncio's subprocess pipes (see that module for the framing).
"""

from __future__ import annotations

import asyncio
import os
import sys
from asyncio.subprocess import PIPE, Process
from pathlib import Path
from typing import Any

import extractor_tui
from extractor_tui import errors
from extractor_tui.core.pdf import HEADER, PdfPages, decode_frame, encode_frame
from extractor_tui.errors import CorruptPdf, DocumentError, LoadTimedOut

__all__ = ["PdfWorkerPool"]

_STREAM_LIMIT = 1 << 20


def _worker_env() -> dict[str, str]:
    """The parent's environment, with this package importable whatever the child's cwd."""
    env = dict(os.environ)
    root = str(Path(extractor_tui.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


def _error_from(reply: dict[str, object], path: Path) -> DocumentError:
    cls = getattr(errors, str(reply.get("error")), None)
    reason = str(reply.get("reason") or "")
    if isinstance(cls, type) and issubclass(cls, DocumentError):
        return cls(path, reason or None)
    return CorruptPdf(path, reason or None)


class PdfWorkerPool:
    """A few worker processes reading PDFs, each read bounded by ``timeout`` seconds.

    Use as ``async with PdfWorkerPool(2, 60) as pool: pages = await pool.read(path)``.
    Workers start on first use; a worker that times out or dies is replaced.
    """

    def __init__(self, workers: int = 2, timeout: float = 60.0) -> None:
        self._size = max(1, workers)
        self._timeout = timeout
        self._idle: asyncio.Queue[Process] | None = None
        self._all: set[Process] = set()

    async def __aenter__(self) -> PdfWorkerPool:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def read(self, path: Path) -> PdfPages:
        """Pages of ``path``; raises DocumentError (LoadTimedOut past the time limit)."""
        worker = await self._acquire()
        healthy = False
        try:
            reply = await asyncio.wait_for(self._ask(worker, path), self._timeout)
            healthy = True
        except asyncio.TimeoutError:
            raise LoadTimedOut(path, f"took longer than {self._timeout:g} s to read "
                                     "(raise pdf_timeout_s to allow more)") from None
        except (asyncio.IncompleteReadError, ConnectionError, ValueError) as exc:
            raise CorruptPdf(path, "the PDF reader crashed on this file") from exc
        finally:
            await self._release(worker, healthy)
        if "error" in reply:
            raise _error_from(reply, path)
        return PdfPages(tuple(str(page) for page in reply["pages"]), str(reply["engine"]))

    async def close(self) -> None:
        """Stop every worker: close its stdin, give it a second, then kill it."""
        workers, self._idle = list(self._all), None
        await asyncio.gather(*(self._stop(worker, grace=1.0) for worker in workers))

    @staticmethod
    async def _ask(worker: Process, path: Path) -> dict[str, Any]:
        assert worker.stdin is not None and worker.stdout is not None
        worker.stdin.write(encode_frame({"path": str(path)}))
        await worker.stdin.drain()
        header = await worker.stdout.readexactly(HEADER.size)
        body = await worker.stdout.readexactly(HEADER.unpack(header)[0])
        return decode_frame(body)

    async def _acquire(self) -> Process:
        if self._idle is None:
            self._idle = asyncio.Queue()
            for worker in await asyncio.gather(*(self._start() for _ in range(self._size))):
                self._idle.put_nowait(worker)
        return await self._idle.get()

    async def _release(self, worker: Process, healthy: bool) -> None:
        if not healthy:
            await self._stop(worker, grace=0.0)
            if self._idle is None:  # the pool was closed meanwhile
                return
            worker = await self._start()
        if self._idle is not None:
            self._idle.put_nowait(worker)

    async def _start(self) -> Process:
        worker = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "extractor_tui.core.pdf_worker",
            stdin=PIPE, stdout=PIPE, stderr=asyncio.subprocess.DEVNULL,
            env=_worker_env(), limit=_STREAM_LIMIT)
        self._all.add(worker)
        return worker

    async def _stop(self, worker: Process, grace: float) -> None:
        self._all.discard(worker)
        if worker.returncode is None and worker.stdin is not None and grace > 0:
            worker.stdin.close()
            try:
                await asyncio.wait_for(worker.wait(), grace)
                return
            except asyncio.TimeoutError:
                pass
        if worker.returncode is None:
            try:
                worker.kill()
            except ProcessLookupError:
                pass
            await worker.wait()
