"""Tools: real ones act on the world, simulated twins answer through an LLM.

A tool receives the user's request, the planner's task in plain words, the scratchpad
of previous (task, result) pairs, and a ``ToolContext`` carrying the LLM of its role
(the tool LLM for real tools, the simulator LLM for twins) and a random generator
seeded per trajectory, so failure injection replays exactly.
"""

from __future__ import annotations

import inspect
import json
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, get_type_hints

from pydantic import BaseModel, Field, create_model

from gba_core.errors import PluginError
from gba_core.llm.base import LLM
from gba_core.prompts import render_messages
from gba_core.roles import ToolRole
from gba_core.schema import Scratchpad

TOOL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# Bound on plain ``str`` arguments of function tools: a bound in the schema is a bound in
# the grammar, so a degenerate model cannot write until max_tokens cuts the JSON.
ARGUMENT_MAX_CHARS = 1000
ToolMode = Literal["real", "simulated"]


@dataclass(frozen=True)
class ToolOptions:
    """What a run tells its tools beside the task (``ToolContext.options``)."""

    # use_bash runs commands without asking (--allow-bash).
    allow_bash: bool = False
    # Twins: tool name -> failure probability, or outcome name -> probability.
    failure_rates: Mapping[str, float | Mapping[str, float]] = field(default_factory=dict)
    # "simple": final_answer returns the planner's task, with no LLM call.
    direct_answer: str = "llm"
    # A JSON file of answers for ask_user when nobody is at the terminal.
    ask_user_answers: str | None = None


@dataclass
class ToolContext:
    """What a tool may use while it runs."""

    llm: LLM
    rng: random.Random = field(default_factory=random.Random)
    options: ToolOptions = field(default_factory=ToolOptions)
    interactive: bool = False
    # The user's date: "tomorrow" in a task is resolved against it, as the planner does.
    today: date | None = None


def structured_answer(
    ctx: ToolContext,
    template: str,
    schema: type[BaseModel],
    *,
    request: str,
    task: str,
    scratchpad: Scratchpad,
    package: str = "gba_core",
    max_tokens: int = 512,
    **variables: Any,
) -> Any:
    """Render a tool's prompt template and have the tool's LLM answer it as ``schema``
    (schema-guided output, validated): how real tools turn a task into an action."""
    role = ToolRole(template, template, package=package, schema=schema, max_tokens=max_tokens)
    return role.ask(ctx, request=request, task=task, scratchpad=scratchpad, **variables)


class Tool:
    """A real tool. Subclasses set ``name`` and ``description`` and implement ``run``."""

    name: str = ""
    description: str = ""
    # The LLM calls the tool makes, so their examples can train and measure the tool LLM.
    roles: tuple[ToolRole, ...] = ()
    # Where the tool runs when its plugin serves tools of several origins (the MCP server
    # it comes from); ``gba tools`` shows it beside the plugin.
    source: str = ""

    def run(self, request: str, task: str, scratchpad: Scratchpad, ctx: ToolContext) -> str:
        raise NotImplementedError

    def unavailable(self, *, interactive: bool, options: ToolOptions) -> str | None:
        """Why the tool cannot work as configured, in a few words (None: it can).

        The planner is not offered an unavailable tool, so it cannot pick a tool that
        can only fail; ``gba tools`` shows the reason. ``options`` are the run's tool
        options (``allow_bash`` ...), ``interactive`` whether the user is at a terminal.
        """
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class SimulatedTool(Tool):
    """An LLM-backed twin. By default it renders ``simulated_tool.j2`` (or the
    ``template`` of a subclass, from ``template_package``) and returns the simulator's
    answer.

    Failure injection: with probability ``failure_rate`` (or
    ``ctx.options.failure_rates[name]``) the simulator is asked for the error answer
    the real tool would give. A twin with several ways to fail overrides
    ``outcome_rates`` (outcome name -> probability); ``ctx.options.failure_rates[name]``
    may then be such a mapping. The draw comes from ``ctx.rng``, seeded per trajectory,
    and happens on every call, so a trajectory replays exactly.
    """

    template: str = "simulated_tool.j2"
    template_package: str = "gba_core"
    max_tokens: int = 300
    failure_rate: float = 0.0

    def __init__(
        self, name: str = "", description: str = "", *, failure_rate: float | None = None
    ) -> None:
        if name:
            self.name = name
        if description:
            self.description = description
        if failure_rate is not None:
            self.failure_rate = failure_rate

    def outcome_rates(self) -> dict[str, float]:
        """Probability of each failure outcome when nothing overrides it."""
        return {"failure": self.failure_rate}

    def outcome(self, ctx: ToolContext) -> str:
        """The outcome of this call (``"success"`` or a key of ``outcome_rates``), drawn
        from the seeded generator."""
        override = ctx.options.failure_rates.get(self.name)
        if override is None:
            rates = self.outcome_rates()
        elif isinstance(override, Mapping):
            rates = {**self.outcome_rates(), **override}
        else:
            rates = {"failure": float(override)}
        draw = ctx.rng.random()
        for name, rate in rates.items():
            if draw < rate:
                return name
            draw -= rate
        return "success"

    def template_variables(self) -> dict[str, Any]:
        return {}

    def run(self, request: str, task: str, scratchpad: Scratchpad, ctx: ToolContext) -> str:
        messages = render_messages(
            self.template,
            package=self.template_package,
            name=self.name,
            description=self.description,
            request=request,
            task=task,
            scratchpad=scratchpad,
            outcome=self.outcome(ctx),
            **self.template_variables(),
        )
        return ctx.llm.complete(messages, max_tokens=self.max_tokens).content.strip()


