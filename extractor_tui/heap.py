"""Keep the garbage collector's full passes short in the long-lived front ends.

A full (generation 2) collection walks every tracked object, and a started app holds about
110,000 of them from its imports alone (Textual, rich, pydantic, openai): one full pass took
180 ms on this machine, landing inside whichever frame or request it hit, so a run view
that flushes in 13 ms froze for 345 ms now and then (``bench/tui.py``). Those objects live
as long as the process, so once the front end is set up they are moved out of the
collector's sight with ``gc.freeze()`` (the collector's own remedy, made for this). Objects
made afterwards (documents, rows, events) are collected as before.

The app builds as much again to draw its first screen (widgets, their styles, the rows on
screen: about 44,000 objects, a full pass of 30-65 ms that landed in a tab switch every
few switches, ``bench/scale.py`` app), and those live as long as it does too, so they are
frozen once that screen is drawn (``freeze``), without a full pass first: that pass would
be the very stall avoided, and the little garbage it would have found is kept once.
"""

from __future__ import annotations

import gc

__all__ = ["freeze", "settle"]


def settle() -> None:
    """Collect what setting up left behind, then freeze the survivors out of later passes."""
    gc.collect()
    gc.freeze()


def freeze() -> None:
    """Freeze what exists now out of later passes, without collecting first."""
    gc.freeze()
