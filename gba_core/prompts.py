"""Jinja2 templates and the one renderer of prompts.

A template holds one block per message, in order: ``{% block system %}``,
``{% block user %}`` and optionally ``{% block assistant %}``. Plugins keep their own
templates in a ``templates/`` folder of their package and pass ``package=__name__``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from functools import lru_cache
from typing import Any

from gba_core.llm.base import Message
from gba_core.schema import Scratchpad

MESSAGE_BLOCKS = ("system", "user", "assistant")
# Not strftime("%A"): its names follow the process locale, and a prompt rendered under
# another locale than the one training saw would differ.
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@lru_cache(maxsize=32)
def environment(package: str = "gba_core") -> Any:
    import jinja2

    loaders: list[jinja2.BaseLoader] = [jinja2.PackageLoader(package, "templates")]
    if package != "gba_core":
        loaders.append(jinja2.PackageLoader("gba_core", "templates"))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["weekday"] = lambda day: WEEKDAYS[day.weekday()]
    return env


def render_messages(
    template_name: str, *, package: str = "gba_core", **variables: Any
) -> list[Message]:
    """Render each message block of a template into a chat message."""
    template = environment(package).get_template(template_name)
    context = template.new_context(variables)
    messages: list[Message] = []
    for role in MESSAGE_BLOCKS:
        block = template.blocks.get(role)
        if block is not None:
            text = "".join(block(context)).strip()
            if text:
                messages.append({"role": role, "content": text})
    if not messages:
        raise ValueError(f"template {template_name!r} has no message block")
    return messages


def render_planner_prompt(
    template_name: str,
    *,
    request: str,
    scratchpad: Scratchpad,
    tools: Mapping[str, str] | Sequence[str],
    today: date | None,
    package: str = "gba_core",
) -> list[Message]:
    """The planner prompt. Inference, dataset packaging and training all call this.

    ``tools`` maps tool names to descriptions (zero-shot prompts list them) or is just
    the names. ``today`` is the user's date (None leaves the date line out); it has no
    default so that no caller renders a training prompt without the trajectory's date.
    Templates put the stable part first (instructions, tools, date, request) and the
    growing scratchpad after it, so llama.cpp can reuse its KV cache across steps.
    """
    tool_map = dict(tools) if isinstance(tools, Mapping) else dict.fromkeys(tools, "")
    return render_messages(
        template_name,
        package=package,
        request=request,
        scratchpad=scratchpad,
        tools=tool_map,
        today=today,
    )
