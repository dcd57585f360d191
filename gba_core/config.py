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

import dataclasses
import difflib
import os
import sys
import tomllib
import types
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

from gba_core.errors import ConfigError, SettingError

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


S = TypeVar("S")


def setting_types(cls: type, prefix: str = "") -> dict[str, Any]:
    """The settings a dataclass reads, key -> type: its fields, and a nested dataclass's
    fields under ``<field>_`` (or the field's ``metadata["prefix"]``). A field with
    ``metadata={"setting": False}`` is no setting (the sandbox's ``network``, decided per
    call)."""
    hints = get_type_hints(cls)
    names: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if not f.metadata.get("setting", True):
            continue
        kind = hints[f.name]
        if dataclasses.is_dataclass(kind):
            inner = f.metadata.get("prefix", f"{f.name}_")
            names.update(setting_types(kind, prefix + inner))  # type: ignore[arg-type]
        else:
            names[prefix + f.name] = kind
    return names


def _convert(key: str, kind: Any, value: Any) -> Any:
    """``value`` (text from the environment, or a TOML value) as a ``kind``."""
    optional = get_origin(kind) in (Union, types.UnionType) and type(None) in get_args(kind)
    if optional:
        if value is None or value == "":
            return None
        kind = next(a for a in get_args(kind) if a is not type(None))
    if kind is bool:
        return value if isinstance(value, bool) else str(value).strip().lower() in TRUE_WORDS
    if kind in (int, float):
        try:
            return kind(value)
        except (TypeError, ValueError):
            raise ConfigError(f"setting {key}: {value!r} is not a number") from None
    if kind is Path:
        return Path(str(value)).expanduser()
    if kind is str:
        return str(value)
    return value


def _build(cls: type[S], values: Mapping[str, Any], prefix: str = "") -> S:
    hints = get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if not f.metadata.get("setting", True):
            continue
        kind = hints[f.name]
        if dataclasses.is_dataclass(kind):
            inner = f.metadata.get("prefix", f"{f.name}_")
            kwargs[f.name] = _build(kind, values, prefix + inner)  # type: ignore[arg-type]
        elif prefix + f.name in values:
            kwargs[f.name] = values[prefix + f.name]
    try:
        return cls(**kwargs)
    except SettingError as exc:
        raise ConfigError(f"setting {prefix}{exc.field}: {exc.reason}") from None


def load_settings(section: str, cls: type[S]) -> S:
    """A plugin's settings: ``cls`` (a frozen dataclass whose defaults are the defaults)
    filled from ``GBA_<KEY>`` in the environment, else ``[section] <key>`` in gba.toml.
    Values are converted to the fields' types; a value that cannot be, or that the
    class's own checks refuse, is a ``ConfigError`` naming the setting."""
    names = setting_types(cls)
    table = load_file_config().get(section, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{config_path()}: [{section}] must be a table")
    warn_unknown_keys(section, table, names)
    values: dict[str, Any] = {}
    for key, kind in names.items():
        raw: Any = os.environ.get(f"GBA_{key.upper()}")
        if raw is None:
            raw = table.get(key)
        if raw is not None:
            values[key] = _convert(key, kind, raw)
    return _build(cls, values)
