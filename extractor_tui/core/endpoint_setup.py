"""The config file's ``[[endpoints]]`` turned into what the engine takes.

Kept apart from ``job.py`` because it is the one place where settings meet keys: each
endpoint's key is read from the environment variable its ``api_key_env`` names, at the
moment its client is built, and goes nowhere but into that client (which registers it for
redaction, so a server that echoes it cannot put it on screen, in the session or in a log).
A variable that is not set is an error before anything is sent, naming the endpoint and
the variable, but never repeating a value that looks like a key pasted where a name belongs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping

from extractor_tui.config import EndpointSettings, Settings
from extractor_tui.core._session_schema import redact_url
from extractor_tui.core.dispatch import GateConfig
from extractor_tui.core.endpoints import EndpointSpec
from extractor_tui.core.llm.base import Client
from extractor_tui.errors import ConfigError

__all__ = ["endpoint_specs"]

_PLAIN_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,63}")


def endpoint_specs(settings: Settings, *, modes: Mapping[str, str],
                   wrap: Callable[[Client], Client],
                   environ: Mapping[str, str] | None = None) -> list[EndpointSpec]:
    """One ``EndpointSpec`` per ``[[endpoints]]`` table, in the file's order.

    ``modes`` is the structured-output mode each endpoint settled on in an earlier run, by
    URL (the session's); ``wrap`` wraps each client (the session's cache).
    """
    env = os.environ if environ is None else environ
    return [_spec(settings, endpoint, _key(endpoint, env), modes, wrap)
            for endpoint in settings.endpoints]


def _key(endpoint: EndpointSettings, env: Mapping[str, str]) -> str | None:
    if endpoint.api_key_env is None:
        return None
    key = env.get(endpoint.api_key_env)
    if key:
        return key
    name = endpoint.api_key_env
    said = (f"the environment variable {name}" if _PLAIN_NAME.fullmatch(name)
            else "the environment variable its api_key_env names (is a key written there? "
                 "it belongs in the environment)")
    raise ConfigError(f"endpoint {endpoint.name}: {said} is not set")


def _spec(settings: Settings, endpoint: EndpointSettings, key: str | None,
          modes: Mapping[str, str], wrap: Callable[[Client], Client]) -> EndpointSpec:
    # Imported here, as make_client does: the SDK takes 0.7 s to import, which the offline
    # provider (the app's first start) never needs.
    from extractor_tui.core.llm.openai_client import OpenAIClient
    client = OpenAIClient(base_url=endpoint.base_url, api_key=key,
                          timeout=settings.timeout_s,
                          max_body_bytes=settings.max_response_bytes)
    gate = GateConfig(maximum=endpoint.concurrency or settings.concurrency, rpm=endpoint.rpm,
                      tpm=endpoint.tpm)
    return EndpointSpec(endpoint.name, wrap(client), endpoint.models, endpoint.weight, gate,
                        endpoint.structured_output or settings.structured_output,
                        modes.get(redact_url(client.endpoint)))
