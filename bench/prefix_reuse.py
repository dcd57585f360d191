"""Steps 1..5 of one request: prompt-evaluation seconds per step against new tokens.

Each step's prompt extends the previous one by one (task, result) pair. With the KV
cache kept between steps only the new tail is evaluated; the cold column resets the
cache before each step. Run alone: python bench/prefix_reuse.py
"""

from __future__ import annotations

from _common import REQUEST, SCRATCHPAD, bench_args, machine, median, tools

from gba_core.planners import ZeroShotPlanner
from gba_core.registry import get_llm


def main() -> None:
    args = bench_args(runs=5)
    llm = get_llm(args.llm)
    planner = ZeroShotPlanner(tools(), llm)
    messages = [planner.messages(REQUEST, SCRATCHPAD[:k]) for k in range(5)]
    prompt_tokens = [len(llm.tokenize(llm.render(m))) for m in messages]
    warm: list[list[float]] = [[] for _ in messages]
    cold: list[list[float]] = [[] for _ in messages]
    evaluated = [0] * len(messages)
    for _ in range(args.runs):
        llm.reset_cache()
        for i, m in enumerate(messages):  # one request, step after step
            c = llm.complete(m, max_tokens=1)
            warm[i].append(c.extra["prompt_seconds"])
            evaluated[i] = c.prompt_tokens_evaluated
        for i, m in enumerate(messages):
            llm.reset_cache()
            cold[i].append(llm.complete(m, max_tokens=1).extra["prompt_seconds"])
    print(f"# prefix reuse across the steps of one request ({machine()}, median of {args.runs})")
    print(
        f"{'step':>4}{'prompt tok':>11}{'new tok':>9}{'evaluated':>10}"
        f"{'warm s':>9}{'cold s':>9}{'warm/cold':>10}"
    )
    for i in range(len(messages)):
        new = prompt_tokens[i] - (prompt_tokens[i - 1] if i else 0)
        w, c = median(warm[i]), median(cold[i])
        print(
            f"{i + 1:>4}{prompt_tokens[i]:>11}{new:>9}{evaluated[i]:>10}"
            f"{w:>9.3f}{c:>9.3f}{w / c:>10.2f}"
        )


if __name__ == "__main__":
    main()
