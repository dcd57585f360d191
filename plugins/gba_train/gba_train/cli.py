"""``gba train``: fine-tune a planner on a packaged dataset."""

from __future__ import annotations

from pathlib import Path

import click

dataset_option = click.option(
    "--dataset",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A folder written by `gba sim package --out`.",
)


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
    from .sft import SFTOptions
    from .sft import train as run

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


def adapter_and_base(adapter: Path, base: str | None) -> tuple[Path, Path]:
    """The adapter folder (OUT/adapter, or OUT given) and the base GGUF it was trained
    on: ``base``, else the one `gba train sft` recorded in report.json."""
    import json

    from gba_core.errors import ConfigError

    from .base import resolve_gguf

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
    from gba_core.llm.embedded import EMBEDDED_MODELS, embedded_model_path

    for name in EMBEDDED_MODELS:
        # Only a file that looks like the embedded one: building it costs 250 MB.
        if gguf.name.startswith(name) and gguf.resolve() == embedded_model_path(name).resolve():
            return name
    return str(gguf)


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

    from .export import export_lora_gguf
    from .merge import export_merged_gguf

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


@train.command("eval-roles")
@click.option(
    "--tool-llm",
    "--llm",
    "tool_llm",
    metavar="SPEC",
    help="LLM of the tool role (default: as configured).",
)
@click.option(
    "--tool",
    "tool_names",
    multiple=True,
    metavar="NAME",
    help="Only this tool's roles (repeatable; default: every installed real tool).",
)
@click.option(
    "--split",
    type=click.Choice(["heldout", "train"]),
    default="heldout",
    show_default=True,
    help="Which role examples.",
)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
def eval_roles(
    tool_llm: str | None, tool_names: tuple[str, ...], split: str, json_path: Path | None
) -> None:
    """Score a model on the tool roles (the LLM calls inside real tools) with their
    held-out role examples: accuracy per role, each answer checked as the tool would
    use it (a calculation by running it, arguments field by field)."""
    import json
    from collections import defaultdict

    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from gba_core.config import llm_spec_for
    from gba_core.errors import ConfigError
    from gba_core.llm import get_llm
    from gba_core.roles import evaluate_roles, real_tools_named, role_cases

    chosen = real_tools_named(tool_names)
    cases = role_cases(chosen, split)
    if not cases:
        raise ConfigError(f"no {split} role examples for {', '.join(sorted(chosen))}")
    spec, _ = llm_spec_for("tool", {"tool": tool_llm})
    llm = get_llm(spec)
    console = Console(stderr=True)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"roles on {split}", total=len(cases))
        results = evaluate_roles(cases, llm, on_done=lambda _: progress.advance(task))
    by_role: dict[str, list] = defaultdict(list)
    for result in results:
        by_role[result.role].append(result)
    table = Table(title=f"tool roles on {split} examples: {spec}")
    for column in ("role", "examples", "accuracy", "s/call"):
        table.add_column(column, justify="left" if column == "role" else "right")
    summary = {}
    for role, items in sorted(by_role.items()):
        accuracy = sum(r.correct for r in items) / len(items)
        seconds = sum(r.seconds for r in items) / len(items)
        summary[role] = {"examples": len(items), "accuracy": accuracy, "seconds": seconds}
        table.add_row(role, str(len(items)), f"{accuracy:.3f}", f"{seconds:.2f}")
    overall = sum(r.correct for r in results) / len(results)
    table.add_row("all", str(len(results)), f"{overall:.3f}", "")
    Console().print(table)
    if json_path:
        report = {
            "llm": spec,
            "split": split,
            "accuracy": overall,
            "roles": summary,
            "results": [vars(r) for r in results],
        }
        json_path.write_text(json.dumps(report, indent=2) + "\n")


