"""Settings: one pydantic-settings class, layered defaults < config file < env < flags.

Why one class: the TUI, ``extractor run`` and the tests all read the same fields, so a
setting can be given wherever is handiest (``EXTRACTOR_CHUNK_TOKENS=800``, a line in
``~/.config/extractor/config.toml``, or ``--chunk-tokens 800``) and means the same thing.
Every field has a docstring-like description, shown by ``extractor run --help``.

Each stage has a table of its own (``[stages.extract]``, ``[stages.verify]``; in the
environment ``EXTRACTOR_STAGES__VERIFY__MODEL``): whether it runs, its model, endpoint and
sampling. The extract stage's model and answer cap are the top-level ``model`` and
``max_output_tokens``, which every part of the code already reads; a config file may also
spell them ``model`` and ``max_tokens`` in ``[stages.extract]`` (as the issue's example
does), and they are read as the top-level ones, so ``--model`` still wins over the file.

Several endpoints are ``[[endpoints]]`` tables of the config file (``EndpointSettings``),
each naming the environment variable that holds its key (``api_key_env``): a key is never
written in the file, and a file that holds one (``api_key`` anywhere, or a key where a
variable's name belongs) is refused with a line that says so and does not repeat it.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from typing import Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from extractor_tui.core.scrub import register_secret
from extractor_tui.core.model import Sampling
from extractor_tui.errors import ConfigError
from extractor_tui.paths import config_dir

__all__ = ["EndpointSettings", "ExtractStageSettings", "Settings", "StagesSettings",
           "VerifyStageSettings", "default_config_path", "load_settings"]

def default_config_path() -> Path:
    """``$EXTRACTOR_CONFIG``, else ``$XDG_CONFIG_HOME/extractor/config.toml``."""
    explicit = os.environ.get("EXTRACTOR_CONFIG")
    if explicit:
        return Path(explicit)
    return config_dir() / "config.toml"


StructuredOutputSetting = Literal["auto", "json_schema", "json_object", "tools", "prompt"]
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NO_KEY_HERE = ("a key is never written in the config file: put it in an environment "
                "variable and name that variable")


def _no_credentials_in(url: str | None) -> str | None:
    # Refused rather than redacted: the SDK would send it on as basic auth beside the
    # bearer key, and every error message that names the URL would carry it.
    if url and (urlsplit(url).username is not None or urlsplit(url).password is not None):
        raise ValueError("a user name or password in the URL is not supported (it would "
                         "show in logs and on screen); give the key in an environment "
                         "variable")
    return url


class EndpointSettings(BaseModel):
    """One ``[[endpoints]]`` table: an OpenAI-compatible server and what it serves."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=40, pattern=r"^[\w.@:+-]+$", description=(
        "How the endpoint is named everywhere (screen, summary, session): letters, digits "
        "and . _ - @ : +"))
    base_url: str = Field(description="Its OpenAI-compatible URL, e.g. https://host/v1.")
    api_key_env: str | None = Field(None, description=(
        "The environment variable holding its key (none: the server needs no key)."))
    models: tuple[str, ...] = Field((), description="The models it serves; empty: any.")
    rpm: int | None = Field(None, ge=1, description=(
        "Its requests per minute (else learned from its headers)."))
    tpm: int | None = Field(None, ge=1, description=(
        "Its tokens per minute (else learned from its headers)."))
    concurrency: int | None = Field(None, ge=1, le=100, description=(
        "Its requests in flight at most (else the concurrency setting)."))
    weight: float = Field(1.0, gt=0, le=1000, description=(
        "Its share of the work while every endpoint has room."))
    structured_output: StructuredOutputSetting | None = Field(None, description=(
        "How JSON is asked of it (else the structured_output setting)."))

    @model_validator(mode="before")
    @classmethod
    def _no_key_written(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "api_key" in data:
            raise ValueError(f"api_key: {_NO_KEY_HERE} with api_key_env")
        return data

    @field_validator("api_key_env")
    @classmethod
    def _a_variable_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.fullmatch(value):
            raise ValueError("must name an environment variable (such as FLEET_A_KEY), not "
                             "hold the key itself: " + _NO_KEY_HERE)
        return value

    @field_validator("base_url")
    @classmethod
    def _no_password_in_url(cls, value: str) -> str:
        return _no_credentials_in(value) or value


class _StageSettings(BaseModel):
    """What every stage can set: its endpoint and its sampling (None: the server's default)."""

    model_config = ConfigDict(extra="forbid")

    endpoint: str | None = Field(default=None, description=(
        "Name of the endpoint this stage's requests go to (None: any that serves its "
        "model)."))
    temperature: float | None = Field(default=None, ge=0, le=2, description=(
        "Sampling temperature (0 = the most likely answer); unset = the server's default."))
    top_p: float | None = Field(default=None, gt=0, le=1, description=(
        "Nucleus sampling: only tokens within this probability mass; unset = the server's "
        "default."))
    seed: int | None = Field(default=None, description=(
        "Sampling seed, for servers that take one (OpenAI, vLLM, llama.cpp, Ollama)."))

    def sampling(self) -> Sampling:
        return Sampling(self.temperature, self.top_p, self.seed)


class ExtractStageSettings(_StageSettings):
    """``[stages.extract]``: one request per chunk. Its model is ``model``."""

    enabled: bool = Field(default=True, description=(
        "Send the extract requests; off, a run only verifies what the session holds."))


class VerifyStageSettings(_StageSettings):
    """``[stages.verify]``: one request per document that checks every field's value
    against the text of the chunks its candidates came from."""

    enabled: bool = Field(default=False, description=(
        "Check every document's values with a second request (off by default)."))
    model: str | None = Field(default=None, description=(
        "Model of the verify stage (unset: the extract model)."))
    max_tokens: int | None = Field(default=None, ge=16, description=(
        "Cap on each verify answer's tokens (unset: what the fields need)."))
    evidence_tokens: int = Field(default=8000, ge=256, le=1_000_000, description=(
        "Most chunk text one verify request carries; a document with more is checked in "
        "several requests, a field's chunks never parted."))


class StagesSettings(BaseModel):
    """``[stages]``: the two stages, each with its own table."""

    model_config = ConfigDict(extra="forbid")

    extract: ExtractStageSettings = Field(default_factory=lambda: ExtractStageSettings())
    verify: VerifyStageSettings = Field(default_factory=lambda: VerifyStageSettings())


class Settings(BaseSettings):
    """Everything a run can be tuned by. Env vars are the field names prefixed ``EXTRACTOR_``."""

    model_config = SettingsConfigDict(env_prefix="EXTRACTOR_", extra="forbid",
                                      validate_default=True, env_nested_delimiter="__")

    model: str = Field("gpt-4o-mini", description=(
        "Model name; also picks the tokenizer used to size chunks."))
    chunk_tokens: int = Field(1000, ge=16, le=200_000, description=(
        "Largest chunk, in tokens."))
    overlap_tokens: int = Field(100, ge=0, description=(
        "Tokens shared by consecutive chunks, at most half of chunk_tokens."))
    max_file_mb: float = Field(100.0, gt=0, description=(
        "Files larger than this many MiB are refused with a clear error."))
    pdf_timeout_s: float = Field(60.0, gt=0, description=(
        "Time limit for reading one PDF; a PDF that takes longer is reported, not waited on."))
    load_workers: int = Field(2, ge=1, le=32, description=(
        "Worker processes that read PDFs in parallel."))
    provider: Literal["auto", "offline", "openai"] = Field("auto", description=(
        "'openai' = any OpenAI-compatible endpoint; 'offline' = the built-in heuristic "
        "provider (no LLM); 'auto' = offline unless an API key or base URL is set."))
    base_url: str | None = Field(None, validation_alias=AliasChoices(
        "base_url", "EXTRACTOR_BASE_URL", "OPENAI_BASE_URL"), description=(
        "OpenAI-compatible endpoint, e.g. http://localhost:11434/v1 for Ollama "
        "(env: OPENAI_BASE_URL)."))
    api_key: SecretStr | None = Field(None, validation_alias=AliasChoices(
        "api_key", "EXTRACTOR_API_KEY", "OPENAI_API_KEY"), description=(
        "API key (env: OPENAI_API_KEY). Never written to sessions, logs or exports."))
    concurrency: int = Field(20, ge=1, le=100, description=(
        "Requests in flight at most; the engine lowers it on 429s and grows it back."))
    timeout_s: float = Field(60.0, gt=0, le=3600, description=(
        "Time limit per request, the whole answer included."))
    max_response_mb: float = Field(10.0, gt=0, le=1024, description=(
        "Answers larger than this many MiB are refused as invalid output."))
    retries: int = Field(4, ge=1, le=20, description=(
        "Attempts per chunk for transient errors (5xx, timeouts, dropped connections)."))
    invalid_retries: int = Field(2, ge=0, le=10, description=(
        "Re-asks per chunk when the model's answer is not valid JSON for the schema."))
    max_rate_limit_wait_s: float = Field(600.0, gt=0, description=(
        "Total time one chunk may spend waiting out 429s before it fails."))
    rpm: int | None = Field(None, ge=1, description=(
        "Requests per minute allowed by the provider (else learned from its headers)."))
    tpm: int | None = Field(None, ge=1, description=(
        "Tokens per minute allowed by the provider (else learned from its headers)."))
    max_output_tokens: int | None = Field(None, ge=16, description=(
        "Cap on each answer's tokens; an answer cut there is split and retried."))
    structured_output: StructuredOutputSetting = Field(
        "auto", description=(
            "How JSON is asked for: 'auto' starts with json_schema and moves to json_object, "
            "tools, then prompt when the server refuses one; or one of them, fixed."))
    prices: dict[str, tuple[float, float]] = Field(default_factory=dict, description=(
        "Extra or overriding prices: model = [USD per 1M input tokens, per 1M output]."))
    max_cost_usd: float | None = Field(None, gt=0, description=(
        "Hard cap on what the session spends, in USD: nothing more is sent once what was "
        "spent plus what is in flight would pass it (the model needs a known price)."))
    batch_fallback: Literal["queue", "direct"] = Field("queue", description=(
        "With --batch: lines that failed and batches that expired or were cancelled go "
        "into the next batch ('queue') or are sent live ('direct')."))
    batch_max_requests: int = Field(50_000, ge=1, le=1_000_000, description=(
        "Requests per Batch API input file at most (OpenAI: 50,000)."))
    batch_max_mb: float = Field(200.0, gt=0, le=10_000, description=(
        "Size of a Batch API input file at most, in MB (OpenAI: 200)."))
    batch_poll_s: float = Field(10.0, gt=0, le=3600, description=(
        "First wait between polls of a running batch; it grows while nothing changes."))
    batch_poll_max_s: float = Field(300.0, gt=0, le=3600, description=(
        "Longest wait between polls of a running batch."))
    stages: StagesSettings = Field(default_factory=StagesSettings, description=(
        "Each stage's switch, model, endpoint and sampling ([stages.extract], "
        "[stages.verify])."))
    endpoints: tuple[EndpointSettings, ...] = Field((), description=(
        "Several endpoints ([[endpoints]] in the config file): requests go to those that "
        "serve the model, by weight; when set, base_url and api_key are not used."))

    @field_validator("base_url")
    @classmethod
    def _no_password_in_url(cls, value: str | None) -> str | None:
        try:
            return _no_credentials_in(value)
        except ValueError:
            raise ValueError("a user name or password in the URL is not supported (it would "
                             "show in logs and on screen); give the key in OPENAI_API_KEY"
                             ) from None

    @field_validator("endpoints")
    @classmethod
    def _names_differ(cls, value: tuple[EndpointSettings, ...]
                      ) -> tuple[EndpointSettings, ...]:
        names = [endpoint.name for endpoint in value]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"two endpoints are named {', '.join(twice)}")
        return value

    @model_validator(mode="after")
    def _overlap_fits(self) -> Settings:
        if self.overlap_tokens > self.chunk_tokens // 2:
            raise ValueError(f"overlap_tokens ({self.overlap_tokens}) must be at most half of "
                             f"chunk_tokens ({self.chunk_tokens})")
        return self

    @model_validator(mode="after")
    def _stage_endpoints_exist(self) -> Settings:
        names = ", ".join(endpoint.name for endpoint in self.endpoints)
        for name, stage, model in (("extract", self.stages.extract, self.model),
                                   ("verify", self.stages.verify, self.verify_model)):
            if stage.endpoint is None:
                continue
            named = next((e for e in self.endpoints if e.name == stage.endpoint), None)
            if named is None:
                raise ValueError(f"[stages.{name}] endpoint = {stage.endpoint!r}: no endpoint "
                                 "has that name " + (f"({names})" if names else
                                                     "(the one endpoint is --base-url / "
                                                     "OPENAI_BASE_URL, which has no name)"))
            if named.models and model not in named.models:
                raise ValueError(f"[stages.{name}] endpoint = {stage.endpoint!r} does not serve "
                                 f"the model {model} (it serves {', '.join(named.models)})")
        return self

    def endpoint_names(self) -> frozenset[str]:
        """The names a stage's ``endpoint`` may give: the ``[[endpoints]]`` tables' (none
        while there is one endpoint, which has no name)."""
        return frozenset(endpoint.name for endpoint in self.endpoints)

    @property
    def resolved_provider(self) -> Literal["offline", "openai"]:
        """Which provider runs: 'auto' means offline unless a key or base URL is set."""
        if self.provider == "auto":
            return "openai" if (self.api_key or self.base_url or self.endpoints) else "offline"
        return self.provider

    @property
    def verify_model(self) -> str:
        """The verify stage's model: its own, else the extract model (one model serving
        both stages with different sampling is the common local case)."""
        return self.stages.verify.model or self.model

    def extract_sampling(self) -> Sampling:
        return self.stages.extract.sampling()

    def verify_sampling(self) -> Sampling:
        return self.stages.verify.sampling()

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)

    @property
    def max_response_bytes(self) -> int:
        return int(self.max_response_mb * 1024 * 1024)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Values given to the constructor (the flags, with the config file's below them:
        # ``load_settings``), then the environment; nothing else, no state between calls.
        return init_settings, env_settings


def load_settings(config_file: Path | None = None, *,
                  flag_names: Mapping[str, str] | None = None, **flags: Any) -> Settings:
    """Build settings from every layer; ``flags`` set to None are treated as not given.

    Raises ConfigError with one readable line for a bad file or value, naming where the
    value came from: the flag (``flag_names`` maps a setting to how the command line spells
    it, ``--concurrency``), the environment variable, or the config file.
    """
    path = config_file or default_config_path()
    if config_file is not None and not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    given = {key: value for key, value in flags.items() if value is not None}
    # The file's values go in beneath the environment's: a setting the environment gives is
    # left out of them, and the flags cover both.
    from_file = _read_toml(path)
    _refuse_written_keys(path, from_file)
    # Table by table: the environment's EXTRACTOR_STAGES__VERIFY__MODEL leaves the file's
    # other [stages.verify] keys in place, and so does --verify-model.
    from_env = EnvSettingsSource(Settings)()
    layered = _over(_less(from_file, from_env), given)
    try:
        settings = Settings(**layered)
    except ValidationError as exc:
        where = _Sources(given, flag_names or {}, path)
        raise ConfigError("; ".join(where.problem(err) for err in exc.errors())) from exc
    if settings.api_key is not None:  # from here on, redacted wherever it would show
        register_secret(settings.api_key.get_secret_value())
    return settings


def _read_toml(path: Path) -> dict[str, Any]:
    """The config file's settings; none when there is no file."""
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"{path}: cannot read the config file: {reason}") from exc
    return _extract_table(data, path)


