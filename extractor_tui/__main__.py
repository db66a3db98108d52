"""``python -m extractor_tui`` is the same as the ``extractor`` console script."""

from __future__ import annotations

import sys

from extractor_tui.entry import main

if __name__ == "__main__":
    sys.exit(main())
