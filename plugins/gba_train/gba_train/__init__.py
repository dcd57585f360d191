"""gba-train: LoRA fine-tuning of a planner on packaged trajectories (``gba sim
package``); export to GGUF for the ``llama-cpp:`` backend and step evaluation follow.

This module registers the ``gba train`` command group."""

from __future__ import annotations

from typing import Any

from gba_core import hookimpl


@hookimpl
def register_commands(cli: Any) -> None:
    from gba_core.cli import LazyCommand

    # Loaded when it runs: `gba --help` lists it without importing .cli.
    help = (
        "Fine-tuning: LoRA on the examples `gba sim package` writes, so a small model "
        "becomes a planner that knows the installed tools without their descriptions."
    )
    cli.add_command(LazyCommand("train", "gba_train.cli:train", help))
