#!/usr/bin/env python3
"""Set up and run extractor with nothing but python3: ``python3 tasks.py run|test``.

Why a script and not a Makefile: a fresh machine may have python3 and no ``make``. This file
uses only the standard library. It creates ``.venv`` beside itself, installs the project
into it (again only when ``pyproject.toml`` changed; after ``test``, ``run`` installs nothing,
as the test install holds the app), then runs the app or the test suite inside it, passing
any further arguments through:

    python3 tasks.py run                # the app on sample_docs/invoices, invoice fields
    python3 tasks.py run ~/contracts --preset contract   # the app on your own files
    python3 tasks.py test               # the whole test suite, on every core
    python3 tasks.py test -k chunking   # a part of it
    python3 tasks.py test -n 0          # in one process (pytest-xdist's own option)

The suite runs under pytest-xdist, one worker per core unless ``-n`` is given: most tests
wait on a subprocess or the loopback server rather than compute, so two workers on two
cores finished it in 470 s where one took 569 s (under the same load), with 48 more tests.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")


def _fail(message: str) -> None:
    print(f"tasks.py: {message}", file=sys.stderr)
    raise SystemExit(2)


# What each task installs: `test` installs the app with the test tools, so after it `run`
# has everything it needs and must not install again.
_COVERS = {"": ("", "dev"), "dev": ("dev",)}


def _spec_hash() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:16]


def _stamp(extra: str) -> Path:
    return VENV / f".installed-{extra or 'app'}-{_spec_hash()}"


def needs_install(extra: str) -> bool:
    """True unless an install that covers ``extra`` was made from this pyproject.toml."""
    return not any(_stamp(done).exists() for done in _COVERS[extra])


def mark_installed(extra: str) -> None:
    """Record a finished install of ``extra``, dropping stamps of older pyproject files."""
    for old in VENV.glob(f".installed-{extra or 'app'}-*"):
        old.unlink()
    _stamp(extra).touch()


def parallel(args: list[str]) -> list[str]:
    """``-n auto`` (a pytest-xdist worker per core) unless the caller chose ``-n`` itself or
    turned xdist off."""
    chosen = any(a == "-n" or a.startswith(("-n", "--numprocesses", "--dist")) for a in args)
    off = any(a in ("no:xdist", "-pno:xdist") for a in args)
    return [] if chosen or off else ["-n", "auto"]


def _ensure_venv(extra: str) -> None:
    if sys.version_info < (3, 11):
        _fail(f"Python 3.11 or newer is needed; this is {sys.version.split()[0]}")
    if not PYTHON.exists():
        print(f"creating {VENV} …", file=sys.stderr)
        try:
            venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
        except (OSError, subprocess.CalledProcessError) as exc:
            _fail(f"could not create a virtual environment ({exc}). On Debian or Ubuntu, "
                  "install the venv module first: sudo apt-get install python3-venv")
    if not needs_install(extra):
        return
    target = f".[{extra}]" if extra else "."
    print(f"installing extractor{f' with {extra} tools' if extra else ''} into .venv …",
          file=sys.stderr)
    code = subprocess.call([str(PYTHON), "-m", "pip", "install", "--quiet",
                            "--disable-pip-version-check", "-e", target], cwd=ROOT)
    if code != 0:
        _fail("pip install failed (see above); nothing was changed outside .venv")
    mark_installed(extra)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "test"}:
        print(__doc__, file=sys.stderr)
        return 2
    task, rest = argv[0], argv[1:]
    if task == "run":
        _ensure_venv("")
        # The app on the sample invoices with the invoice fields: one field set per session,
        # so the three kinds of sample documents are three sessions (see the README).
        samples = [str(ROOT / "sample_docs" / "invoices"), "--preset", "invoice"]
        command = [str(BIN / "extractor"), *(rest or samples)]
    else:
        _ensure_venv("dev")
        command = [str(PYTHON), "-m", "pytest", *parallel(rest), *rest]
    try:  # `run` keeps the caller's folder so relative paths mean what the user typed
        return subprocess.call(command, cwd=ROOT if task == "test" else None)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
