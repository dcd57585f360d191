"""LoRA training speed on CPU: gba train sft against trl's default configuration.

Both train the embedded Gemma 3 270M with the same LoRA (r 16, all linear layers) on
the same encoded examples of the starter set, in the same order, batch 1 × accumulation
2, in this process, alternating. trl's side is SFTTrainer with SFTConfig's defaults (bf16,
activation checkpointing, trl's loss and metrics); gba's is `gba_train.sft.build_trainer`.
Throughput counts input tokens per second from the second optimizer step on.

GFLOP/s counts the work any correct implementation must do, the same for both: forward
and input-gradient matmuls of the frozen layers (4 × params per token), the LoRA
matmuls (6 × LoRA params per token), causal attention, and the tied LM head on the
labelled positions only (4 × hidden × vocabulary each). It is set against the dense
fp32 matmul rate measured here, in this process, on the same threads.

    ../.venv/bin/python train_speed.py [--steps 6] [--repeats 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def starter_dataset(folder: Path) -> Path:
    from gba_core.registry import load_toolset
    from gba_sim.db import RunsDB
    from gba_sim.package import package
    from gba_sim.starter import JUDGE, load_starter

    db = RunsDB(folder / "runs.sqlite")
    tools = load_toolset().names
    load_starter(db, run_id="starter", known_tools=set(tools))
    out = folder / "dataset"
    package(db, ["starter"], out, tools=tools, judge=JUDGE, validation_split="heldout", hf=False)
    return out


def matmul_gflops(threads: int, size: int = 2048, repeats: int = 5) -> float:
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * size**3 * repeats / (time.perf_counter() - started) / 1e9


def flops_per_token(model: Any, examples: list[dict[str, list[int]]], lora_r: int) -> float:
    """Useful FLOPs per input token, averaged over the training examples."""
    import torch

    config = model.config
    layers = model.model.layers
    frozen = lora = 0
    for module in layers.modules():
        if isinstance(module, torch.nn.Linear):
            frozen += module.in_features * module.out_features
            lora += lora_r * (module.in_features + module.out_features)
    attention_width = config.num_attention_heads * config.head_dim
    head = 4 * config.hidden_size * config.vocab_size
    total = tokens = 0
    for example in examples:
        n = len(example["input_ids"])
        labelled = sum(label != -100 for label in example["labels"][1:])
        attention = 6 * n * n * attention_width * len(layers)  # causal: half of n², ×3 fwd+bwd
        total += (4 * frozen + 6 * lora) * n + attention + head * labelled
        tokens += n
    return total / tokens


def trl_default_trainer(prepared: Any, out: Path, steps: int, lora: Any) -> tuple[Any, Any]:
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    from gba_train.sft import make_step_timer

    model = AutoModelForCausalLM.from_pretrained(prepared.base.path, dtype=torch.float32)
    config = SFTConfig(
        output_dir=str(out),
        use_cpu=True,  # needed on CPU; everything else below is bookkeeping, not speed
        max_steps=steps,
        per_device_train_batch_size=1,
        gradient_accumulation_steps=2,
        max_length=None,
        seed=0,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        include_num_input_tokens_seen="non_padding",
        dataset_kwargs={"skip_prepare_dataset": True},
        remove_unused_columns=False,
    )
    timer = make_step_timer()
    trainer = SFTTrainer(
        model=model,
        args=config,
        train_dataset=Dataset.from_list(prepared.train_set.examples),
        processing_class=prepared.tokenizer,
        peft_config=lora,
        callbacks=[timer],
    )
    return trainer, timer


def run(kind: str, prepared: Any, options: Any, steps: int) -> float:
    from gba_train.sft import build_trainer, lora_config

    with tempfile.TemporaryDirectory() as tmp:
        if kind == "trl":
            trainer, timer = trl_default_trainer(prepared, Path(tmp), steps, lora_config(options))
        else:
            options.out = Path(tmp)
            trainer, timer = build_trainer(options, prepared)
        trainer.train()
    return timer.tokens_per_second()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--steps",
        type=int,
        default=6,
        help="optimizer steps per run (at least 2: the first is warm-up)",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if args.steps < 2:
        parser.error("--steps: at least 2 (the first step is warm-up and not counted)")

    import dataclasses

    import torch
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    from gba_train.sft import SFTOptions, prepare

    hf_logging.set_verbosity_error()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        dataset = starter_dataset(Path(tmp))
        options = SFTOptions(
            dataset=dataset,
            out=Path(tmp) / "out",
            max_steps=args.steps,
            batch_size=1,
            grad_accum=2,
            save_steps=10**6,
        )
        prepared = dataclasses.replace(prepare(options), validation=None)
        model = AutoModelForCausalLM.from_pretrained(prepared.base.path)
        per_token = flops_per_token(model, prepared.train_set.examples, options.lora_r)
        del model
        peak = [matmul_gflops(args.threads)]
        rates: dict[str, list[float]] = {"trl": [], "gba": []}
        for repeat in range(args.repeats):
            for kind in ("trl", "gba"):
                rates[kind].append(run(kind, prepared, dataclasses.replace(options), args.steps))
                print(f"run {repeat + 1} {kind}: {rates[kind][-1]:.1f} tokens/s", flush=True)
            peak.append(matmul_gflops(args.threads))
    matmul = statistics.median(peak)
    examples = prepared.train_set.examples
    mean_tokens = statistics.fmean(len(e["input_ids"]) for e in examples)
    print(
        f"\n{len(examples)} examples, {mean_tokens:.0f} tokens on average; {args.threads}"
        f" threads; {args.steps} steps × {args.repeats} runs; dense fp32 matmul"
        f" {matmul:.0f} GFLOP/s; {per_token / 1e9:.3f} GFLOP of useful work per token"
    )
    print("| trainer | tokens/s (median) | GFLOP/s | share of matmul rate |")
    print("|---|---:|---:|---:|")
    for kind, label in (("trl", "trl 1.16 defaults"), ("gba", "gba train sft")):
        rate = statistics.median(rates[kind])
        gflops = rate * per_token / 1e9
        print(f"| {label} | {rate:.1f} | {gflops:.1f} | {gflops / matmul:.0%} |")
    ratios = [g / t for g, t in zip(rates["gba"], rates["trl"], strict=True)]
    print(
        f"\ngba / trl: {statistics.median(ratios):.2f}× (per run: "
        + ", ".join(f"{r:.2f}" for r in ratios)
        + ")"
    )


if __name__ == "__main__":
    main()
