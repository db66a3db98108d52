"""The stages part of the Settings form: the verify switch, its model, each stage's sampling
and answer cap.

The same settings as the config file's ``[stages.extract]`` and ``[stages.verify]`` tables
(checked by the same ``Settings`` class), laid out as rows of the Settings grid. Widget ids
are ``stage-<stage>-<key>`` (a dot is not allowed in an id); an empty input means unset:
the server's default for sampling, the extract model for the verify model. The extract
stage's answer cap is the top-level ``max_output_tokens`` (``[stages.extract] max_tokens``
in the config file reads as it), so its row writes that setting.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError
from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Static

from extractor_tui.config import Settings

__all__ = ["STAGE_FORM", "VERIFY_SWITCH", "compose_stages", "fill_stages", "read_stages",
           "stage_ids", "stage_problems"]

VERIFY_SWITCH = (("off: extract only", False), ("on: check every document after extraction",
                                                 True))

STAGE_FORM: tuple[tuple[str, str, str, str], ...] = (
    ("verify", "model", "Verify model", "text"),
    ("extract", "temperature", "Extract temperature", "number"),
    ("extract", "top_p", "Extract top_p", "number"),
    ("extract", "seed", "Extract seed", "integer"),
    ("extract", "max_tokens", "Extract max tokens", "integer"),
    ("verify", "temperature", "Verify temperature", "number"),
    ("verify", "top_p", "Verify top_p", "number"),
    ("verify", "seed", "Verify seed", "integer"),
    ("verify", "max_tokens", "Verify max tokens", "integer"),
)
"""(stage, setting, label, input type) of every stage input, in form order."""
_TOP_LEVEL = {("extract", "max_tokens"): "max_output_tokens"}
"""Stage inputs whose setting is a top-level one."""

_WORDS = {"temperature": "must be a number from 0 to 2, or empty",
          "top_p": "must be a number above 0 and at most 1, or empty",
          "seed": "must be a whole number, or empty",
          "max_tokens": "must be a whole number of at least 16, or empty",
          "model": "must be a model name, or empty for the extract model"}
"""Short enough to be read whole in the problem column (72 cells at 160 columns); what
empty means is the input's placeholder."""
_EMPTY = {"model": "unset: the extract model", "seed": "unset: none sent",
          "max_tokens": "unset: what the fields need"}
"""What an empty input means, its placeholder (a sampling value: the server's default)."""
_WHOLE = re.compile(r"-?[0-9]+")
_NUMBER = re.compile(r"[0-9]+(\.[0-9]*)?|\.[0-9]+")


def stage_ids() -> list[str]:
    """Every input's id, the verify switch's first."""
    return ["stage-verify-enabled", *(f"stage-{stage}-{key}" for stage, key, _, _ in STAGE_FORM)]


def compose_stages() -> ComposeResult:
    """The rows: label, input, problem (three cells each, as the Settings grid has)."""
    yield Label("Verify stage")
    yield Select(VERIFY_SWITCH, allow_blank=False, id="stage-verify-enabled", compact=True)
    yield Static("", id="problem-stage-verify-enabled", classes="problem")
    for stage, key, label, _ in STAGE_FORM:
        yield Label(label)
        yield Input(id=f"stage-{stage}-{key}", compact=True,
                    placeholder=_EMPTY.get(key, "unset: the server's default"))
        yield Static("", id=f"problem-stage-{stage}-{key}", classes="problem")


def fill_stages(view: Widget, settings: Settings) -> None:
    view.query_one("#stage-verify-enabled", Select).value = settings.stages.verify.enabled
    for stage, key, _, _ in STAGE_FORM:
        top = _TOP_LEVEL.get((stage, key))
        value = (getattr(settings, top) if top is not None
                 else getattr(getattr(settings.stages, stage), key))
        view.query_one(f"#stage-{stage}-{key}", Input).value = "" if value is None else str(value)


def read_stages(view: Widget, data: dict[str, Any]) -> dict[str, str]:
    """Put the stage inputs into ``data["stages"]`` (a ``model_dump``); the problems of
    text that is not a number where one is wanted, by input id."""
    stages = data.setdefault("stages", {})
    stages.setdefault("verify", {})["enabled"] = bool(
        view.query_one("#stage-verify-enabled", Select).value)
    problems: dict[str, str] = {}
    for stage, key, label, kind in STAGE_FORM:
        text = view.query_one(f"#stage-{stage}-{key}", Input).value.strip()
        top = _TOP_LEVEL.get((stage, key))
        if top is not None:
            data[top] = text or None
        else:
            stages.setdefault(stage, {})[key] = text or None
        if text and ((kind == "integer" and not _WHOLE.fullmatch(text))
                     or (kind == "number" and not _NUMBER.fullmatch(text))):
            problems[f"stage-{stage}-{key}"] = f"{label} {_WORDS[key]}"
    return problems


def stage_problems(exc: ValidationError) -> dict[str, str]:
    """The settings' refusals of stage values, by input id, in the form's words."""
    problems: dict[str, str] = {}
    labels = {(stage, key): label for stage, key, label, _ in STAGE_FORM}
    top_level = {top: place for place, top in _TOP_LEVEL.items()}
    for error in exc.errors():
        loc = tuple(str(part) for part in error["loc"])
        if loc and loc[0] in top_level:
            loc = ("stages", *top_level[loc[0]])
        if len(loc) >= 3 and loc[0] == "stages" and (loc[1], loc[2]) in labels:
            problems.setdefault(f"stage-{loc[1]}-{loc[2]}",
                                f"{labels[(loc[1], loc[2])]} {_WORDS[loc[2]]}")
    return problems