@train.command("eval-steps")
@dataset_option
@click.option("--planner-llm", required=True, metavar="SPEC", help="LLM of the planner.")
@click.option(
    "--planner",
    default="fine-tuned",
    show_default=True,
    help="Planner name (fine-tuned: no tool descriptions; zero-shot: with them).",
)
@click.option("--split", default="validation", show_default=True, help="Dataset split.")
@click.option("--runs", type=click.IntRange(1), default=1, show_default=True)
@click.option(
    "--temperature",
    type=click.FloatRange(0),
    default=0.0,
    show_default=True,
    help="Sampling temperature (seeded per run); above 0, runs differ and the spread means"
    " something.",
)
@click.option("--limit", type=click.IntRange(1), default=None, help="At most this many steps.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
def eval_steps(
    dataset: Path,
    planner_llm: str,
    planner: str,
    split: str,
    runs: int,
    temperature: float,
    limit: int | None,
    json_path: Path | None,
) -> None:
    """Score a planner on held-out steps: next-tool accuracy, plan-schema validity,
    prompt tokens and seconds per step (mean ± standard error over --runs)."""
    import json

    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from gba_core.llm import get_llm
    from gba_core.planners import get_planner
    from gba_core.tools import load_toolset

    from .data import read_split
    from .evaluate import evaluate_steps, held_out_steps

    rows = held_out_steps(read_split(dataset, split))[:limit]
    tools = load_toolset().for_mode("simulated")
    llm = get_llm(planner_llm)

    def make_planner(run: int) -> object:
        sampling = {"temperature": temperature, "seed": run} if temperature > 0 else {}
        return get_planner(planner, tools=tools, llm=llm, **sampling)

    console = Console(stderr=True)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"{planner} on {split}", total=len(rows) * runs)
        report = evaluate_steps(
            rows,
            make_planner,
            planner=planner,
            llm=llm.spec,  # the backend's spec: an api_key option stays out
            runs=runs,
            on_step=lambda: progress.advance(task),
        )
    table = Table(title=f"{planner} ({llm.spec}) on {len(rows)} {split} steps, {runs} run(s)")
    table.add_column("metric")
    table.add_column("mean ± stderr", justify="right")
    for metric, (mean, stderr) in report.summary().items():
        table.add_row(metric, f"{mean:.3f} ± {stderr:.3f}")
    Console().print(table)
    for expected, chosen in sorted(report.confusion.items()):
        total = sum(chosen.values())
        others = ", ".join(f"{k} {n}" for k, n in sorted(chosen.items()) if k != expected)
        click.echo(
            f"  {expected}: {chosen.get(expected, 0)}/{total}" + (f" ({others})" if others else "")
        )
    if json_path:
        json_path.write_text(json.dumps(report.to_json(), indent=2) + "\n")


@train.command("eval-quant")
@click.option(
    "--adapter",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The planner's adapter folder (OUT/adapter of `gba train sft`), or OUT itself.",
)
@dataset_option
@click.option(
    "--variant",
    "names",
    multiple=True,
    type=click.Choice(["f16", "q8_0", "q4_k_m", "lora"]),
    help="Repeatable (default: f16, q8_0, q4_k_m, then lora: the adapter beside the base,"
    " as gba ships it). The first is the one the others are compared with step by step.",
)
@click.option("--base", default=None, help="The base GGUF (default: from report.json).")
@click.option("--split", default="validation", show_default=True, help="Dataset split.")
@click.option("--limit", type=click.IntRange(1), default=None, help="At most this many steps.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
def eval_quant(
    adapter: Path,
    dataset: Path,
    names: tuple[str, ...],
    base: str | None,
    split: str,
    limit: int | None,
    json_path: Path | None,
) -> None:
    """Score a fine-tuned planner's exports side by side on held-out steps: the adapter
    merged and written at f16, q8_0 and q4_k_m, and the adapter beside the base GGUF.
    Exports are made beside the adapter (again when it is newer). Prints next-tool
    accuracy ± its standard error over steps, the steps each variant gains and loses
    against the first, plan validity, plan tokens and seconds per step (greedy)."""
    import json

    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from gba_core.llm import get_llm
    from gba_core.planners import get_planner
    from gba_core.tools import load_toolset

    from .data import read_split
    from .evaluate import evaluate_steps, held_out_steps
    from .quant import LORA, QUANTIZATIONS, comparison, variants

    adapter, gguf = adapter_and_base(adapter, base)
    rows = held_out_steps(read_split(dataset, split))[:limit]
    tools = load_toolset().for_mode("simulated")
    console = Console(stderr=True)
    with console.status("exporting…") as status:
        built = variants(
            adapter,
            gguf,
            model_name(gguf),
            names or (*QUANTIZATIONS, LORA),
            on_build=lambda name: status.update(f"exporting {name}…"),
        )
    reports = []
    for variant in built:
        llm = get_llm(variant.spec)
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(variant.name, total=len(rows))
            reports.append(
                evaluate_steps(
                    rows,
                    lambda _run, llm=llm: get_planner("fine-tuned", tools=tools, llm=llm),
                    planner="fine-tuned",
                    llm=variant.spec,
                    on_step=lambda task=task, progress=progress: progress.advance(task),
                )
            )
    table_rows = comparison(built, reports)
    table = Table(title=f"fine-tuned planner on {len(rows)} {split} steps, greedy")
    for column in (
        "variant",
        "MB",
        "next tool ± s.e.",
        f"vs {built[0].name}",
        "valid",
        "tokens",
        "s/step",
    ):
        table.add_column(column, justify="left" if column == "variant" else "right")
    for row in table_rows:
        table.add_row(
            row["variant"],
            f"{row['megabytes']:.1f}",
            f"{row['next_tool_accuracy']:.3f} ± {row['stderr']:.3f}",
            f"+{row['gained_vs_first']} / -{row['lost_vs_first']}",
            f"{row['valid_plan_rate']:.3f}",
            f"{row['plan_tokens']:.1f}",
            f"{row['seconds_per_step']:.2f}",
        )
    Console().print(table)
    if json_path:
        json_path.write_text(
            json.dumps({"split": split, "steps": len(rows), "variants": table_rows}, indent=2)
            + "\n"
        )
