"""Keep the garbage collector's full passes short in the long-lived front ends.

A full (generation 2) collection walks every tracked object, and a started app holds about
110,000 of them from its imports alone (Textual, rich, pydantic, openai): one full pass took
180 ms on this machine, landing inside whichever frame or request it hit, so a run view
that flushes in 13 ms froze for 345 ms now and then (``bench/tui.py``). Those objects live
as long as the process, so once the front end is set up they are moved out of the
collector's sight with ``gc.freeze()`` (the collector's own remedy, made for this). Objects
made afterwards (documents, rows, events) are collected as before, until ``keep``.

The app builds as much again to draw its first screen (widgets, their styles, the rows on
screen: about 44,000 objects, a full pass of 30-65 ms that landed in a tab switch every
few switches, ``bench/scale.py`` app), and those live as long as it does too, so they are
frozen once that screen is drawn (``freeze``), without a full pass first: that pass would
be the very stall avoided, and the little garbage it would have found is kept once.

A long run builds more that lives as long: every chunk's outcome, the tracker's rows, the
session's reads, and at its end the merged results and the report. Past a few thousand
documents the full passes came back, each walking all of it: a 10,000-document ``extractor
run`` made 30 full passes of 165-276 ms (``bench/scale.py``), on the event loop wherever
they landed. ``keep`` freezes what exists now, after a pass over the young generations only
(so garbage with reference cycles made since is still freed, and no full pass is paid). The
price: a frozen object that later becomes part of an unreachable cycle is not freed until
the process ends; what is frozen is data that lives that long anyway.
"""

from __future__ import annotations

import gc

__all__ = ["KEEP_EVERY", "freeze", "keep", "settle"]

_settled = False


def settle() -> None:
    """Collect what setting up left behind, then freeze the survivors out of later passes."""
    global _settled
    gc.collect()
    gc.freeze()
    _settled = True


def freeze() -> None:
    """Freeze what exists now out of later passes, without collecting first."""
    gc.freeze()


KEEP_EVERY = 2000
"""Events of a run between two ``keep``-s: the young generations it collects stay small."""


def keep() -> None:
    """Freeze what a long run has built so far, out of later full passes; only in a front
    end that ``settle``-d (a library user's heap is left as it is)."""
    if not _settled:
        return
    gc.collect(1)
    gc.freeze()
