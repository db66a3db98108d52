"""How real OpenAI-compatible servers take and refuse structured output, for the loopback.

Each ``Profile`` imitates one server: which ``response_format`` types and ``tools`` it
accepts, which schema it constrains the answer with, how it answers a forced tool call, and
how it refuses what it does not take, with the status code and the error body it really
sends. Read from each server's own source and issues (cited per profile), and for
llama-cpp-python checked against the real server (``bench/real_server.py``).

Standard library only, like ``loopback.py``, which imports it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["PROFILES", "Profile", "Refusal", "prompt_schema"]

ToolAnswer = Literal["call", "content"]


@dataclass(frozen=True)
class Refusal:
    """An HTTP error a server sends instead of an answer."""

    status: int
    body: Any

    def payload(self) -> bytes:
        return json.dumps(self.body).encode()


@dataclass(frozen=True)
class Profile:
    """One server's structured-output behaviour.

    ``refuse(body)`` is the error the server sends for this request, or None. ``schema(body)``
    is the JSON schema the server constrains the answer with (None: the model only has the
    prompt). ``tools`` says what a forced tool call gets: a ``call`` (the arguments in
    ``tool_calls``, finish reason ``tool_finish``) or plain ``content`` (the server ignores
    ``tool_choice`` and the model answers in text). ``cut_tool_finish`` is what a tool call
    cut at the cap reports (llama-cpp-python: still "tool_calls").
    """

    name: str
    source: str
    refuse: Callable[[Mapping[str, Any]], Refusal | None]
    schema: Callable[[Mapping[str, Any]], Mapping[str, Any] | None]
    tools: ToolAnswer
    tool_finish: str = "tool_calls"
    cut_tool_finish: str = "length"  # the finish reason of a tool call cut at max_tokens


# --------------------------------------------------------------------------- helpers


def _format(body: Mapping[str, Any]) -> Mapping[str, Any]:
    fmt = body.get("response_format")
    return fmt if isinstance(fmt, Mapping) else {}


def _type(body: Mapping[str, Any]) -> str | None:
    kind = _format(body).get("type")
    return kind if isinstance(kind, str) else None


def _json_schema(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    inner = _format(body).get("json_schema")
    schema = inner.get("schema") if isinstance(inner, Mapping) else None
    return schema if isinstance(schema, Mapping) else None


def _object_schema(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    schema = _format(body).get("schema")
    return schema if isinstance(schema, Mapping) else None


def _tool_schema(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    tools = body.get("tools")
    if isinstance(tools, list) and tools and isinstance(tools[0], Mapping):
        params = tools[0].get("function", {}).get("parameters")
        return params if isinstance(params, Mapping) else None
    return None


def _named_choice(body: Mapping[str, Any]) -> bool:
    return isinstance(body.get("tool_choice"), Mapping)


_FENCED = re.compile(r"```json\n(.*?)\n```", re.DOTALL)


def prompt_schema(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The JSON Schema written in the request's messages, if any: what a model that follows
    its prompt (and nothing constrains) answers to."""
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, Mapping) else None
        for block in _FENCED.findall(content if isinstance(content, str) else ""):
            try:
                schema = json.loads(block)
            except ValueError:
                continue
            if isinstance(schema, dict) and schema.get("type") == "object" and "$defs" in schema:
                return schema
    return None


def _openai_error(message: str, param: str | None, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "param": param,
                      "code": code}}


# --------------------------------------------------------------------------- OpenAI

_REASONING = re.compile(r"^(o[1-9]|gpt-5)", re.IGNORECASE)


def _strict_problem(schema: Any, where: str = "()") -> str | None:
    """What OpenAI's strict mode says about ``schema``: every object closed, every property
    required (its words: "Invalid schema for response_format ...")."""
    if isinstance(schema, Mapping):
        if schema.get("type") == "object":
            if schema.get("additionalProperties") is not False:
                return (f"In context={where}, 'additionalProperties' is required to be "
                        "supplied and to be false.")
            props = schema.get("properties", {})
            missing = [name for name in props if name not in schema.get("required", [])]
            if missing:
                return (f"In context={where}, 'required' is required to be supplied and to be "
                        f"an array including every key in properties. Missing '{missing[0]}'.")
        for key, sub in schema.items():
            if isinstance(sub, (Mapping, list)):
                problem = _strict_problem(sub, f"{where[:-1]}'{key}')" if where != "()"
                                          else f"('{key}')")
                if problem:
                    return problem
    elif isinstance(schema, list):
        for sub in schema:
            if problem := _strict_problem(sub, where):
                return problem
    return None


