"""Which LLM each role uses, and where that choice comes from.

Roles: planner, tool (real tools' argument filling and summaries), simulator, teacher,
judge. For each role the first of these wins:

1. the CLI option for the role (``--planner-llm``), then the CLI's ``--llm``;
2. ``GBA_<ROLE>_LLM`` (e.g. ``GBA_PLANNER_LLM``), then ``GBA_LLM``;
3. ``gba.toml`` in the working directory (or ``GBA_CONFIG``): ``[llm]`` table with a key
   per role, then ``default``;
4. the embedded model, ``llama-cpp:gemma-3-270m``.
"""

from __future__ import annotations

import difflib
import os
import sys
import tomllib
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from gba_core.errors import ConfigError

ROLES = ("planner", "tool", "simulator", "teacher", "judge")
DEFAULT_LLM = "llama-cpp:gemma-3-270m"


def config_path() -> Path:
    return Path(os.environ.get("GBA_CONFIG", "gba.toml"))


@lru_cache(maxsize=4)
def _read_toml(path: str, mtime: float) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def load_file_config() -> dict[str, Any]:
    path = config_path()
    if not path.is_file():
        if "GBA_CONFIG" in os.environ:
            raise ConfigError(f"GBA_CONFIG points to a missing file: {path}")
        return {}
    return _read_toml(str(path), path.stat().st_mtime)


_warned: set[tuple[str, str, str]] = set()


def warn_unknown_keys(section: str, table: Mapping[str, Any], known: Iterable[str]) -> None:
    """Say on stderr, once per key, that ``[section]`` of gba.toml has a key nothing reads,
    with the closest known one: a typo ("planer") must not silently fall back to a
    default."""
    known = list(known)
    for key in table:
        if key in known or (str(config_path()), section, key) in _warned:
            continue
        _warned.add((str(config_path()), section, key))
        close = difflib.get_close_matches(key, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(known)}"
        print(
            f"warning: {config_path()}: [{section}] has no setting {key!r}{hint}", file=sys.stderr
        )


def llm_spec_for(role: str, cli: Mapping[str, str | None] | None = None) -> tuple[str, str]:
    """The LLM spec for ``role`` and a short note of where it came from."""
    if role not in ROLES:
        raise ConfigError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    cli = cli or {}
    candidates = [
        (cli.get(role), f"--{role}-llm"),
        (cli.get("default"), "--llm"),
        (os.environ.get(f"GBA_{role.upper()}_LLM"), f"GBA_{role.upper()}_LLM"),
        (os.environ.get("GBA_LLM"), "GBA_LLM"),
    ]
    table = load_file_config().get("llm", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{config_path()}: [llm] must be a table")
    warn_unknown_keys("llm", table, (*ROLES, "default"))
    candidates += [
        (table.get(role), f"{config_path()} [llm].{role}"),
        (table.get("default"), f"{config_path()} [llm].default"),
    ]
    for value, source in candidates:
        if value:
            return str(value), source
    return DEFAULT_LLM, "default"


TRUE_WORDS = ("1", "yes", "true", "on")


def env_flag(name: str) -> bool:
    """Whether the environment switches ``name`` on: 1, yes, true or on, in any case.

    One reading for every GBA_* switch, so ``GBA_X=0`` means off everywhere.
    """
    return os.environ.get(name, "").strip().lower() in TRUE_WORDS


def plugin_setting(section: str, name: str, defaults: Mapping[str, Any]) -> Any:
    """A plugin's setting: ``GBA_<NAME>`` in the environment, else ``[section] <name>`` in
    gba.toml, else ``defaults[name]``. Values from the environment or file are converted to
    the type of a numeric default."""
    default = defaults[name]
    value: Any = os.environ.get(f"GBA_{name.upper()}")
    if value is None:
        table = load_file_config().get(section, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{config_path()}: [{section}] must be a table")
        warn_unknown_keys(section, table, defaults)
        value = table.get(name)
    if value is None:
        return default
    if isinstance(default, bool):
        return str(value).strip().lower() in TRUE_WORDS
    if isinstance(default, int | float):
        try:
            return type(default)(value)
        except ValueError:
            raise ConfigError(f"setting {name}: {value!r} is not a number") from None
    return value
