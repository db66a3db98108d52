"""The JSON of merged results, written and read by pydantic from the types themselves.

A field's result leaves the process twice: in the JSON report and in the session's
``results`` table. Both used hand-written ``to_dict``/``from_dict`` methods that had to be
kept in step with the dataclasses; here one ``TypeAdapter`` over ``model.FieldResult`` (and
the ``Source`` and ``Candidate`` values inside it) writes and reads them, so a field added to
the type is in the JSON at once. Reading is lenient where older versions wrote less: a key
that is missing takes the type's default, a key that is unknown is ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import pydantic

from extractor_tui.core.model import FieldResult

__all__ = ["result_from_json", "result_json", "warm"]


@cache
def _adapter() -> pydantic.TypeAdapter[FieldResult]:
    return pydantic.TypeAdapter(FieldResult)  # built on first use: ~20 ms


def warm() -> None:
    """Build the serialiser now (pydantic makes it on first use, 50-80 ms): see
    ``report.warm``."""
    _adapter()


def result_json(result: FieldResult) -> dict[str, Any]:
    """``result`` as JSON-ready data: tuples as lists, keys in the dataclass's order."""
    data: dict[str, Any] = _adapter().dump_python(result, mode="json")
    return data


def result_from_json(data: Mapping[str, Any]) -> FieldResult:
    """A ``FieldResult`` from what ``result_json`` wrote (or an older version did)."""
    return _adapter().validate_python(data)
