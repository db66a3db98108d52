"""The exit codes of ``extractor``, in one place: the README lists them and scripts rely on
them (``tests/test_readme.py`` checks the two agree).

==  =========================================================================================
0   every document complete (``extractor run``), or nothing went wrong
1   results were written, but some document, chunk or field failed
2   nothing could run: a usage error, no readable document, a fatal provider error before
    any result, a busy session
70  a bug (a crash log says where)
130 interrupted (Ctrl-C); what finished is written first
143 terminated (SIGTERM); what finished is written first
==  =========================================================================================
"""

from __future__ import annotations

__all__ = ["EXIT_INTERNAL", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_PARTIAL", "EXIT_TERMINATED",
           "EXIT_USAGE"]

EXIT_OK = 0
EXIT_PARTIAL = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 70  # EX_SOFTWARE in sysexits.h
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_TERMINATED = 143  # 128 + SIGTERM, as a shell reports a process that SIGTERM ended
