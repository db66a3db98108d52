"""How an endpoint is asked for JSON: the structured-output mode, negotiated per endpoint.

Servers that imitate OpenAI differ most in what they accept for structured output (checked
against each server's source and issues; ``tests/server_profiles.py`` imitates each one):

=================  ==========================================================================
``json_schema``    OpenAI strict ``response_format``. OpenAI, vLLM, llama-server, Ollama and
                   LM Studio take it; llama-cpp-python answers it with HTTP 500 ("Input
                   should be 'text' or 'json_object'").
``json_object``    ``{"type": "json_object", "schema": …}``: llama-cpp-python and llama-server
                   turn the ``schema`` into a grammar; LM Studio refuses the type (HTTP 400).
                   The schema is also written into the prompt, for servers that drop it.
``tools``          one function whose parameters are the schema, ``tool_choice`` naming it; the
                   answer is the call's arguments (or the content, where a server ignores
                   ``tool_choice``, as Ollama and llama-server do).
``prompt``         no ``response_format``: the schema and one example in the prompt only.
=================  ==========================================================================

``auto`` starts with ``json_schema`` and, when a server refuses a request with an error
that names the mode (any 4xx/5xx but 401, 403 and 429 whose message says
``response_format``, ``json_schema``, ``json_object``, ``tools`` or ``tool_choice``), moves
the endpoint to the next mode, once, and says so. The engine then sends the chunk again
without counting the refusal against the chunk's attempts: the server did not fail, the
request was of the wrong kind. Every answer is still parsed and validated the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from extractor_tui.errors import ProviderError, RateLimited

__all__ = [
    "MODES",
    "Mode",
    "ModeSwitch",
    "Negotiation",
    "StructuredOutput",
    "names_a_mode",
]


class Mode(StrEnum):
    """One way of asking for JSON, in the order ``auto`` tries them."""

    JSON_SCHEMA = "json_schema"
    JSON_OBJECT = "json_object"
    TOOLS = "tools"
    PROMPT = "prompt"


MODES: tuple[Mode, ...] = tuple(Mode)
StructuredOutput = Literal["auto", "json_schema", "json_object", "tools", "prompt"]

_HOW = {Mode.JSON_SCHEMA: "json_schema", Mode.JSON_OBJECT: "json_object with the schema",
        Mode.TOOLS: "tools with the schema as the function's parameters",
        Mode.PROMPT: "the schema in the prompt only"}
_NAMES = re.compile(r"(?<![a-z_])(response_format|json_schema|json_object|tool_choice|tools)"
                    r"(?![a-z_])", re.IGNORECASE)
_NOT_ABOUT_THE_REQUEST = frozenset({401, 403, 429})


def names_a_mode(error: ProviderError) -> bool:
    """Whether ``error`` is a server refusing the kind of structured output it was sent."""
    if isinstance(error, RateLimited) or error.status is None:
        return False
    if error.status < 400 or error.status in _NOT_ABOUT_THE_REQUEST:
        return False
    return _NAMES.search(error.message) is not None


@dataclass(frozen=True)
class ModeSwitch:
    """An endpoint moved from one mode to the next; ``message`` is said once to the user."""

    endpoint: str
    previous: Mode
    mode: Mode
    reason: str

    @property
    def message(self) -> str:
        return f"the server does not take {self.previous.value}; using {_HOW[self.mode]}"


class Negotiation:
    """The mode of one endpoint: fixed by the setting, or negotiated when it is ``auto``.

    ``start`` is the mode a previous run settled on (kept in the session), so a resumed
    run does not pay for the refusals again. ``on_switch`` hears each move, once.
    """

    def __init__(self, setting: StructuredOutput, endpoint: str, *,
                 start: str | None = None,
                 on_switch: Callable[[ModeSwitch], None] | None = None) -> None:
        self.setting = setting
        self.endpoint = endpoint
        self._on_switch = on_switch
        if setting != "auto":
            self._mode = Mode(setting)
        else:
            self._mode = Mode(start) if start in set(MODES) else Mode.JSON_SCHEMA

    @property
    def mode(self) -> Mode:
        return self._mode

    @property
    def negotiable(self) -> bool:
        return self.setting == "auto"

    def refused(self, sent: str, error: ProviderError) -> bool:
        """Whether a request sent in mode ``sent`` should simply be sent again in ``mode``.

        True when ``error`` names a structured-output mode and either another request
        already moved the endpoint on, or this one moves it now. False when the setting is
        fixed, when the error is about something else, or when no mode is left to try.
        """
        if not self.negotiable or not names_a_mode(error):
            return False
        if Mode(sent) != self._mode:
            return True  # moved on while this request was in flight: just resend it
        index = MODES.index(self._mode)
        if index + 1 >= len(MODES):
            return False
        previous, self._mode = self._mode, MODES[index + 1]
        if self._on_switch is not None:
            self._on_switch(ModeSwitch(self.endpoint, previous, self._mode, error.message))
        return True
