"""Crash logs: the traceback of a bug, kept where only the user can read it.

A bug must not print a traceback at a user (one line names the log instead), and the log
must not become a way in. The old ``$TMPDIR/extractor-crash-<epoch>.log`` was a name any
local user could guess and plant a symlink at; a crash run by root then overwrote whatever
the link pointed to. So:

* the folder is ``$XDG_STATE_HOME/extractor`` (``paths.state_dir``), made with mode 0700;
  one that already exists is used only if it is a real folder (not a symlink) owned by
  this user, and its mode is narrowed to 0700;
* the file is opened relative to that folder's descriptor (``dir_fd``, so the folder
  cannot be swapped between the check and the open) with ``O_CREAT | O_EXCL |
  O_NOFOLLOW``, mode 0600: an existing name, a symlink included, is never opened, and the
  next name is tried;
* the text is redacted (``scrub.redact``) first: a key may sit in an exception's message.

``write_crash_log`` returns the path, or raises ``CrashLogUnavailable`` saying why no log
could be written; the caller then says so in one line rather than print the traceback.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

from extractor_tui.core.scrub import redact
from extractor_tui.paths import state_dir

__all__ = ["CrashLogUnavailable", "log_names", "write_crash_log"]

_TRIES = 100


class CrashLogUnavailable(Exception):
    """No crash log could be written; ``str()`` says why, in a few words."""


def log_names(pid: int, now: float | None = None) -> Iterator[str]:
    """The names a crash log of process ``pid`` may take at ``now``, in the order tried."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    yield f"crash-{stamp}-{pid}.log"
    for n in range(2, _TRIES + 1):
        yield f"crash-{stamp}-{pid}-{n}.log"


def _private_folder(folder: Path) -> int:
    """An O_DIRECTORY descriptor of ``folder``, made (0700) or checked to be private."""
    folder.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        folder.mkdir(mode=0o700)
    except FileExistsError:
        pass
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as exc:  # ELOOP / ENOTDIR: a symlink or a file was planted there
        raise CrashLogUnavailable(f"{folder} is not a private folder ({exc.strerror})") \
            from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
            raise CrashLogUnavailable(f"{folder} is not a private folder (owned by uid "
                                      f"{info.st_uid})")
        if stat.S_IMODE(info.st_mode) & 0o077:
            os.fchmod(fd, 0o700)
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_crash_log(text: str, folder: Path | None = None) -> Path:
    """Write ``text`` (redacted) to a new private file; return its path."""
    folder = folder or state_dir()
    try:
        dir_fd = _private_folder(folder)
    except OSError as exc:
        raise CrashLogUnavailable(f"cannot use {folder}: {exc.strerror or exc}") from exc
    try:
        for name in log_names(os.getpid()):
            try:
                fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                             0o600, dir_fd=dir_fd)
            except FileExistsError:
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(redact(text))
            return folder / name
        raise CrashLogUnavailable(f"{_TRIES} crash logs of this second already exist in "
                                  f"{folder}")
    except OSError as exc:
        raise CrashLogUnavailable(f"cannot write in {folder}: {exc.strerror or exc}") from exc
    finally:
        os.close(dir_fd)
