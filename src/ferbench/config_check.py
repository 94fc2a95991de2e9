"""Checking the merged workflow config against workflow/schemas/config.schema.yaml, in plain words.

jsonschema's own message for a misspelled key ("Additional properties are not allowed ('pretrainde'
was unexpected)") names neither where the key is nor what was meant. Here every problem is reported
at once, each with its place in the config and, for an unknown key, the keys allowed there (and the
nearest one). Snakemake's ``validate`` still runs afterwards in the Snakefile, to fill in defaults.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match


class ConfigError(ValueError):
    """The config does not follow the schema; the message lists every problem."""


def _where(error: ValidationError) -> str:
    return "".join(f"[{p!r}]" for p in error.absolute_path) or "(top level)"


def _leaf(error: ValidationError) -> ValidationError:
    """For oneOf/anyOf, the alternative that explains the failure (not "is not of type 'null'")."""
    while error.context:
        specific = [e for e in error.context if e.validator != "type"]
        error = best_match(specific or error.context)
    return error


def _describe(error: ValidationError) -> list[str]:
    where = _where(error)
    if error.validator == "additionalProperties" and error.validator_value is False:
        allowed = sorted(error.schema.get("properties", {}))
        lines = []
        for key in sorted(set(error.instance) - set(allowed), key=str):
            near = difflib.get_close_matches(str(key), allowed, 1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            lines.append(f"{where}: unknown key {key!r}{hint}; allowed keys here: {', '.join(allowed)}")
        return lines
    return [f"{where}: {error.message}"]


def config_problems(config: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    """Every violation of ``schema`` in ``config``, one line each, in config order."""
    errors = sorted(Draft202012Validator(schema).iter_errors(config),
                    key=lambda e: [str(p) for p in e.absolute_path])
    return [line for e in errors for line in _describe(_leaf(e))]


def check_config(config: Mapping[str, Any], schema_path: str | Path) -> None:
    """Raise ``ConfigError`` listing every problem of ``config`` against the schema file."""
    problems = config_problems(config, yaml.safe_load(Path(schema_path).read_text()))
    if problems:
        lines = [f"  - config{p}" if p.startswith("[") else f"  - {p}" for p in problems]
        raise ConfigError(f"the config does not follow {Path(schema_path).name}:\n" + "\n".join(lines))