_DOC_SECTION = re.compile(r"^(Args|Arguments|Parameters|Params)\s*:?\s*$", re.I)
_DOC_OTHER_SECTION = re.compile(r"^[A-Z]\w*( \w+)?\s*:\s*$")
_DOC_ARG = re.compile(r"^\s*\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_DOC_SPHINX = re.compile(r"^\s*:param\s+(?:[\w\[\], |]+\s+)?(\w+)\s*:\s*(.*)$")


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """The first paragraph and the per-argument descriptions of a Google-style
    (``Args:`` section) or Sphinx-style (``:param x:``) docstring."""
    lines = inspect.cleandoc(doc or "").splitlines()
    summary: list[str] = []
    for line in lines:
        if not line.strip() or _DOC_SECTION.match(line) or _DOC_SPHINX.match(line):
            break
        summary.append(line.strip())
    args: dict[str, str] = {}
    in_args = False
    current: str | None = None
    arg_indent: int | None = None
    for line in lines[len(summary) :]:
        indent = len(line) - len(line.lstrip())
        if m := _DOC_SPHINX.match(line):
            current, args[m.group(1)] = m.group(1), m.group(2).strip()
            continue
        if _DOC_SECTION.match(line):
            in_args, current, arg_indent = True, None, None
            continue
        if _DOC_OTHER_SECTION.match(line):
            in_args, current = False, None
            continue
        m = _DOC_ARG.match(line) if in_args else None
        if m and (arg_indent is None or indent <= arg_indent):
            arg_indent = indent
            current, args[m.group(1)] = m.group(1), m.group(2).strip()
        elif current and line.strip() and indent > 0:
            args[current] = f"{args[current]} {line.strip()}".strip()
    return " ".join(summary), args


def as_written(value: str, *sources: str) -> str:
    """A one-word argument spelt as its source (the task, the request or an earlier
    result) spells it. A small model copies an address or a code and changes its case
    ("Reception@example.com" for "reception@example.com"); text with spaces is left as
    the model wrote it."""
    if not value or any(ch.isspace() for ch in value):
        return value
    if any(value in source for source in sources):
        return value
    for source in sources:
        if found := re.search(re.escape(value), source, re.IGNORECASE):
            return found.group(0)
    return value


class FunctionTool(Tool):
    """A typed function as a tool.

    The argument model comes from the signature and docstring; the tool LLM fills it
    through schema-guided output and the function is called with the validated values
    (no ``exec`` of generated code). A parameter annotated ``ToolContext`` receives the
    context instead of an LLM-filled value. The result is returned as text (JSON for
    non-string results). ``examples`` names files of argument examples in the
    ``role_examples/`` folder of ``examples_package`` (the package defining ``func``).
    """

    template: str = "function_tool.j2"

    def __init__(
        self,
        func: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        examples: tuple[str, ...] = (),
        examples_package: str | None = None,
    ) -> None:
        self.func = func
        self.name = name or func.__name__
        summary, arg_docs = parse_docstring(func.__doc__)
        self.description = description or summary
        if not self.description:
            raise ValueError(f"function tool {self.name!r} needs a docstring or a description")
        hints = get_type_hints(func)
        fields: dict[str, Any] = {}
        self._ctx_param: str | None = None
        for param in inspect.signature(func).parameters.values():
            annotation = hints.get(param.name, str)
            if annotation is ToolContext:
                self._ctx_param = param.name
                continue
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise ValueError(f"function tool {self.name!r}: *args/**kwargs are not supported")
            default = ... if param.default is inspect.Parameter.empty else param.default
            bound = {"max_length": ARGUMENT_MAX_CHARS} if annotation is str else {}
            fields[param.name] = (
                annotation,
                # The signature's default (``...``: required) becomes the field's.
                Field(default, description=arg_docs.get(param.name), **bound),  # type: ignore[call-overload]
            )
        model_name = "".join(part.title() for part in self.name.split("_")) + "Arguments"
        self.args_model: type[BaseModel] = create_model(model_name, **fields)
        # Enough tokens for every bounded string at its longest, plus the JSON around.
        n_str = sum(1 for annotation, _ in fields.values() if annotation is str)
        self.max_tokens = n_str * ARGUMENT_MAX_CHARS + 64 * len(fields) + 128
        self.role = ToolRole(
            "arguments",
            self.template,
            schema=self.args_model,
            max_tokens=self.max_tokens,
            variables={"name": self.name, "description": self.description},
            examples=examples,
            examples_package=examples_package or func.__module__.split(".")[0],
        )
        self.roles = (self.role,)

    def fill_arguments(
        self, request: str, task: str, scratchpad: Scratchpad, ctx: ToolContext
    ) -> BaseModel:
        answer: BaseModel = self.role.ask(ctx, request=request, task=task, scratchpad=scratchpad)
        sources = (task, request, *(entry.result for entry in scratchpad))
        for name, value in answer:
            if isinstance(value, str) and (kept := as_written(value, *sources)) != value:
                setattr(answer, name, kept)
        return answer

    def run(self, request: str, task: str, scratchpad: Scratchpad, ctx: ToolContext) -> str:
        arguments = self.fill_arguments(request, task, scratchpad, ctx)
        kwargs = dict(arguments)
        if self._ctx_param:
            kwargs[self._ctx_param] = ctx
        result = self.func(**kwargs)
        return result if isinstance(result, str) else json.dumps(result, default=str)


class SimulatedFunctionTool(SimulatedTool):
    """The twin of a ``FunctionTool``, for free: the simulator LLM plays the function from
    its name, description and argument schema, and answers as the function would."""

    template = "simulated_function.j2"

    def __init__(self, tool: FunctionTool, *, failure_rate: float | None = None) -> None:
        super().__init__(tool.name, tool.description, failure_rate=failure_rate)
        self.arguments = json.dumps(tool.args_model.model_json_schema()["properties"], indent=1)

    def template_variables(self) -> dict[str, Any]:
        return {"arguments": self.arguments}


def simulate(tool: FunctionTool, *, failure_rate: float | None = None) -> SimulatedFunctionTool:
    """The simulated twin of a function tool (``register(simulate(my_tool))``)."""
    return SimulatedFunctionTool(tool, failure_rate=failure_rate)


@dataclass
class ToolSet:
    """The installed tools: real ones and simulated twins, paired by name."""

    real: dict[str, Tool] = field(default_factory=dict)
    simulated: dict[str, Tool] = field(default_factory=dict)
    origins: dict[tuple[str, ToolMode], str] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return list(dict.fromkeys([*self.real, *self.simulated]))

    def missing_twins(self) -> dict[str, ToolMode]:
        """Tool name -> which side is missing."""
        missing: dict[str, ToolMode] = {}
        for name in self.names:
            if name not in self.simulated:
                missing[name] = "simulated"
            elif name not in self.real:
                missing[name] = "real"
        return missing

    def for_mode(self, mode: ToolMode, *, allow_unpaired: bool = True) -> dict[str, Tool]:
        if not allow_unpaired and (missing := self.missing_twins()):
            listed = ", ".join(f"{n} (no {side} tool)" for n, side in missing.items())
            raise PluginError(f"unpaired tools: {listed}")
        return dict(self.real if mode == "real" else self.simulated)

    def description(self, name: str) -> str:
        tool = self.real.get(name) or self.simulated[name]
        return tool.description


def offered_tools(
    tools: Mapping[str, Tool], *, interactive: bool, options: ToolOptions
) -> tuple[dict[str, Tool], dict[str, str]]:
    """The tools a planner may pick, and the reason for each one left out."""
    offered: dict[str, Tool] = {}
    reasons: dict[str, str] = {}
    for name, tool in tools.items():
        if reason := tool.unavailable(interactive=interactive, options=options):
            reasons[name] = reason
        else:
            offered[name] = tool
    return offered, reasons


def tool_descriptions(tools: Mapping[str, Tool]) -> dict[str, str]:
    return {name: tool.description for name, tool in tools.items()}
