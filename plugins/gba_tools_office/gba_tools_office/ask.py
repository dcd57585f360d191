"""ask_user: asks on the terminal; non-interactive runs follow a policy: answers from a
file, or a report that the user is not available."""

from __future__ import annotations

import json
from pathlib import Path

from gba_core.errors import ConfigError
from gba_core.schema import Scratchpad
from gba_core.tools import Tool, ToolContext

from .settings import settings

DESCRIPTION = (
    "Ask the user a question when information only they have is missing (preferences, "
    "personal details, decisions). The task is the question."
)
UNAVAILABLE = "The user is not available to answer questions right now."


def file_answer(question: str, path: Path) -> str | None:
    """Answers file: a JSON object mapping phrases to answers (the first phrase found in
    the question wins; the key "*" answers anything else)."""
    try:
        answers = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the ask_user answers file {path}: {exc}") from exc
    if not isinstance(answers, dict):
        raise ConfigError(f"{path}: the answers file must hold a JSON object")
    lowered = question.lower()
    for phrase, answer in answers.items():
        if phrase != "*" and phrase.lower() in lowered:
            return str(answer)
    return None if "*" not in answers else str(answers["*"])


class AskUser(Tool):
    name = "ask_user"
    description = DESCRIPTION

    def run(self, request: str, task: str, scratchpad: Scratchpad, ctx: ToolContext) -> str:
        if ctx.interactive:
            import click

            answer = click.prompt(
                f"The agent asks: {task}\nYour answer", default="", show_default=False, err=True
            )
            return f"The user answered: {answer}" if answer.strip() else "The user gave no answer."
        answers = ctx.options.ask_user_answers or settings().ask_user_answers
        if answers:
            found = file_answer(task, Path(answers).expanduser())
            if found is not None:
                return f"The user answered: {found}"
        return UNAVAILABLE