def _openai_refuse(body: Mapping[str, Any]) -> Refusal | None:
    model = str(body.get("model", ""))
    if _REASONING.match(model) and "max_tokens" in body:
        return Refusal(400, _openai_error(
            "Unsupported parameter: 'max_tokens' is not supported with this model. Use "
            "'max_completion_tokens' instead.", "max_tokens", "unsupported_parameter"))
    kind = _type(body)
    if kind == "json_schema":
        inner = _format(body).get("json_schema") or {}
        if inner.get("strict") and (problem := _strict_problem(inner.get("schema"))):
            return Refusal(400, _openai_error(
                f"Invalid schema for response_format '{inner.get('name')}': {problem}",
                "response_format", "invalid_json_schema"))
    if kind == "json_object":
        text = json.dumps(body.get("messages") or [])
        if "json" not in text.lower():
            return Refusal(400, _openai_error(
                "'messages' must contain the word 'json' in some form, to use "
                "'response_format' of type 'json_object'.", "messages", None))
    if kind not in (None, "text", "json_object", "json_schema"):
        return Refusal(400, _openai_error(
            f"Invalid value: '{kind}'. Supported values are: 'json_object', 'json_schema', "
            "and 'text'.", "response_format.type", "invalid_value"))
    return None


def _constrained(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """OpenAI and vLLM: json_schema and a forced tool call are constrained decoding."""
    if _type(body) == "json_schema":
        return _json_schema(body)
    if _named_choice(body):
        return _tool_schema(body)
    return None


OPENAI = Profile(
    "openai",
    "platform.openai.com/docs/guides/structured-outputs; reasoning models' 400 for max_tokens "
    "as quoted in github.com/IBM/chuk-llm/issues/3 and openhab/openhab-addons#21459",
    _openai_refuse, _constrained, "call", tool_finish="stop")

# --------------------------------------------------------------------------- vLLM


def _vllm_refuse(body: Mapping[str, Any]) -> Refusal | None:
    kind = _type(body)
    if kind not in (None, "text", "json_object", "json_schema", "structural_tag"):
        return Refusal(400, {"error": {
            "message": f"1 validation error for ChatCompletionRequest\nresponse_format.type\n  "
                       f"Input should be 'text', 'json_object', 'json_schema' or "
                       f"'structural_tag' [type=literal_error, input_value='{kind}']",
            "type": "BadRequestError", "param": None, "code": 400}})
    if body.get("tools") and body.get("tool_choice") in (None, "auto"):
        return Refusal(400, {"error": {
            "message": '"auto" tool choice requires --enable-auto-tool-choice and '
                       "--tool-call-parser to be set", "type": "BadRequestError",
            "param": None, "code": 400}})
    return None


VLLM = Profile(
    "vllm",
    "vllm-project/vllm vllm/entrypoints/openai/engine/protocol.py (ErrorInfo: message, type, "
    "param, code=int); docs.vllm.ai/en/latest/features/tool_calling (named function calling "
    "by default, 'auto' needs --enable-auto-tool-choice)",
    _vllm_refuse, _constrained, "call", tool_finish="stop")

# --------------------------------------------------------------------------- llama.cpp


def _llama_server_error(message: str) -> dict[str, Any]:
    return {"error": {"code": 500, "message": message, "type": "server_error"}}


def _llama_server_refuse(body: Mapping[str, Any], *, json_schema: bool,
                         jinja: bool) -> Refusal | None:
    kind = _type(body)
    accepted = ("text", "json_object", "json_schema") if json_schema else ("text", "json_object")
    if kind is not None and kind not in accepted:
        return Refusal(500, _llama_server_error(
            f'response_format type must be one of "text" or "json_object", but got: {kind}'))
    if body.get("tools") and not jinja:
        return Refusal(500, _llama_server_error("tools param requires --jinja flag"))
    if body.get("tool_choice") is not None and not jinja:
        return Refusal(500, _llama_server_error("Unsupported param: tool_choice"))
    return None


def _llama_server_schema(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    if _type(body) == "json_object":
        return _object_schema(body)
    if _type(body) == "json_schema":
        return _json_schema(body)
    return None


LLAMA_SERVER = Profile(
    "llama-server",
    "ggml-org/llama.cpp tools/server/server-common.cpp oaicompat_chat_params_parse "
    "(json_object reads 'schema', json_schema reads 'json_schema.schema'; tool_choice read "
    "as a string, an object falls back to 'auto'); format_error_response",
    lambda body: _llama_server_refuse(body, json_schema=True, jinja=True),
    _llama_server_schema, "content")

LLAMA_SERVER_2024 = Profile(
    "llama-server-2024",
    "llama.cpp before ggml-org/llama.cpp#9527 and without --jinja: 500 'response_format type "
    "must be one of \"text\" or \"json_object\"' (ikawrakow/ik_llama.cpp#778 quotes it) and "
    "500 'tools param requires --jinja flag'",
    lambda body: _llama_server_refuse(body, json_schema=False, jinja=False),
    _llama_server_schema, "content")


def _llama_cpp_python_refuse(body: Mapping[str, Any]) -> Refusal | None:
    kind = _type(body)
    if kind is not None and kind not in ("text", "json_object"):
        # A pydantic validation error raised inside the route, which RouteErrorHandler turns
        # into a 500 with str(error) as the message (llama_cpp/server/errors.py).
        # Word for word what llama-cpp-python 0.3.36 sent (bench/real_server.py).
        message = ("1 validation error:\n  {'type': 'literal_error', 'loc': ('body', "
                   "'response_format', 'type'), 'msg': \"Input should be 'text' or "
                   f"'json_object'\", 'input': '{kind}', 'ctx': {{'expected': \"'text' or "
                   "'json_object'\"}}}\n\n  File \"llama_cpp/server/app.py\", line 376, in "
                   "create_chat_completion\n    POST /v1/chat/completions")
        return Refusal(500, {"error": {"message": message, "type": "internal_server_error",
                                       "param": None, "code": None}})
    return None


def _llama_cpp_python_schema(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    if _type(body) == "json_object":
        return _object_schema(body)
    if _named_choice(body):
        return _tool_schema(body)
    return None


LLAMA_CPP_PYTHON = Profile(
    "llama-cpp-python",
    "abetlen/llama-cpp-python llama_cpp/llama_types.py (ChatCompletionRequestResponseFormat: "
    "type 'text' | 'json_object', optional 'schema'), llama_cpp/server/errors.py "
    "(RouteErrorHandler: any exception -> 500 internal_server_error), llama_chat_format.py "
    "(a named tool_choice -> grammar from its parameters, finish_reason 'tool_calls'); checked "
    "against the real server 0.3.36 with SmolLM2 (bench/real_server.py): the 500's message "
    "word for word, json_object + schema constrained, a forced call cut at max_tokens still "
    "'tool_calls' with completion_tokens == max_tokens",
    _llama_cpp_python_refuse, _llama_cpp_python_schema, "call", tool_finish="tool_calls",
    cut_tool_finish="tool_calls")

# --------------------------------------------------------------------------- Ollama


def _ollama_refuse(body: Mapping[str, Any]) -> Refusal | None:
    if body.get("tools"):
        model = str(body.get("model", ""))
        return Refusal(400, {"error": {
            "message": f"registry.ollama.ai/library/{model}:latest does not support tools",
            "type": "invalid_request_error", "param": None, "code": None}})
    return None


def _ollama_schema(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    # json_object becomes format "json" (any JSON, no schema); json_schema its schema.
    return _json_schema(body) if _type(body) == "json_schema" else None


OLLAMA = Profile(
    "ollama",
    "ollama/ollama openai/openai.go (ResponseFormat: json_object -> format 'json', "
    "json_schema -> its schema; no tool_choice field; NewError 400 invalid_request_error), "
    "server/routes.go handleScheduleError ('<model> does not support tools', 400)",
    _ollama_refuse, _ollama_schema, "content")

# --------------------------------------------------------------------------- LM Studio


def _lmstudio_refuse(body: Mapping[str, Any]) -> Refusal | None:
    kind = _type(body)
    if kind is not None and kind not in ("json_schema", "text"):
        return Refusal(400, {"error": "'response_format.type' must be 'json_schema' or 'text'"})
    return None


LMSTUDIO = Profile(
    "lmstudio",
    "lmstudio-ai/lmstudio-bug-tracker#189, #307, willmiao/ComfyUI-Lora-Manager#1033 (400 "
    "{\"error\": \"'response_format.type' must be 'json_schema' or 'text'\"}, a bare string); "
    "lmstudio.ai/docs/developer (structured output, tool calling)",
    _lmstudio_refuse, _constrained, "call", tool_finish="tool_calls")

# --------------------------------------------------------------------------- text only


def _text_only_refuse(body: Mapping[str, Any]) -> Refusal | None:
    if _type(body) not in (None, "text"):
        return Refusal(400, _openai_error("response_format is not supported by this server",
                                          "response_format", None))
    if body.get("tools") or body.get("tool_choice") is not None:
        return Refusal(400, _openai_error("tools are not supported by this server", "tools",
                                          None))
    return None


TEXT_ONLY = Profile(
    "text-only",
    "no real server: one that takes neither response_format nor tools, so auto walks every "
    "mode down to prompt",
    _text_only_refuse, lambda body: None, "content")

PROFILES: dict[str, Profile] = {profile.name: profile for profile in (
    OPENAI, VLLM, LLAMA_SERVER, LLAMA_SERVER_2024, LLAMA_CPP_PYTHON, OLLAMA, LMSTUDIO,
    TEXT_ONLY)}