def _extract_table(data: dict[str, Any], path: Path) -> dict[str, Any]:
    """``[stages.extract]`` ``model`` and ``max_tokens`` read as the top-level ``model`` and
    ``max_output_tokens`` (the same settings, which every part of the code reads)."""
    stages = data.get("stages")
    extract = stages.get("extract") if isinstance(stages, dict) else None
    if not isinstance(extract, dict):
        return data
    for inner, outer in (("model", "model"), ("max_tokens", "max_output_tokens")):
        if inner not in extract:
            continue
        value = extract.pop(inner)
        if outer in data and data[outer] != value:
            raise ConfigError(f"{path}: {outer} = {data[outer]!r} and [stages.extract] "
                              f"{inner} = {value!r} name the same setting; keep one")
        data[outer] = value
    return data


def _less(lower: Mapping[str, Any], covered: Mapping[str, Any]) -> dict[str, Any]:
    """``lower`` without the values ``covered`` gives, table by table."""
    kept: dict[str, Any] = {}
    for key, value in lower.items():
        if key not in covered:
            kept[key] = value
        elif isinstance(value, Mapping) and isinstance(covered[key], Mapping):
            kept[key] = _less(value, covered[key])
    return kept


def _over(lower: Mapping[str, Any], upper: Mapping[str, Any]) -> dict[str, Any]:
    """``upper``'s values on top of ``lower``'s, table by table."""
    merged = dict(lower)
    for key, value in upper.items():
        below = merged.get(key)
        merged[key] = (_over(below, value) if isinstance(value, Mapping)
                       and isinstance(below, Mapping) else value)
    return merged


