"""Turning chat messages into prompt text.

Inference, dataset packaging and training all call ``format_messages`` so a fine-tuned
model sees at inference exactly the text it was trained on.

The plain format (for models whose GGUF carries no chat template, like the embedded
Gemma 3 270M base model) is::

    {system message}

    ### User
    {user message}

    ### Assistant
    {assistant message}{eos}

A system message, if any, comes first as bare text. With ``add_generation_prompt`` the
text ends with ``### Assistant`` and a newline, where the model continues.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from gba_core.llm.base import Message

PLAIN_ROLE_HEADERS = {"user": "### User", "assistant": "### Assistant"}
# Base models invent further turns ("### Agent", ...): any new header ends the answer.
PLAIN_STOPS = ("\n### ",)


def format_plain(
    messages: Sequence[Message], *, add_generation_prompt: bool = True, eos_token: str = ""
) -> str:
    parts: list[str] = []
    for i, message in enumerate(messages):
        role, content = message["role"], message["content"]
        if role == "system":
            if i != 0:
                raise ValueError("a system message may only come first")
            parts.append(content.strip() + "\n\n")
        elif role in PLAIN_ROLE_HEADERS:
            end = eos_token if role == "assistant" else ""
            parts.append(f"{PLAIN_ROLE_HEADERS[role]}\n{content}{end}\n\n")
        else:
            raise ValueError(f"unknown message role {role!r}")
    if add_generation_prompt:
        parts.append(PLAIN_ROLE_HEADERS["assistant"] + "\n")
    return "".join(parts)


@lru_cache(maxsize=8)
def _compile(template: str) -> Any:
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise ValueError(message)

    # Same environment settings as Hugging Face's apply_chat_template, so templates
    # written for it render identically here.
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    return env.from_string(template)


def format_messages(
    messages: Sequence[Message],
    *,
    chat_template: str | None = None,
    bos_token: str = "",
    eos_token: str = "",
    add_generation_prompt: bool = True,
) -> str:
    """Render messages with the model's chat template, or the plain format without one."""
    if not chat_template:
        return format_plain(
            messages, add_generation_prompt=add_generation_prompt, eos_token=eos_token
        )
    return _compile(chat_template).render(
        messages=list(messages),
        bos_token=bos_token,
        eos_token=eos_token,
        add_generation_prompt=add_generation_prompt,
    )


def stop_strings(chat_template: str | None) -> tuple[str, ...]:
    """Strings that end an assistant turn in free generation (the plain format's headers);
    templated models end turns with an end-of-generation token instead."""
    return () if chat_template else PLAIN_STOPS
