"""use_bash: the tool LLM writes a shell command, which runs in gba's sandbox after
the user allowed it."""

from __future__ import annotations

import re

from pydantic import BaseModel, Field

from gba_core.config import env_flag
from gba_core.roles import Output, RoleExample, ToolRole
from gba_core.sandbox import run_shell
from gba_core.schema import Scratchpad
from gba_core.tools import Tool, ToolContext, ToolOptions

from .settings import settings

DESCRIPTION = (
    "Run a shell command in a sandbox (no network, only a temporary directory is "
    "writable) and return its output."
)


class Command(BaseModel):
    command: str = Field(max_length=500, description="One bash command line.")


def right_output(example: RoleExample, output: Output) -> bool:
    """A command is right when its output in the sandbox has what the example expects."""
    if not isinstance(output, Command):
        return False
    outcome = run_shell(output.command, limits=settings().sandbox)
    return outcome.ok and all(re.search(p, outcome.stdout, re.I) for p in example.expected)


ROLE = ToolRole(
    "bash",
    "bash.j2",
    package=__package__,
    schema=Command,
    max_tokens=300,
    examples=("use_bash.jsonl",),
    check=right_output,
)


def allowed_in_advance(options: ToolOptions) -> bool:
    """Whether the user allowed every command up front (--allow-bash, GBA_ALLOW_BASH)."""
    return options.allow_bash or env_flag("GBA_ALLOW_BASH")


def allowed(command: str, ctx: ToolContext) -> bool:
    if allowed_in_advance(ctx.options):
        return True
    if not ctx.interactive:
        return False
    import click

    # On stderr, so `gba run --json` keeps stdout for the trajectory.
    return click.confirm(
        f"Run this command in the sandbox?\n  {command}\n", default=False, err=True
    )


class UseBash(Tool):
    name = "use_bash"
    description = DESCRIPTION
    roles = (ROLE,)

    def unavailable(self, *, interactive: bool, options: ToolOptions) -> str | None:
        if interactive or allowed_in_advance(options):
            return None
        return "no terminal to confirm commands on (gba run --allow-bash allows them)"

    def run(self, request: str, task: str, scratchpad: Scratchpad, ctx: ToolContext) -> str:
        command = ROLE.ask(ctx, request=request, task=task, scratchpad=scratchpad).command
        if not allowed(command, ctx):
            return (
                "Refused: running shell commands needs the user's permission "
                "(gba run --allow-bash, or confirm on a terminal)."
            )
        outcome = run_shell(command, limits=settings().sandbox)
        parts = [f"$ {command}"]
        if outcome.stdout.strip():
            parts.append(outcome.stdout.rstrip())
        if outcome.stderr.strip():
            parts.append(f"stderr: {outcome.stderr.rstrip()}")
        if outcome.truncated:
            parts.append("(output truncated)")
        if not outcome.ok:
            parts.append(f"Error: {outcome.describe_failure()}")
        return "\n".join(parts)
