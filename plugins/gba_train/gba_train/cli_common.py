"""What the ``gba train`` commands share: the dataset option, and finding an adapter's
base model."""

from __future__ import annotations

from pathlib import Path

import click

from gba_core.errors import ConfigError
from gba_core.llm.embedded import EMBEDDED_MODELS, embedded_model_path

from .base import resolve_gguf

dataset_option = click.option(
    "--dataset",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A folder written by `gba sim package --out`.",
)


def adapter_and_base(adapter: Path, base: str | None) -> tuple[Path, Path]:
    """The adapter folder (OUT/adapter, or OUT given) and the base GGUF it was trained
    on: ``base``, else the one `gba train sft` recorded in report.json."""
    import json

    if (adapter / "adapter").is_dir():
        adapter = adapter / "adapter"
    report = adapter.parent / "report.json"
    if base is None and report.is_file():
        base = json.loads(report.read_text()).get("base_gguf")
    gguf = resolve_gguf(base) if base else None
    if gguf is None:
        raise ConfigError("say which GGUF the adapter is for with --base (a .gguf or gemma-3-270m)")
    return adapter, gguf


def model_name(gguf: Path) -> str:
    """The embedded model's short name for its own GGUF, else the path."""

    for name in EMBEDDED_MODELS:
        # Only a file that looks like the embedded one: building it costs 250 MB.
        if gguf.name.startswith(name) and gguf.resolve() == embedded_model_path(name).resolve():
            return name
    return str(gguf)
