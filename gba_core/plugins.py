"""The plugin manager: entry points, built-ins, allow/deny lists, and the registries.

Built-ins are registered exactly like external plugins. Each external entry point loads
in its own try/except so one broken plugin never bricks the CLI; ``gba plugins`` lists
it with its error and a hint at the cause. Hooks are called per implementation so the
core knows which plugin registered what, and so a failing hook is charged to its plugin.
``GBA_TRACE_PLUGINS=1`` writes every entry-point load and hook call to stderr.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module, metadata
from typing import Any, Generic, TypeVar

import pluggy

from gba_core import PROJECT_NAME, __version__, hookspecs
from gba_core.config import env_flag
from gba_core.errors import ConfigError, PluginError

ENTRY_POINT_GROUP = "gba"
# Built-in plugin name -> module. Names are short because users type them in
# GBA_DISABLE_PLUGINS and read them in `gba plugins`.
DEFAULT_PLUGINS = {
    "core.final_answer": "gba_core.default_plugins.final_answer",
    "core.planners": "gba_core.default_plugins.planners",
    "core.llms": "gba_core.default_plugins.llms",
}

T = TypeVar("T")


@dataclass
class PluginInfo:
    """What ``gba plugins`` shows about one plugin."""

    name: str
    builtin: bool = False
    distribution: str | None = None
    version: str | None = None
    entry_point: str | None = None
    hooks: list[str] = field(default_factory=list)
    error: str | None = None
    # Where it failed ("load" or a hook's name), what to do about it, and the traceback.
    failed_in: str | None = None
    hint: str | None = None
    traceback: str | None = None

    def fail(self, stage: str, exc: BaseException) -> None:
        self.failed_in = stage
        if stage == "check":  # a validation message, not an exception worth its type
            self.error = str(exc)
        else:
            self.error = _short_error(exc) if stage == "load" else f"{stage}: {_short_error(exc)}"
        self.hint = explain(exc, self, stage)
        self.traceback = "".join(traceback.format_exception(exc))


@dataclass
class _State:
    pm: pluggy.PluginManager
    infos: dict[str, PluginInfo]


_state: _State | None = None
_lock = threading.Lock()


# GBA_PLUGINS=none: no external plugin (an empty variable counts as unset).
NO_PLUGINS = "none"


def _env_list(name: str) -> set[str] | None:
    """The names in a comma-separated variable; None when it is unset or empty (an
    empty allow list would silently load no plugin at all)."""
    names = {part.strip() for part in os.environ.get(name, "").split(",") if part.strip()}
    return names or None


def _strict() -> bool:
    return env_flag("GBA_STRICT_PLUGINS")


def _selected(name: str, allow: set[str] | None, deny: set[str]) -> bool:
    if name in deny:
        return False
    return allow is None or name in allow


def _short_error(exc: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


def _tracing() -> bool:
    return env_flag("GBA_TRACE_PLUGINS")


def _trace(message: str) -> None:
    print(f"gba trace: {message}", file=sys.stderr, flush=True)


def explain(exc: BaseException, info: PluginInfo, stage: str) -> str:
    """One sentence on what probably went wrong and what to do about it."""
    dist = info.distribution or info.name
    if stage == "check":
        return "the plugin loaded, but gba never calls this hook: a typo, or a newer gba's hook"
    if stage != "load":
        return (
            f"the plugin's {stage} hook raised; its other hooks still count. Run with "
            "GBA_STRICT_PLUGINS=1 to stop at the error, or `gba plugins --traceback`"
        )
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        own = (info.entry_point or "").split(":")[0].strip()
        if own == exc.name or own.startswith(exc.name + "."):
            return (
                f"the entry point names module {own!r}, which is not importable: "
                f"reinstall {dist} (`gba install --force-reinstall {dist}`)"
            )
        return (
            f"{dist} imports {exc.name!r}, which is not installed in {sys.prefix}: "
            f"install it there, or reinstall {dist} with its dependencies"
        )
    if isinstance(exc, ImportError):
        return f"an import inside {dist} failed; versions of its dependencies may not match"
    if isinstance(exc, SyntaxError):
        return f"{dist}'s code does not parse ({exc.filename}, line {exc.lineno})"
    if isinstance(exc, pluggy.PluginValidationError):
        return (
            "a @hookimpl does not match gba's hooks (an unknown hook name or argument); "
            "see docs/hooks.md for the hooks and their arguments"
        )
    if isinstance(exc, AttributeError) and ":" in (info.entry_point or ""):
        return f"the entry point {info.entry_point!r} names an attribute its module lacks"
    if isinstance(exc, PluginError) and "already registered" in str(exc):
        return (
            f"two distributions use the entry point name {info.name!r}: uninstall one, or "
            "rename its entry point in its pyproject.toml"
        )
    return f"{dist}'s module raised while being imported"


def _load() -> _State:
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    infos: dict[str, PluginInfo] = {}
    allow = _env_list("GBA_PLUGINS")
    if allow == {NO_PLUGINS}:  # the built-ins alone, as a plugin's own tests want them
        allow = set()
    deny = _env_list("GBA_DISABLE_PLUGINS") or set()
    for name, module_name in DEFAULT_PLUGINS.items():
        # Built-ins obey the deny list but not the allow list: an allow list names the
        # external plugins a user wants, and gba is unusable without its built-ins.
        if name in deny:
            continue
        pm.register(import_module(module_name), name=name)
        infos[name] = PluginInfo(
            name=name, builtin=True, distribution="gba-core", version=__version__
        )
    entry_points = metadata.entry_points(group=ENTRY_POINT_GROUP)
    _check_allow_list(allow, {ep.name for ep in entry_points} | set(DEFAULT_PLUGINS), infos)
    for ep in entry_points:
        if not _selected(ep.name, allow, deny):
            continue
        dist = ep.dist
        info = PluginInfo(
            name=ep.name,
            distribution=dist.metadata["Name"] if dist else None,
            version=dist.version if dist else None,
            entry_point=ep.value,
        )
        # A second entry point of the same name is listed under its distribution, so
        # the one that loaded keeps its own row in `gba plugins`.
        key = ep.name if ep.name not in infos else f"{ep.name} ({info.distribution})"
        infos[key] = info
        started = time.perf_counter()
        try:
            if pm.has_plugin(ep.name):
                raise PluginError(f"another plugin is already registered as {ep.name!r}")
            pm.register(ep.load(), name=ep.name)
        except Exception as exc:
            if _strict():
                raise PluginError(
                    f"plugin {ep.name!r} ({ep.value}) failed to load: {_short_error(exc)}"
                ) from exc
            info.fail("load", exc)
        if _tracing():
            outcome = f"failed: {info.error}" if info.error else "loaded"
            _trace(
                f"entry point {ep.name} = {ep.value} ({info.distribution} {info.version})"
                f" {outcome} in {1000 * (time.perf_counter() - started):.1f} ms"
            )
    _check_hook_names(pm, infos)
    return _State(pm=pm, infos=infos)


def _check_allow_list(
    allow: set[str] | None, installed: set[str], infos: dict[str, PluginInfo]
) -> None:
    """An allow list naming a plugin that is not installed (a typo, or one not yet
    installed) would run without it in silence: say so, or stop when strict."""
    for name in sorted((allow or set()) - installed):
        known = ", ".join(sorted(n for n in installed if n not in DEFAULT_PLUGINS))
        message = (
            f"GBA_PLUGINS names {name!r}, which is not an installed plugin (installed: {known})"
        )
        if _strict():
            raise PluginError(message)
        print(f"warning: {message}", file=sys.stderr)
        infos[name] = PluginInfo(
            name=name,
            error="not installed",
            failed_in="load",
            hint=f"GBA_PLUGINS names it, but no installed distribution has a gba plugin of "
            f"that name; installed: {known}",
        )


def _check_hook_names(pm: pluggy.PluginManager, infos: dict[str, PluginInfo]) -> None:
    """Flag hook implementations that match no hookspec.

    pluggy keeps them silently as "pending", so a misspelt hook would just never run.
    """
    from difflib import get_close_matches

    known = [name for name in dir(hookspecs) if name.startswith("register_")]
    for name, caller in vars(pm.hook).items():
        if name.startswith("_") or caller.has_spec():
            continue
        for impl in caller.get_hookimpls():
            info = infos.setdefault(impl.plugin_name, PluginInfo(name=impl.plugin_name))
            if info.error:
                continue
            close = get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            info.fail(
                "check", pluggy.PluginValidationError(impl.plugin, f"unknown hook {name!r}{hint}")
            )


def _get_state() -> _State:
    global _state
    with _lock:
        if _state is None:
            _state = _load()
        return _state


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, loading plugins on first use."""
    return _get_state().pm


