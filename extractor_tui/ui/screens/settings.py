"""Settings: provider, endpoint, model and key; structured output; concurrency, chunk sizes,
timeout, retries; the cost cap; the verify stage and each stage's sampling
(``stage_form.py``).

The form is checked by the ``Settings`` class itself (the same pydantic rules as flags, env
and the config file), on every keystroke, with each message under its own field; Apply is
refused while anything is invalid. The API key is masked, and when it came from the
environment the form says which variable. "Test connection" makes one small call (the
model list) with the values on screen, before they are applied.
"""

from __future__ import annotations

import os
import re
from typing import Any, ClassVar

from pydantic import ValidationError
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.widgets import Button, Input, Label, Select, Static

from extractor_tui.config import Settings
from extractor_tui.ui.controller import Controller
from extractor_tui.ui.screens.stage_form import (
    compose_stages,
    fill_stages,
    read_stages,
    stage_ids,
    stage_problems,
)

__all__ = ["FORM", "WORDS", "SettingsView", "form_problems", "key_source"]

FORM: tuple[tuple[str, str, str], ...] = (
    ("base_url", "Base URL", "text"),
    ("model", "Model", "text"),
    ("api_key", "API key", "password"),
    ("concurrency", "Concurrency (1–100)", "integer"),
    ("chunk_tokens", "Chunk tokens", "integer"),
    ("overlap_tokens", "Overlap tokens", "integer"),
    ("timeout_s", "Timeout (seconds)", "number"),
    ("retries", "Retries (attempts)", "integer"),
    ("max_cost_usd", "Cost cap (USD)", "number"),
)
"""(setting, label, input type) of every text field, in form order."""

PROVIDERS = (("auto: offline unless a key or base URL is set", "auto"),
             ("OpenAI-compatible endpoint", "openai"),
             ("offline: built-in heuristic, no LLM", "offline"))
STRUCTURED = (("auto: json_schema, then what the server takes", "auto"),
              ("json_schema (strict response_format)", "json_schema"),
              ("json_object + the schema", "json_object"),
              ("tools: one forced function", "tools"),
              ("prompt: the schema in the prompt only", "prompt"))
SELECTS = ("provider", "structured_output")
_OPTIONAL = ("base_url", "api_key", "max_cost_usd")  # empty means none
KEY_VARIABLES = ("EXTRACTOR_API_KEY", "OPENAI_API_KEY")


def key_source(key: str | None) -> str | None:
    """The environment variable the key came from, if it did."""
    return next((name for name in KEY_VARIABLES if key and os.environ.get(name) == key), None)


WORDS: dict[str, str] = {
    "concurrency": "Concurrency must be a whole number from 1 to 100",
    "chunk_tokens": "Chunk tokens must be a whole number from 16 to 200000",
    "overlap_tokens": "Overlap tokens must be a whole number from 0 to half the chunk tokens",
    "timeout_s": "Timeout must be a number of seconds above 0, at most 3600",
    "retries": "Retries must be a whole number from 1 to 20",
    "base_url": "Base URL must start with http:// or https://",
    "max_cost_usd": "Cost cap must be an amount in USD above 0, or empty for none",
}
"""What to say about a value the form refuses, in the words of the form, not pydantic's."""
_WHOLE = re.compile(r"[0-9]+")
_NUMBER = re.compile(r"[0-9]+(\.[0-9]*)?|\.[0-9]+")
_URL = re.compile(r"https?://[^\s/?#]+\S*", re.IGNORECASE)


def form_problems(form: dict[str, Any]) -> dict[str, str]:
    """Values the form refuses before the settings see them: ``5.5`` for a whole number
    (an ``integer`` input would have dropped the dot and read 55), a base URL that is not
    one (``notaurl``)."""
    problems: dict[str, str] = {}
    for name, _, kind in FORM:
        text = form.get(name)
        if not isinstance(text, str) or not text:
            continue
        if (kind == "integer" and not _WHOLE.fullmatch(text)) or (
                kind == "number" and not _NUMBER.fullmatch(text)):
            problems[name] = WORDS[name]
    url = form.get("base_url")
    if isinstance(url, str) and url and not _URL.fullmatch(url):
        problems["base_url"] = WORDS["base_url"]
    return problems


def settings_problems(exc: ValidationError) -> dict[str, str]:
    """Setting name → message; a whole-model rule (overlap vs chunk) lands on overlap."""
    problems: dict[str, str] = {}
    for error in exc.errors():
        if not error["loc"]:  # the one rule between two fields, worded with both values
            problems.setdefault("overlap_tokens", str(error["msg"]).removeprefix(
                "Value error, ").replace("overlap_tokens", "Overlap tokens").replace(
                "chunk_tokens", "chunk tokens"))
            continue
        name = str(error["loc"][0])
        problems.setdefault(name, WORDS.get(name) or str(error["msg"]))
    return problems


