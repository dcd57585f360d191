"""The whole loop, offline, on the embedded Gemma 3 270M:

    starter set → gba sim package → gba train sft → gba train export
      → gba train eval-steps (zero-shot vs fine-tuned, held-out steps)
      → gba sim eval (zero-shot vs fine-tuned, held-out requests) → gba sim compare

Every stage is a `gba` command, printed before it runs, so the sequence can be copied.
Stage times and the figures are written to OUT/loop.json and summarised at the end.

    .venv/bin/python scripts/offline_loop.py --out loop            # the full loop
    .venv/bin/python scripts/offline_loop.py --out loop --reduced  # a few steps (CI)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BASE = "llama-cpp:gemma-3-270m"


def gba() -> list[str]:
    found = shutil.which("gba", path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-c", "from gba_core.cli import main; main()"]


def stage(name: str, args: list[str], times: dict[str, float]) -> str:
    print(f"\n$ gba {' '.join(args)}", flush=True)
    started = time.perf_counter()
    done = subprocess.run([*gba(), *args], stdout=subprocess.PIPE, text=True)
    times[name] = round(time.perf_counter() - started, 1)
    print(done.stdout, end="", flush=True)
    if done.returncode:
        sys.exit(f"stage {name} failed (exit {done.returncode})")
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("loop"))
    parser.add_argument("--epochs", type=float, default=3.0)
    parser.add_argument("--learning-rate", default="1e-3")
    parser.add_argument("--grad-accum", default="4")
    parser.add_argument(
        "--lora-layers", default="9", help="adapt the last N of the 18 layers ('all': every one)"
    )
    parser.add_argument("--max-steps", type=int, default=-1, help="overrides --epochs")
    parser.add_argument("--step-runs", type=int, default=2, help="eval-steps runs")
    parser.add_argument("--step-limit", type=int, default=None, help="held-out steps")
    parser.add_argument("--sim-runs", type=int, default=1, help="gba sim eval runs")
    parser.add_argument("--sim-limit", type=int, default=4, help="held-out requests")
    parser.add_argument("--max-steps-per-request", default="4")
    parser.add_argument(
        "--reduced",
        action="store_true",
        help="CI: 3 optimizer steps and a few held-out steps and requests",
    )
    args = parser.parse_args()
    if args.reduced:
        args.max_steps, args.step_runs, args.step_limit = 3, 1, 6
        args.sim_runs, args.sim_limit, args.max_steps_per_request = 1, 2, "3"
    out: Path = args.out
    if out.exists() and any(out.iterdir()):
        # A second loop into the same folder would resume training and replay cached
        # evaluation calls keyed by the adapter's path: its figures would be stale.
        sys.exit(f"{out} is not empty: give the loop a new --out folder")
    out.mkdir(parents=True, exist_ok=True)
    os.environ["GBA_SIM_DB"] = str(out / "runs.sqlite")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    times: dict[str, float] = {}
    started = time.perf_counter()

    stage("starter", ["sim", "starter"], times)
    dataset = out / "dataset"
    stage(
        "package",
        [
            "sim", "package", "--run", "starter", "--judge", "reference",
            "--validation-split", "heldout", "--out", str(dataset),
        ],
        times,
    )  # fmt: skip
    planner_dir = out / "planner"
    training = ["--max-steps", str(args.max_steps)] if args.max_steps > 0 else []
    stage(
        "sft",
        [
            "train", "sft", "--dataset", str(dataset), "--out", str(planner_dir),
            "--epochs", str(args.epochs), "--learning-rate", args.learning_rate,
            "--grad-accum", args.grad_accum, "--validate", "end", "--resume", *training,
            *(["--lora-layers", args.lora_layers] if args.lora_layers != "all" else []),
        ],
        times,
    )  # fmt: skip
    exported = stage("export", ["train", "export", "--adapter", str(planner_dir)], times)
    tuned = exported.split("--planner-llm ", 1)[1].strip().strip("'")

    steps: dict[str, Any] = {}
    for planner, llm in (("zero-shot", BASE), ("fine-tuned", tuned)):
        report = out / f"steps-{planner}.json"
        stage(
            f"eval-steps {planner}",
            [
                "train", "eval-steps", "--dataset", str(dataset), "--planner", planner,
                "--planner-llm", llm, "--runs", str(args.step_runs),
                "--temperature", "0.7" if args.step_runs > 1 else "0",
                "--json", str(report),
                *(["--limit", str(args.step_limit)] if args.step_limit else []),
            ],
            times,
        )  # fmt: skip
        steps[planner] = json.loads(report.read_text())["summary"]

    for planner, llm in (("zero-shot", BASE), ("fine-tuned", tuned)):
        stage(
            f"sim eval {planner}",
            [
                "sim", "eval", "--planner", planner, "--planner-llm", llm,
                "--simulator-llm", BASE, "--judge-llm", BASE,
                "--requests", "heldout", "--limit", str(args.sim_limit),
                "--runs", str(args.sim_runs), "--max-steps", args.max_steps_per_request,
                "--json", str(out / f"sim-{planner}.json"),
            ],
            times,
        )  # fmt: skip
    stage(
        "compare",
        [
            "sim", "compare", str(out / "sim-zero-shot.json"), str(out / "sim-fine-tuned.json"),
            "--plot", str(out / "compare.png"),
        ],
        times,
    )  # fmt: skip

    total = round(time.perf_counter() - started, 1)
    zero, fine = steps["zero-shot"], steps["fine-tuned"]
    gain = fine["next_tool_accuracy"]["mean"] - zero["next_tool_accuracy"]["mean"]
    spread = max(fine["next_tool_accuracy"]["stderr"], zero["next_tool_accuracy"]["stderr"])
    shorter = zero["prompt_tokens"]["mean"] / max(fine["prompt_tokens"]["mean"], 1.0)
    summary = {
        "seconds": total,
        "stage_seconds": times,
        "next_tool_accuracy": {
            "zero-shot": zero["next_tool_accuracy"],
            "fine-tuned": fine["next_tool_accuracy"],
        },
        "valid_plan_rate": {
            "zero-shot": zero["valid_plan_rate"],
            "fine-tuned": fine["valid_plan_rate"],
        },
        "prompt_tokens": {
            "zero-shot": zero["prompt_tokens"],
            "fine-tuned": fine["prompt_tokens"],
        },
        "prompt_shorter_by": round(shorter, 2),
        "accuracy_gain": round(gain, 3),
        "accuracy_gain_over_spread": gain > spread,
        "reduced": args.reduced,
    }  # fmt: skip
    (out / "loop.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\nloop finished in {total / 60:.1f} min; stages (s): {times}")
    print(
        f"next-tool accuracy on held-out steps: fine-tuned {fine['next_tool_accuracy']['mean']:.3f}"
        f" ± {fine['next_tool_accuracy']['stderr']:.3f}, zero-shot"
        f" {zero['next_tool_accuracy']['mean']:.3f} ± {zero['next_tool_accuracy']['stderr']:.3f};"
        f" prompts {shorter:.1f}× shorter; summary in {out / 'loop.json'}"
    )


if __name__ == "__main__":
    main()