def reset() -> None:
    """Forget loaded plugins so the next call reloads them (tests, env changes)."""
    global _state
    with _lock:
        _state = None


def _call_each(
    hook_name: str,
    make_kwargs: Callable[[str], dict[str, Any]],
    gave: Callable[[str], str] = lambda plugin: "",
) -> None:
    """Call one hook implementation at a time, in registration order.

    A plugin whose hook raises is recorded as failed and skipped (or, with
    ``GBA_STRICT_PLUGINS=1``, the error propagates). ``PluginError`` raised by the core
    itself (duplicate names) always propagates. ``gave(plugin)`` describes what the
    plugin registered, for the trace.
    """
    state = _get_state()
    hook = getattr(state.pm.hook, hook_name)
    tracing = _tracing()
    for impl in hook.get_hookimpls():
        plugin = impl.plugin_name
        kwargs = make_kwargs(plugin)
        started = time.perf_counter()
        outcome = "ok"
        try:
            impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
            outcome = gave(plugin) or outcome
        except PluginError as exc:
            outcome = f"refused: {exc}"
            raise
        except ConfigError as exc:
            # The user's configuration is wrong, not the plugin: say it and stop.
            outcome = f"configuration error: {exc}"
            raise
        except Exception as exc:
            outcome = f"raised {_short_error(exc)}"
            if _strict():
                raise PluginError(
                    f"plugin {plugin!r} failed in {hook_name}: {_short_error(exc)}"
                ) from exc
            state.infos.setdefault(plugin, PluginInfo(name=plugin)).fail(hook_name, exc)
        finally:
            if tracing:
                ms = 1000 * (time.perf_counter() - started)
                _trace(f"{hook_name} → {plugin}: {outcome} ({ms:.1f} ms)")


