"""``gba train``: fine-tune a planner on a packaged dataset."""

from __future__ import annotations

from pathlib import Path

import click

from .cli_common import adapter_and_base, dataset_option, model_name
from .cli_eval import eval_quant, eval_roles, eval_steps
from .export import export_lora_gguf
from .merge import export_merged_gguf
from .sft import SFTOptions
from .sft import train as run


@click.group()
def train() -> None:
    """Fine-tuning: LoRA on the examples `gba sim package` writes, so a small model
    becomes a planner that knows the installed tools without their descriptions."""


def _check_validate(value: str) -> str:
    if value in ("epoch", "end") or (value.isdigit() and int(value) > 0):
        return value
    raise click.BadParameter(f"{value!r}: give epoch, end or a number of steps above 0")


@train.command()
@dataset_option
@click.option(
    "--base",
    default="gemma-3-270m",
    show_default=True,
    help="Base model: the embedded model's name, a GGUF file (converted once, cached),"
    " a llama-cpp: spec, or a Hugging Face checkpoint folder.",
)
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--loss-on",
    type=click.Choice(["completion", "full"]),
    default="completion",
    show_default=True,
    help="Loss on the plan only, or on the whole text (prompt included).",
)
@click.option("--lora-r", type=click.IntRange(1), default=16, show_default=True)
@click.option("--lora-alpha", type=click.IntRange(1), default=32, show_default=True)
@click.option("--lora-dropout", type=click.FloatRange(0, 1), default=0.0, show_default=True)
@click.option(
    "--target-modules",
    default="all-linear",
    show_default=True,
    help="Comma-separated module names (q_proj,v_proj,...) or all-linear.",
)
@click.option(
    "--lora-layers",
    type=click.IntRange(1),
    default=None,
    help="Adapt only the last N decoder layers: the backward pass stops below them, so"
    " steps are faster.  [default: all layers]",
)
@click.option("--epochs", type=click.FloatRange(0, min_open=True), default=1.0, show_default=True)
@click.option(
    "--max-steps",
    type=int,
    default=-1,
    show_default=True,
    help="Optimizer steps; overrides --epochs.",
)
@click.option(
    "--learning-rate", type=click.FloatRange(0, min_open=True), default=2e-4, show_default=True
)
@click.option("--max-length", type=click.IntRange(16), default=1024, show_default=True)
@click.option("--batch-size", type=click.IntRange(1), default=1, show_default=True)
@click.option("--grad-accum", type=click.IntRange(1), default=2, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--resume", is_flag=True, help="Continue from the last checkpoint in OUT.")
@click.option("--threads", type=click.IntRange(1), default=None, help="CPU threads for torch.")
@click.option(
    "--gradient-checkpointing", is_flag=True, help="Recompute activations: less memory, slower."
)
@click.option(
    "--padding-free",
    is_flag=True,
    help="Concatenate each batch's examples into one row (no padding, larger matmuls);"
    " with --batch-size above 1.",
)
@click.option(
    "--qlora", is_flag=True, help="Train on a 4-bit base (QLoRA): needs CUDA and bitsandbytes."
)
@click.option("--save-steps", type=click.IntRange(1), default=50, show_default=True)
@click.option(
    "--validate",
    default="epoch",
    show_default=True,
    callback=lambda ctx, param, value: _check_validate(value),
    help="When to compute the validation loss: after each epoch, once at the end, or every"
    " N optimizer steps (epoch, end or N). Each pass costs about half a training epoch"
    " over the validation examples.",
)
def sft(
    dataset: Path,
    base: str,
    out: Path,
    loss_on: str,
    target_modules: str,
    **options: object,
) -> None:
    """Fine-tune BASE with a LoRA adapter on DATASET (trl's SFTTrainer). Writes
    OUT/adapter, OUT/checkpoints, OUT/report.json (counts, losses) and OUT/loss.png."""

    report = run(
        SFTOptions(
            dataset=dataset,
            out=out,
            base=base,
            completion_only=loss_on == "completion",
            target_modules=[m.strip() for m in target_modules.split(",") if m.strip()],
            **options,  # type: ignore[arg-type]
        )
    )
    for split in ("train", "validation"):
        if report["truncated"][split]:
            click.echo(
                f"warning: {report['truncated'][split]} {split} examples were longer than"
                f" --max-length and cut ({report['dropped'][split]} dropped: nothing left"
                " to learn)",
                err=True,
            )
    eval_loss = f", validation loss {report['eval_loss'][-1]:.4f}" if report["eval_loss"] else ""
    click.echo(
        f"{report['steps']} optimizer steps, train loss {report['train_loss']:.4f}{eval_loss};"
        f" adapter in {report['adapter']}"
    )


@train.command()
@click.option(
    "--adapter",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The adapter folder (OUT/adapter of `gba train sft`), or OUT itself.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["lora-gguf", "merged-gguf"]),
    default="lora-gguf",
    show_default=True,
    help="lora-gguf: a llama.cpp LoRA adapter to load beside the base GGUF. merged-gguf:"
    " one GGUF, the base with the adapter folded in.",
)
@click.option(
    "--quantize",
    type=click.Choice(["f16", "q8_0", "q4_k_m"]),
    default=None,
    help="merged-gguf only: quantize with llama.cpp's quantizer (default: the adapted"
    " weights stay float32, the others as in the base).",
)
@click.option(
    "--base",
    default=None,
    help="The base GGUF (default: the one `gba train sft` recorded in report.json).",
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None)
def export(
    adapter: Path, fmt: str, quantize: str | None, base: str | None, out: Path | None
) -> None:
    """Export an adapter for the llama-cpp: backend; prints the spec to use it with."""

    if quantize and fmt != "merged-gguf":
        raise click.UsageError("--quantize goes with --format merged-gguf")
    adapter, gguf = adapter_and_base(adapter, base)
    if fmt == "lora-gguf":
        target = out or adapter.parent / "adapter.gguf"
        export_lora_gguf(adapter, gguf, target)
        from urllib.parse import quote

        # Quoted: a path with &, # or % would otherwise break the spec's query string.
        lora = quote(str(target), safe="/:")
        click.echo(f"{target}\nuse it as: --planner-llm 'llama-cpp:{model_name(gguf)}?lora={lora}'")
        return
    target = out or adapter.parent / f"merged-{quantize or 'f32'}.gguf"
    from rich.console import Console

    with Console(stderr=True).status(f"merging the adapter into {gguf.name}…"):
        export_merged_gguf(adapter, gguf, target, quantize)
    click.echo(f"{target}\nuse it as: --planner-llm 'llama-cpp:{target}'")


train.add_command(eval_roles)
train.add_command(eval_steps)
train.add_command(eval_quant)
