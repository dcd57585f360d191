"""What context-aware decoding costs a final step of the shipped planner.

Each case is a request and the results before its final answer. The step before it is
planned first, untimed, so the cache holds what a real run's would; then the final step
is timed with the contrast off and at --weight, alternately. Run alone:

    ../.venv/bin/python contrast.py --runs 5
"""

from __future__ import annotations

import argparse
import statistics
import time

from _common import machine

from gba_core.schema import ScratchpadEntry

# Written for this benchmark: none is a benchmark request or a training example.
CASES = [
    (
        "Who composed the opera Carmen?",
        [
            ScratchpadEntry(
                task="Find who composed the opera Carmen",
                tool="search_wikipedia",
                result="Carmen is an opera in four acts by the French composer Georges "
                "Bizet, first performed at the Opéra-Comique in Paris on 3 March 1875.",
            )
        ],
    ),
    (
        "How many years ago was the Eiffel Tower finished?",
        [
            ScratchpadEntry(
                task="Find when the Eiffel Tower was finished",
                tool="search_wikipedia",
                result="The Eiffel Tower was built from 1887 to 1889 as the entrance arch "
                "of the 1889 World's Fair, and opened on 31 March 1889.",
            ),
            ScratchpadEntry(
                task="Subtract 1889 from 2026",
                tool="calculate_number",
                result="Result: 137",
            ),
        ],
    ),
    (
        "What is the longest river in Africa, and how long is it in miles?",
        [
            ScratchpadEntry(
                task="Find the longest river in Africa and its length",
                tool="search_wikipedia",
                result="The Nile, about 6,650 kilometres long, is the longest river in "
                "Africa; it flows north into the Mediterranean Sea.",
            ),
            ScratchpadEntry(
                task="Convert 6650 kilometres to miles",
                tool="calculate_number",
                result="Result: 4132.12",
            ),
        ],
    ),
]


def main() -> None:
    from gba_core.assembly import choose_models
    from gba_core.registry import get_llm, get_planner, load_toolset

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--weight", type=float, default=0.5)
    args = parser.parse_args()
    toolset = load_toolset()
    tools = toolset.real
    models = choose_models("fine-tuned", {}, tools)
    llm = get_llm(models.planner_spec)
    planners = {
        w: get_planner(models.planner, tools=tools, llm=llm, contrast=w) for w in (0.0, args.weight)
    }
    seconds: dict[float, list[float]] = {w: [] for w in planners}
    tokens: dict[float, list[int]] = {w: [] for w in planners}
    finals = contrasted = 0
    for _ in range(args.runs):
        for request, pad in CASES:
            for w, planner in planners.items():
                planner.plan(request, pad[:-1])  # the step before: the cache as in a run
                start = time.perf_counter()
                result = planner.plan(request, pad)
                seconds[w].append(time.perf_counter() - start)
                assert not result.completion.cached
                tokens[w].append(result.completion.completion_tokens)
                finals += w > 0 and result.plan.selected_tool == "final_answer"
                contrasted += result.completion.extra.get("contrasted_tokens", 0)
    off, on = statistics.median(seconds[0.0]), statistics.median(seconds[args.weight])
    print(f"# final planner step, contrast off and at {args.weight} ({machine()})")
    print(f"# {models.planner} on {models.planner_spec}")
    print(f"# {len(CASES)} cases x {args.runs} runs; medians; final_answer chosen {finals} times")
    written = sum(tokens[args.weight])
    print(f"# {contrasted} of the {written} tokens written with the contrast were chosen by it")
    print(f"{'contrast':>9}{'seconds':>9}{'tokens':>8}{'ratio':>7}")
    for w, label in ((0.0, "off"), (args.weight, str(args.weight))):
        s = statistics.median(seconds[w])
        print(f"{label:>9}{s:>9.3f}{statistics.median(tokens[w]):>8.0f}{s / off:>7.2f}")
    print(f"extra seconds a final step: {on - off:.3f}")


if __name__ == "__main__":
    main()
