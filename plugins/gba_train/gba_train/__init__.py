"""gba-train: LoRA fine-tuning of a planner on packaged trajectories (``gba sim
package``); export to GGUF for the ``llama-cpp:`` backend and step evaluation follow.

This module registers the ``gba train`` command group."""

from __future__ import annotations

from typing import Any

from gba_core import hookimpl


@hookimpl
def register_commands(cli: Any) -> None:
    from .cli import train

    cli.add_command(train)