def _refuse_written_keys(path: Path, data: Mapping[str, Any]) -> None:
    """A key written in the config file is refused before anything reads it: the file is
    likely shared, backed up or checked in. The value is never repeated."""
    tables = data.get("endpoints")
    where = (["api_key"] if "api_key" in data else []) + [
        f"[[endpoints]] {table.get('name', index + 1)}: api_key"
        for index, table in enumerate(tables if isinstance(tables, list) else [])
        if isinstance(table, dict) and "api_key" in table]
    if where:
        raise ConfigError(f"{path}: {', '.join(where)}: {_NO_KEY_HERE} (OPENAI_API_KEY, or "
                          "api_key_env for an endpoint); the file was not used")


_SECRET_SETTINGS = frozenset({"api_key", "base_url", "endpoints"})
"""Their values are never repeated in an error: a key, or a URL that may hold a password."""


class _Sources:
    """Where each setting of a failed load came from, to name it in the error."""

    def __init__(self, given: Mapping[str, Any], flag_names: Mapping[str, str],
                 path: Path) -> None:
        self._given, self._flags, self._path = given, flag_names, path
        try:
            self._file: dict[str, Any] = (tomllib.loads(path.read_text(encoding="utf-8"))
                                          if path.is_file() else {})
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            self._file = {}
        self._env = {name.upper(): value for name, value in os.environ.items()}

    def _env_name(self, setting: str) -> str | None:
        alias = Settings.model_fields[setting].validation_alias
        names = ([str(choice) for choice in alias.choices if str(choice) != setting]
                 if isinstance(alias, AliasChoices) else [f"EXTRACTOR_{setting}"])
        return next((name.upper() for name in names if name.upper() in self._env), None)

    def problem(self, err: Mapping[str, Any]) -> str:
        """``--concurrency 0: must be at least 1``, ``EXTRACTOR_CONCURRENCY=lots: …`` or
        ``~/.config/extractor/config.toml: concurrency = 500: …``."""
        message = _wording(err)
        loc = err.get("loc") or ()
        setting = str(loc[0]) if loc else ""
        if setting not in Settings.model_fields:
            if err.get("type") == "extra_forbidden":  # only a config file can name one
                known = ", ".join(sorted(Settings.model_fields))
                return f"{self._path}: unknown setting {setting!r} (known: {known})"
            return message
        secret = setting in _SECRET_SETTINGS
        if setting in self._given:
            flag = self._flags.get(setting, setting)
            return f"{flag}: {message}" if secret else f"{flag} {self._given[setting]}: {message}"
        env = self._env_name(setting)
        if env is not None:
            return f"{env}: {message}" if secret else f"{env}={self._env[env]}: {message}"
        if setting in self._file:
            shown = "…" if secret else json.dumps(self._file[setting], ensure_ascii=False)
            return f"{self._path}: {setting} = {shown}: {message}"
        return f"{setting}: {message}"


def _wording(err: Mapping[str, Any]) -> str:
    """Pydantic's reason in the user's words ("must be at least 1")."""
    kind, ctx = str(err.get("type", "")), err.get("ctx") or {}
    limits = {"greater_than_equal": ("at least", "ge"), "less_than_equal": ("at most", "le"),
              "greater_than": ("more than", "gt"), "less_than": ("less than", "lt")}
    if kind in limits:
        words, key = limits[kind]
        return f"must be {words} {ctx.get(key)}"
    if kind in ("int_parsing", "int_from_float", "int_type"):
        return "must be a whole number"
    if kind in ("float_parsing", "float_type"):
        return "must be a number"
    if kind == "literal_error":
        return f"must be {ctx.get('expected')}"
    message = str(err.get("msg", "invalid"))
    return message.removeprefix("Value error, ")
