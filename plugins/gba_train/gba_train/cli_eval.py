"""``gba train eval-roles``, ``eval-steps`` and ``eval-quant``: score models on held-out
examples (tool roles, planner steps, a planner's exports)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from gba_core.config import llm_spec_for
from gba_core.errors import ConfigError
from gba_core.registry import get_llm, get_planner, load_toolset, real_tools_named
from gba_core.roles import evaluate_roles, role_cases

from .cli_common import adapter_and_base, dataset_option, model_name
from .data import read_split
from .evaluate import evaluate_steps, held_out_steps
from .quant import LORA, QUANTIZATIONS, comparison, variants


@click.command("eval-roles")
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


@click.command("eval-steps")
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


@click.command("eval-quant")
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
@click.option(
    "--planner",
    default="fine-tuned",
    show_default=True,
    help="The planner the adapter was trained for (fine-tuned-brief: `gba sim package --brief`).",
)
@click.option("--split", default="validation", show_default=True, help="Dataset split.")
@click.option("--limit", type=click.IntRange(1), default=None, help="At most this many steps.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
def eval_quant(
    adapter: Path,
    dataset: Path,
    names: tuple[str, ...],
    base: str | None,
    planner: str,
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

            def planner_for(_run: int, llm: Any = llm) -> Any:
                return get_planner(planner, tools=tools, llm=llm)

            def advance(task: Any = task, progress: Any = progress) -> None:
                progress.advance(task)

            reports.append(
                evaluate_steps(
                    rows, planner_for, planner=planner, llm=variant.spec, on_step=advance
                )
            )
    table_rows = comparison(built, reports)
    table = Table(title=f"{planner} planner on {len(rows)} {split} steps, greedy")
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
