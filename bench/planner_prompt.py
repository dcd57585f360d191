"""Planner step: `fine-tuned` prompt vs `zero-shot` prompt, same request and scratchpad.

Prints prompt tokens and prompt-evaluation seconds (cold KV cache every run) for both
prompts and their ratio. Run alone on a quiet machine: python bench/planner_prompt.py
"""

from __future__ import annotations

from _common import REQUEST, SCRATCHPAD, bench_args, machine, median, tools

from gba_core.planners import FineTunedPlanner, ZeroShotPlanner
from gba_core.registry import get_llm


def main() -> None:
    args = bench_args(runs=5)
    llm = get_llm(args.llm)
    toolset = tools()
    scratchpad = SCRATCHPAD[:2]
    rows = {}
    for name, cls in (("zero-shot", ZeroShotPlanner), ("fine-tuned", FineTunedPlanner)):
        planner = cls(toolset, llm)
        prompt_s, total_s, tokens = [], [], 0
        for _ in range(args.runs):
            llm.reset_cache()
            completion = planner.plan(REQUEST, scratchpad).completion
            tokens = completion.prompt_tokens
            prompt_s.append(completion.extra["prompt_seconds"])
            total_s.append(completion.seconds)
        rows[name] = (tokens, median(prompt_s), median(total_s))
    print(f"# planner prompt: fine-tuned vs zero-shot ({machine()}, median of {args.runs})")
    print(f"{'prompt':<12}{'tokens':>8}{'prompt s':>10}{'step s':>9}")
    for name, (tokens, p, t) in rows.items():
        print(f"{name:<12}{tokens:>8}{p:>10.3f}{t:>9.3f}")
    z, f = rows["zero-shot"], rows["fine-tuned"]
    print(f"ratio fine-tuned/zero-shot: tokens {f[0] / z[0]:.2f}, prompt seconds {f[1] / z[1]:.2f}")
    print("(step seconds include generation, whose length depends on what the base model writes)")


if __name__ == "__main__":
    main()