class Registry(Generic[T]):
    """Named things collected from one hook, with the plugin that gave each one."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.items: dict[str, T] = {}
        self.origins: dict[str, str] = {}

    def add(self, name: str, item: T, plugin: str) -> None:
        if not isinstance(name, str) or not name:
            raise PluginError(f"plugin {plugin!r} registered a {self.kind} without a name")
        if name in self.items:
            raise PluginError(
                f"{self.kind} {name!r} is registered by two plugins: "
                f"{self.origins[name]!r} and {plugin!r}"
            )
        self.items[name] = item
        self.origins[name] = plugin


def collect(hook_name: str, kind: str, key: Callable[..., tuple[str, T]]) -> Registry[T]:
    """Run a register-style hook and gather what each plugin registers.

    ``key(*args, **kwargs)`` turns the arguments of one ``register`` call into
    ``(name, item)``.
    """
    registry: Registry[T] = Registry(kind)

    def make_kwargs(plugin: str) -> dict[str, Any]:
        def register(*args: Any, **kwargs: Any) -> None:
            name, item = key(*args, **kwargs)
            registry.add(name, item, plugin)

        return {"register": register}

    def gave(plugin: str) -> str:
        names = [name for name, origin in registry.origins.items() if origin == plugin]
        return f"registered {', '.join(names)}" if names else "registered nothing"

    _call_each(hook_name, make_kwargs, gave)
    return registry


def add_commands(cli: Any) -> None:
    """Let every plugin add its commands to the click group ``cli``."""
    _call_each("register_commands", lambda plugin: {"cli": cli})


def list_plugins() -> list[PluginInfo]:
    """Every plugin that was found, with the hooks it implements and any load error."""
    state = _get_state()
    for info in state.infos.values():
        plugin = state.pm.get_plugin(info.name)
        info.hooks = (
            sorted(caller.name for caller in state.pm.get_hookcallers(plugin) or [])
            if plugin is not None
            else []
        )
    return list(state.infos.values())


def register_plugin(plugin: object, name: str) -> None:
    """Register a plugin object at run time (tests, embedding applications)."""
    state = _get_state()
    state.pm.register(plugin, name=name)
    state.infos[name] = PluginInfo(name=name)
    _check_hook_names(state.pm, state.infos)


def unregister_plugin(name: str) -> None:
    state = _get_state()
    state.pm.unregister(name=name)
    state.infos.pop(name, None)
