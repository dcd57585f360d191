"""Constrained vs free generation speed, and gba's sampler vs llama-cpp-python's.

All three continue the same zero-shot planner prompt (decode speed depends on the
context length, so a shorter prompt would flatter one side):
* free: no schema and no stop strings, as many tokens as the constrained plan had;
* gba constrained: the plan schema through gba's grammar-first-check sampler, with
  jump-forward (text the grammar forces is evaluated in one batch) and without it;
* stock constrained: the same grammar through llama-cpp-python's own sampler chain
  (which filters the whole 262k vocabulary through the grammar at every token).
Run alone: python bench/constrained.py
"""

from __future__ import annotations

import json
import os
import time

from _common import REQUEST, SCRATCHPAD, bench_args, machine, median, tools

from gba_core.llm.grammar import json_schema_to_gbnf
from gba_core.planners import ZeroShotPlanner
from gba_core.registry import get_llm


def main() -> None:
    args = bench_args(runs=5)
    llm = get_llm("llama-cpp:gemma-3-270m")
    planner = ZeroShotPlanner(tools(), llm)
    messages = planner.messages(REQUEST, SCRATCHPAD[:2])

    def gen_rate(c) -> float:
        return c.completion_tokens / (c.seconds - c.extra["prompt_seconds"])

    def free_rate(n_tokens: int) -> float:
        model = llm._model
        tokens = model.tokenize_prompt(llm.render(messages))
        start = time.perf_counter()
        gen = model.generate(
            tokens, gbnf=None, temperature=0.0, max_tokens=n_tokens, seed=None, stops=()
        )
        return gen.tokens / (time.perf_counter() - start - gen.prompt_seconds)

    free, ours, stock, ours_tokens, stock_s, ours_s = [], [], [], [], [], []
    forced, step_s, step_tokens, decode_ms, step_decode_ms = [], [], [], [], []

    def ms_per_decode(c) -> float:  # forced tokens are evaluated without a decode
        decodes = c.completion_tokens - c.extra["forced_tokens"]
        return 1000 * (c.seconds - c.extra["prompt_seconds"]) / decodes

    from llama_cpp.llama_grammar import LlamaGrammar

    gbnf = json_schema_to_gbnf(planner.schema.model_json_schema())
    prompt_text = llm.render(messages)
    for _ in range(args.runs):
        llm.reset_cache()
        c = llm.complete(messages, schema=planner.schema)
        ours.append(gen_rate(c))
        ours_tokens.append(c.completion_tokens)
        ours_s.append(c.seconds)
        forced.append(c.extra["forced_tokens"])
        decode_ms.append(ms_per_decode(c))
        llm.reset_cache()
        os.environ["GBA_LLAMA_NO_JUMP_FORWARD"] = "1"
        try:
            c = llm.complete(messages, schema=planner.schema)
        finally:
            del os.environ["GBA_LLAMA_NO_JUMP_FORWARD"]
        step_s.append(c.seconds)
        step_tokens.append(c.completion_tokens)
        step_decode_ms.append(ms_per_decode(c))
        llm.reset_cache()
        free.append(free_rate(c.completion_tokens))
        llm.reset_cache()
        raw = llm._model.llama
        grammar = LlamaGrammar.from_string(gbnf, verbose=False)
        start = time.perf_counter()
        out = raw.create_completion(prompt_text, grammar=grammar, temperature=0.0, max_tokens=1024)
        seconds = time.perf_counter() - start
        json.loads(out["choices"][0]["text"])
        stock_s.append(seconds)
        stock.append(out["usage"]["completion_tokens"] / seconds)
        llm.reset_cache()
    print(f"# constrained generation ({machine()}, median of {args.runs})")
    print(f"free generation            {median(free):7.1f} tok/s")
    print(
        f"gba constrained (plan)     {median(ours):7.1f} tok/s  "
        f"({median(ours_tokens):.0f} tokens, {median(ours_s):.2f} s per plan)"
    )
    print(
        f"  of which forced          {median(forced):7.0f} tokens (jump-forward), "
        f"{median(decode_ms):.1f} ms per decode\n"
        f"gba, no jump-forward       {median(step_s):7.2f} s per plan "
        f"({median(step_tokens):.0f} tokens, {median(step_decode_ms):.1f} ms per decode)"
    )
    print(
        f"stock llama-cpp-python     {median(stock):7.1f} tok/s  "
        f"({median(stock_s):.2f} s per plan, prompt included)"
    )
    print(f"ratio gba constrained / free: {median(ours) / median(free):.2f}")
    print(f"ratio gba / stock (plan seconds): {median(stock_s) / median(ours_s):.2f}x faster")
    # The two plans may differ (a batch of forced tokens rounds differently from single
    # tokens), so compare tokens per decode and the cost of a decode, not plan seconds.
    print(
        f"jump-forward: {median(ours_tokens) / (median(ours_tokens) - median(forced)):.2f} "
        f"tokens per decode, a decode costs {median(decode_ms) / median(step_decode_ms):.2f}x"
    )


if __name__ == "__main__":
    main()
