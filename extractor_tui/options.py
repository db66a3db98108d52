"""The command line's flags, turned into settings and fields, for both front ends.

``extractor run`` and the app (``extractor [PATH...]``) take the same flags; this one module
declares them and reads them, so the two cannot drift apart and neither front end imports
the other. Nothing is printed here: a warning comes back as a line for the caller to show.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from extractor_tui.config import Settings, load_settings
from extractor_tui.core.fields import FieldSet, fields_from_args, load_schema, preset
from extractor_tui.errors import ConfigError, FieldSpecError

__all__ = ["SETTING_FLAGS", "STAGE_NAMES", "add_run_arguments", "fields_from",
           "flag_warnings", "settings_from", "stage_flags"]

SETTING_FLAGS: tuple[tuple[str, str, type], ...] = (
    ("model", "--model", str), ("base_url", "--base-url", str), ("api_key", "--api-key", str),
    ("concurrency", "--concurrency", int), ("chunk_tokens", "--chunk-tokens", int),
    ("overlap_tokens", "--overlap-tokens", int), ("timeout_s", "--timeout", float),
    ("retries", "--retries", int), ("max_file_mb", "--max-file-mb", float),
    ("pdf_timeout_s", "--pdf-timeout", float), ("load_workers", "--workers", int),
    ("structured_output", "--structured-output", str), ("max_cost_usd", "--max-cost", float))


def add_run_arguments(run: argparse.ArgumentParser) -> None:
    """Flags shared by ``extractor run`` and the app's ``extractor [PATH...]``."""
    run.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                     help="files or folders (folders are read recursively)")
    group = run.add_argument_group("fields (pick one)")
    group.add_argument("--schema", type=Path, metavar="FILE", help="JSON Schema of the fields")
    group.add_argument("--field", action="append", default=[], metavar="NAME[:TYPE[:DESC]]",
                       help="a field; repeat for more (TYPE: string, number, integer, boolean,"
                            " date; add [] for a list; NAME! = required)")
    group.add_argument("--preset", metavar="NAME",
                       help="built-in fields: invoice, contract, medical, resume")
    run.add_argument("--session", type=Path, metavar="FILE",
                     help="SQLite session file; an existing one is resumed")
    run.add_argument("--offline", action="store_true",
                     help="use the built-in offline provider (default when no API key and no "
                          "base URL are set)")
    run.add_argument("--config", type=Path, metavar="FILE",
                     help="TOML config file (default: ~/.config/extractor/config.toml)")
    stages = run.add_argument_group("stages")
    stages.add_argument("--stages", metavar="LIST", default=None,
                        help="the stages to run, comma-separated: extract, verify (default: "
                             "extract, and verify when [stages.verify] enabled = true); "
                             "'verify' alone re-verifies a finished session without "
                             "extracting again")
    stages.add_argument("--verify-model", metavar="NAME", default=None,
                        help="model of the verify stage (default: the extract model)")
    stages.add_argument("--verified-columns", action="store_true",
                        help="a CSV export gets a 'NAME verified' column after each field")
    described = Settings.model_fields
    for name, flag, kind in SETTING_FLAGS:
        info = described[name]
        default = "" if name == "api_key" else f" (default: {info.default})"
        run.add_argument(flag, dest=name, type=kind, default=None,
                         help=f"{info.description}{default}")


def flag_warnings(args: argparse.Namespace) -> list[str]:
    """What to warn about in the flags themselves, one line each: a key given as
    ``--api-key`` is in the process list (``ps``) and the shell history."""
    if getattr(args, "api_key", None):
        return ["--api-key is visible to other users of this machine (ps, shell history); "
                "set OPENAI_API_KEY instead"]
    return []


def settings_from(args: argparse.Namespace) -> Settings:
    """The settings: defaults < config file < environment < these flags."""
    flags: dict[str, Any] = {name: getattr(args, name) for name, _, _ in SETTING_FLAGS}
    flags["batch_fallback"] = getattr(args, "batch_fallback", None)  # extractor run --batch
    if args.offline:
        flags["provider"] = "offline"
    stages = stage_flags(getattr(args, "stages", None), getattr(args, "verify_model", None))
    if stages:
        flags["stages"] = stages
    names = {name: flag for name, flag, _ in SETTING_FLAGS}
    names["stages"] = "--stages/--verify-model"
    return load_settings(args.config, flag_names=names, **flags)


STAGE_NAMES = ("extract", "verify")


def stage_flags(listed: str | None, verify_model: str | None) -> dict[str, Any]:
    """``--stages extract,verify`` and ``--verify-model`` as ``stages`` settings (on top of
    the config file's tables: only what the flags say is set)."""
    stages: dict[str, Any] = {}
    if listed is not None:
        names = [name.strip().lower() for name in listed.split(",") if name.strip()]
        unknown = [name for name in names if name not in STAGE_NAMES]
        if unknown or not names:
            raise ConfigError(f"--stages {listed}: name one or more of "
                              f"{', '.join(STAGE_NAMES)}, comma-separated")
        stages = {name: {"enabled": name in names} for name in STAGE_NAMES}
    if verify_model:
        stages.setdefault("verify", {})["model"] = verify_model
    return stages


def fields_from(args: argparse.Namespace, required: bool = True) -> FieldSet | None:
    """The fields of ``--schema``, ``--field`` or ``--preset`` (one of them); None when none
    was given and they are not ``required`` (the app then uses the session's or a preset)."""
    given = [bool(args.schema), bool(args.field), bool(args.preset)]
    if sum(given) > 1:
        raise FieldSpecError("give only one of --schema, --field and --preset")
    if args.schema:
        return load_schema(args.schema)
    if args.field:
        return fields_from_args(args.field)
    if args.preset:
        return preset(args.preset)
    if required:
        raise FieldSpecError("no fields to extract: give --preset NAME (invoice, contract, "
                             "medical, resume), --schema FILE or --field NAME[:TYPE[:DESC]]")
    return None
