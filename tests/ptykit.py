"""Run ``extractor`` as a person does: on a pseudo-terminal, with stdout and stderr a TTY.

Why this exists: every other CLI test redirects stderr, so Rich's live progress (which is
drawn only when stderr is a terminal) never ran in the suite, and a crash that every person
met on their first ``extractor run`` went unseen. ``PtyProcess`` starts the real console
script in a child process whose stdin, stdout and stderr are the slave end of a new pty
(80x24 by default, ``TERM=xterm-256color``), reads everything it draws from the master end,
and can type keys into it. Every wait is bounded.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["EXTRACTOR", "PtyProcess", "plain"]

EXTRACTOR = Path(sys.executable).parent / "extractor"
"""The console script installed beside the test interpreter (``.venv/bin/extractor``)."""

_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")


def plain(text: str) -> str:
    """``text`` without escape sequences and carriage returns."""
    return _ANSI.sub("", text).replace("\r", "")


class PtyProcess:
    """A child process on its own pty; ``output`` is everything it wrote so far (decoded)."""

    def __init__(self, argv: Sequence[str | Path], *, env: Mapping[str, str] | None = None,
                 cwd: Path | None = None, columns: int = 80, rows: int = 24) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        environment = dict(os.environ if env is None else env)
        environment.setdefault("TERM", "xterm-256color")
        environment["COLUMNS"], environment["LINES"] = str(columns), str(rows)
        self._master = master
        self._bytes = bytearray()
        self.process = subprocess.Popen(
            [str(a) for a in argv], stdin=slave, stdout=slave, stderr=slave, cwd=cwd,
            env=environment, start_new_session=True, close_fds=True)
        os.close(slave)

    @property
    def output(self) -> str:
        return self._bytes.decode("utf-8", "replace")

    def _pump(self, timeout: float) -> bool:
        """Read what is available within ``timeout``; False once the pty is closed."""
        ready, _, _ = select.select([self._master], [], [], max(0.0, timeout))
        if not ready:
            return True
        try:
            data = os.read(self._master, 65536)
        except OSError:  # EIO: the child closed its side
            return False
        self._bytes.extend(data)
        return bool(data)

    def expect(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        """Wait until the plain output matches ``pattern``; AssertionError with the screen."""
        deadline = time.monotonic() + timeout
        compiled = re.compile(pattern)
        while True:
            found = compiled.search(plain(self.output))
            if found:
                return found
            left = deadline - time.monotonic()
            if left <= 0 or not self._pump(min(left, 0.2)) and self.process.poll() is not None:
                raise AssertionError(f"{pattern!r} not seen in {timeout} s; output:\n"
                                     f"{plain(self.output)[-3000:]}")

    def send(self, keys: str) -> None:
        os.write(self._master, keys.encode())

    def wait(self, timeout: float = 60.0) -> int:
        """The exit code, reading the output until the child ends (killed after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            self._pump(0.1)
        if self.process.poll() is None:
            self.kill()
            raise AssertionError(f"still running after {timeout} s; output:\n"
                                 f"{plain(self.output)[-3000:]}")
        while self._pump(0.05):  # what was written just before the end
            pass
        return self.process.returncode

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def close(self) -> None:
        self.kill()
        os.close(self._master)

    def __enter__(self) -> PtyProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
