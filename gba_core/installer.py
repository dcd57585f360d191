"""``gba install`` / ``gba uninstall``: pip or uv, aimed at the environment gba runs in.

A plugin is only found if it is installed beside gba-core. Running ``pip`` from a shell
installs into whatever environment that pip belongs to, and a ``uv tool`` environment
has no pip at all (a known trap for users of llm). Both commands therefore target
``sys.executable``: with its own pip when it has one, else with ``uv pip --python``.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from dataclasses import dataclass
from importlib import metadata
from typing import Literal

from gba_core.errors import ConfigError

Installer = Literal["auto", "pip", "uv"]
PROTECTED = {"gba-core"}  # uninstalling it would remove the command that is running


@dataclass(frozen=True)
class EntryPoint:
    name: str
    distribution: str
    version: str


def _has_pip() -> bool:
    return importlib.util.find_spec("pip") is not None


def base_command(action: str, installer: Installer = "auto") -> list[str]:
    """The pip or uv command line that acts on this interpreter's environment."""
    uv = shutil.which("uv")
    if installer == "pip" or (installer == "auto" and _has_pip()):
        if not _has_pip():
            raise ConfigError(f"{sys.executable} has no pip: use --installer uv")
        command = [sys.executable, "-m", "pip", action]
        return [*command, "-y"] if action == "uninstall" else command
    if uv is None:
        raise ConfigError(
            f"neither pip nor uv can install into {sys.executable}: run "
            f"`{sys.executable} -m ensurepip`, or install uv"
        )
    return [uv, "pip", action, "--python", sys.executable]


def install_command(
    packages: tuple[str, ...],
    *,
    editable: tuple[str, ...] = (),
    upgrade: bool = False,
    force_reinstall: bool = False,
    no_cache_dir: bool = False,
    pre: bool = False,
    installer: Installer = "auto",
) -> list[str]:
    if not packages and not editable:
        raise ConfigError("name a package to install, or a folder with -e")
    command = base_command("install", installer)
    flags = {
        "--upgrade": upgrade,
        "--force-reinstall": force_reinstall,
        "--no-cache-dir": no_cache_dir,
        "--pre": pre,
    }
    command += [flag for flag, on in flags.items() if on]
    for folder in editable:
        command += ["-e", folder]
    return [*command, *packages]


def _normal(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _distribution(name: str, plugins: dict[str, EntryPoint]) -> str:
    """The distribution to uninstall for ``name``: a plugin's (``gba plugins`` names), or
    ``name`` itself when a distribution of that name is installed."""
    if name in plugins:
        return plugins[name].distribution
    for ep in plugins.values():
        if _normal(ep.distribution) == _normal(name):
            return ep.distribution
    try:
        return str(metadata.distribution(name).metadata["Name"])
    except metadata.PackageNotFoundError:
        known = ", ".join(f"{ep.name} ({ep.distribution})" for ep in plugins.values())
        raise ConfigError(
            f"{name!r} is neither a gba plugin nor a distribution installed here; "
            f"plugins: {known or 'none'}"
        ) from None


def uninstall_command(packages: tuple[str, ...], installer: Installer = "auto") -> list[str]:
    """The uninstall command for plugin or distribution names. pip only skips a name it
    does not know, so an unknown name is an error here, not a silent success."""
    if not packages:
        raise ConfigError("name a package to uninstall")
    plugins = gba_entry_points()
    packages = tuple(dict.fromkeys(_distribution(p, plugins) for p in packages))
    refused = {p for p in packages if p.lower().replace("_", "-") in PROTECTED}
    if refused:
        raise ConfigError(
            f"gba uninstall will not remove {', '.join(sorted(refused))}: that is gba "
            "itself (use pip if you mean it)"
        )
    return [*base_command("uninstall", installer), *packages]


def gba_entry_points() -> dict[str, EntryPoint]:
    """Installed ``gba`` entry points by name, read afresh (after an install)."""
    importlib.invalidate_caches()
    found: dict[str, EntryPoint] = {}
    for ep in metadata.entry_points(group="gba"):
        dist = ep.dist
        found[ep.name] = EntryPoint(
            ep.name, dist.metadata["Name"] if dist else "?", dist.version if dist else "?"
        )
    return found


def describe_change(before: dict[str, EntryPoint], after: dict[str, EntryPoint]) -> list[str]:
    """One line per plugin added, removed or changed in version."""
    lines = []
    for name in sorted(after.keys() - before.keys()):
        lines.append(f"added plugin {name} ({after[name].distribution} {after[name].version})")
    for name in sorted(before.keys() - after.keys()):
        lines.append(f"removed plugin {name} ({before[name].distribution})")
    for name in sorted(before.keys() & after.keys()):
        if before[name] != after[name]:
            lines.append(
                f"plugin {name}: {before[name].distribution} {before[name].version} → "
                f"{after[name].distribution} {after[name].version}"
            )
    return lines