class SettingsView(VerticalScroll):
    """The form, its per-field messages, Apply and Test connection."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "apply", "Apply settings"),
        Binding("ctrl+t", "test_connection", "Test connection"),
    ]
    DEFAULT_CSS = """
    SettingsView { padding: 1 1 0 1; }
    SettingsView Grid { grid-size: 3; grid-columns: 22 60 1fr; grid-rows: 1;
                        height: auto; grid-gutter: 1 2; }
    SettingsView Grid .problem { color: $error; }
    SettingsView #settings-buttons { height: 3; margin-top: 1; }
    SettingsView #settings-buttons Button { margin-right: 2; }
    SettingsView #settings-note { color: $text-muted; margin-top: 1; }
    """

    def __init__(self, controller: Controller, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.controller = controller
        self._dirty = False

    def compose(self) -> ComposeResult:
        with Grid():
            yield Label("Provider")
            yield Select(PROVIDERS, allow_blank=False, id="provider", compact=True)
            yield Static("", id="problem-provider", classes="problem")
            yield Label("Structured output")
            yield Select(STRUCTURED, allow_blank=False, id="structured_output", compact=True)
            yield Static("", id="problem-structured_output", classes="problem")
            for name, label, kind in FORM:
                yield Label(label)
                # Every input takes text as typed; form_problems says what is wrong with it.
                yield Input(id=name, password=kind == "password", compact=True)
                yield Static("", id=f"problem-{name}", classes="problem")
            yield from compose_stages()
        with Horizontal(id="settings-buttons"):
            yield Button("Apply (Ctrl+S)", id="apply", variant="primary")
            yield Button("Test connection (Ctrl+T)", id="test")
            yield Button("Revert", id="revert")
        yield Static("", id="settings-note")

    def on_mount(self) -> None:
        self.reload()

    def reload(self, force: bool = False) -> None:
        """Fill the form from the settings in use (unless the user is mid-edit)."""
        if self._dirty and not force:
            return
        settings = self.controller.settings
        key = settings.api_key.get_secret_value() if settings.api_key else ""
        values: dict[str, Any] = {name: getattr(settings, name) for name, _, _ in FORM}
        values["api_key"] = key
        for name in SELECTS:
            self.query_one(f"#{name}", Select).value = getattr(settings, name)
        for name, value in values.items():
            self.query_one(f"#{name}", Input).value = "" if value is None else str(value)
        fill_stages(self, settings)
        self._check()

    def _form(self) -> tuple[dict[str, Any], dict[str, str]]:
        data: dict[str, Any] = self.controller.settings.model_dump()
        for name in SELECTS:
            data[name] = self.query_one(f"#{name}", Select).value
        for name, _, _ in FORM:
            text = self.query_one(f"#{name}", Input).value.strip()
            data[name] = text or None if name in _OPTIONAL else text
        return data, read_stages(self, data)

    def _check(self) -> Settings | None:
        """The form as Settings, or None after showing each problem under its field."""
        settings: Settings | None = None
        form, stage_text = self._form()
        problems = {**form_problems(form), **stage_text}
        try:
            checked = Settings(**form)
        except ValidationError as exc:
            problems = {**settings_problems(exc), **stage_problems(exc), **problems}
        else:
            settings = None if problems else checked
        for name in (*SELECTS, *(n for n, _, _ in FORM), *stage_ids()):
            self.query_one(f"#problem-{name}", Static).update(Text(problems.get(name, "")))
        self.query_one("#apply", Button).disabled = settings is None
        self._dirty = settings != self.controller.settings
        self._note(settings)
        return settings

    def _note(self, settings: Settings | None) -> None:
        key = self.query_one("#api_key", Input).value.strip()
        source = key_source(key)
        parts = []
        if source:
            parts.append(f"The API key comes from ${source}.")
        if settings is not None and settings.resolved_provider == "offline":
            parts.append("With no API key and no base URL the offline provider is used: a "
                         "built-in heuristic, not an LLM.")
        parts.append("The key is never written to sessions, logs or exports.")
        if self._dirty:
            parts.append("Not applied yet.")
        self.query_one("#settings-note", Static).update(Text(" ".join(parts)))

    def on_input_changed(self) -> None:
        self._check()

    def on_select_changed(self) -> None:
        self._check()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "apply":
            self.action_apply()
        elif event.button.id == "test":
            self.action_test_connection()
        elif event.button.id == "revert":
            self.reload(force=True)

    def action_apply(self) -> None:
        settings = self._check()
        if settings is None:
            self.app.notify("Fix the settings marked in red first.", severity="warning")
            return
        if self.controller.apply(settings=settings):
            self.app.notify("Settings applied.")

    def action_test_connection(self) -> None:
        settings = self._check()
        if settings is not None:
            self.controller.test_connection(settings)
