"""``gba train sft``: LoRA fine-tuning with trl's SFTTrainer, made fast on CPU.

trl 1.16 computes its loss through a chunked LM head that, without a GPU kernel, scores
every position against the whole vocabulary (262,144 tokens for Gemma 3) and adds
full-vocabulary entropy and accuracy metrics in the same pass. With a vocabulary that
size the LM head is most of a training step. The trainer here computes the same
cross-entropy from the hidden states of the positions that carry a loss only: the
prompt positions, most of each example, never reach the LM head. Nothing else about
what is learned changes.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gba_core.errors import ConfigError

from .base import prepare_base
from .data import IGNORE, Encoded, Renderer, encode, read_split
from .frozen_prefix import FrozenPrefix


@dataclass
class SFTOptions:
    dataset: Path
    out: Path
    base: str = "gemma-3-270m"
    completion_only: bool = True
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0  # peft's default; dropout costs ~8% of a CPU step
    target_modules: list[str] = field(default_factory=lambda: ["all-linear"])
    lora_layers: int | None = None  # LoRA on the last N decoder layers only
    epochs: float = 1.0
    max_steps: int = -1  # overrides epochs when > 0
    learning_rate: float = 2e-4
    max_length: int = 1024
    batch_size: int = 1
    grad_accum: int = 2
    seed: int = 0
    resume: bool = False
    threads: int | None = None
    gradient_checkpointing: bool = False
    padding_free: bool = False  # a batch is one row of concatenated examples
    qlora: bool = False  # 4-bit base (bitsandbytes), CUDA only
    save_steps: int = 50
    validate: str = "epoch"  # "epoch", "end" or a number of optimizer steps


def _causal_lm(model: Any) -> Any:
    """The ...ForCausalLM module under a peft wrapper (LoRA layers are inside it)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def make_step_timer() -> Any:
    """A callback that records, per optimizer step, the time and the tokens seen."""
    import time

    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        """Time inside optimizer steps only: evaluation and checkpoints are left out."""

        def __init__(self) -> None:
            self.steps: list[tuple[float, int]] = []  # (seconds, input tokens) per step
            self.begin: tuple[float, int] = (0.0, 0)

        def on_step_begin(self, args: Any, state: Any, control: Any, **_: Any) -> None:
            self.begin = (time.perf_counter(), state.num_input_tokens_seen)

        def on_step_end(self, args: Any, state: Any, control: Any, **_: Any) -> None:
            started, tokens = self.begin
            self.steps.append((time.perf_counter() - started, state.num_input_tokens_seen - tokens))

        def tokens_per_second(self, skip: int = 1) -> float | None:
            """Throughput after the first ``skip`` steps (which pay for warm-up)."""
            measured = self.steps[skip:]
            if not measured:
                return None
            return sum(n for _, n in measured) / sum(t for t, _ in measured)

    return StepTimer()


def make_trainer_class() -> type:
    import torch
    import torch.nn.functional as F
    from trl import SFTTrainer

    from . import head_loss

    class LossPositionsSFTTrainer(SFTTrainer):
        """SFTTrainer whose loss projects only the positions that carry a label."""

        _head_scratch: Any = None

        def compute_loss(
            self,
            model: Any,
            inputs: dict[str, Any],
            return_outputs: bool = False,
            num_items_in_batch: Any = None,
        ) -> Any:
            accelerator = getattr(self, "accelerator", None)
            if accelerator is not None and accelerator.num_processes > 1:
                # Under DDP/FSDP the forward must go through the wrapper (gradient sync,
                # sharded weights) and trl scales the loss per process: trl's own path.
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            lm = _causal_lm(model)
            prefix = getattr(self, "frozen_prefix", None)
            if prefix is not None and prefix.usable(inputs):
                out = prefix.forward(lm.model, inputs)
            else:
                out = lm.model(
                    input_ids=inputs["input_ids"],
                    attention_mask=inputs.get("attention_mask"),
                    position_ids=inputs.get("position_ids"),
                    use_cache=False,
                )
            hidden = out.last_hidden_state[:, :-1]
            targets = inputs["labels"][:, 1:]
            keep = targets != IGNORE
            hidden, targets = hidden[keep], targets[keep]
            cap = getattr(lm.config, "final_logit_softcapping", None)
            if not cap and head_loss.usable(lm.lm_head, hidden):
                if self._head_scratch is None:
                    self._head_scratch = head_loss.Scratch()
                loss = head_loss.frozen_head_loss(
                    hidden, lm.lm_head.weight, targets, self._head_scratch
                )
            else:
                logits = lm.lm_head(hidden)
                if cap:
                    logits = torch.tanh(logits / cap) * cap
                loss = F.cross_entropy(logits.float(), targets, reduction="sum")
            # The sum over the batch divided by the label tokens of the whole
            # accumulated step: the mean transformers computes.
            count = num_items_in_batch if num_items_in_batch is not None else keep.sum()
            loss = loss / torch.as_tensor(count, device=loss.device).clamp(min=1)
            return (loss, out) if return_outputs else loss

    return LossPositionsSFTTrainer


@dataclass
class Prepared:
    """The base and the encoded examples: everything a trainer is built from."""

    base: Any  # base.Base
    tokenizer: Any
    train_set: Encoded
    validation: Encoded | None


def prepare(options: SFTOptions) -> Prepared:
    from transformers import AutoTokenizer

    base = prepare_base(options.base)
    tokenizer = AutoTokenizer.from_pretrained(base.path)
    renderer = Renderer.for_tokenizer(tokenizer)
    encode_options: dict[str, Any] = {
        "max_length": options.max_length,
        "completion_only": options.completion_only,
    }
    train_set = encode(read_split(options.dataset, "train"), renderer, **encode_options)
    if not train_set.examples:
        raise ConfigError(f"{options.dataset}: no training examples left")
    validation_path = Path(options.dataset) / "validation.prompt_completion.jsonl"
    validation = (
        encode(read_split(options.dataset, "validation"), renderer, **encode_options)
        if validation_path.is_file()
        else None
    )
    return Prepared(base, tokenizer, train_set, validation)


def check_qlora(options: SFTOptions) -> None:
    import importlib.util

    import torch

    if options.qlora and not (
        torch.cuda.is_available() and importlib.util.find_spec("bitsandbytes") is not None
    ):
        raise ConfigError(
            "--qlora needs a CUDA GPU and bitsandbytes (pip install bitsandbytes); on CPU,"
            " train the LoRA on the float32 base instead"
        )


def model_options(options: SFTOptions) -> dict[str, Any]:
    """from_pretrained arguments: fp32 on CPU, bf16 on a GPU that has it, 4-bit for QLoRA."""
    import torch

    if options.qlora:
        from transformers import BitsAndBytesConfig

        quantization = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16,
        )
        return {"quantization_config": quantization, "dtype": torch.bfloat16}
    return {"dtype": torch.bfloat16 if use_bf16() else torch.float32}


def use_bf16() -> bool:
    import torch

    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def lora_config(options: SFTOptions, model: Any = None) -> Any:
    """peft's LoraConfig; ``model`` (the base) is needed with ``lora_layers`` only."""
    from peft import LoraConfig

    targets: str | list[str] = (
        "all-linear" if options.target_modules == ["all-linear"] else options.target_modules
    )
    layers: dict[str, Any] = {}
    if options.lora_layers:
        if model is None:
            raise ValueError("lora_config needs the model to place adapters on the last layers")
        # With no adapter below layer L-N and frozen embeddings, autograd has nothing to
        # reach under it: the backward pass stops at the lowest adapted layer.
        total = int(model.config.get_text_config().num_hidden_layers)
        if options.lora_layers > total:
            raise ConfigError(f"--lora-layers {options.lora_layers}: the base has {total} layers")
        if targets == "all-linear":
            targets = decoder_linear_names(model)  # peft takes layers only with named modules
        layers = {
            "layers_to_transform": list(range(total - options.lora_layers, total)),
            "layers_pattern": "layers",
        }
    return LoraConfig(
        r=options.lora_r,
        lora_alpha=options.lora_alpha,
        lora_dropout=options.lora_dropout,
        target_modules=targets,
        task_type="CAUSAL_LM",
        **layers,
    )


def decoder_linear_names(model: Any) -> list[str]:
    """The names of the linear layers inside the decoder blocks (what all-linear adapts)."""
    import torch

    return sorted(
        {
            name.rsplit(".", 1)[-1]
            for name, module in model.named_modules()
            if isinstance(module, torch.nn.Linear) and ".layers." in name
        }
    )


def validation_schedule(validate: str, has_validation: bool) -> dict[str, Any]:
    """SFTConfig's evaluation settings for ``--validate`` (``end`` is run after training)."""
    if not has_validation or validate == "end":
        return {"eval_strategy": "no"}
    if validate == "epoch":
        return {"eval_strategy": "epoch"}
    return {"eval_strategy": "steps", "eval_steps": int(validate)}


def build_trainer(options: SFTOptions, prepared: Prepared) -> tuple[Any, Any]:
    """The trainer with gba's choices, and its step timer."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig

    validation = prepared.validation
    has_validation = validation is not None and bool(validation.examples)
    model = AutoModelForCausalLM.from_pretrained(prepared.base.path, **model_options(options))
    config = SFTConfig(
        output_dir=str(options.out / "checkpoints"),
        use_cpu=not torch.cuda.is_available(),
        # trl's defaults are bf16 and activation checkpointing: slower on CPU, and
        # recomputation is only worth it when memory is short.
        bf16=use_bf16(),
        gradient_checkpointing=options.gradient_checkpointing,
        learning_rate=options.learning_rate,
        num_train_epochs=options.epochs,
        max_steps=options.max_steps,
        per_device_train_batch_size=options.batch_size,
        per_device_eval_batch_size=options.batch_size,
        gradient_accumulation_steps=options.grad_accum,
        max_length=None,  # encode() has cut the examples already
        seed=options.seed,
        logging_steps=1,
        save_steps=options.save_steps,
        **validation_schedule(options.validate, has_validation),
        report_to="none",
        include_num_input_tokens_seen="non_padding",
        # Packed rows are kept apart by their position ids; transformers builds the
        # block-diagonal mask from them when no attention mask and no cache is passed.
        padding_free=options.padding_free,
        dataset_kwargs={"skip_prepare_dataset": True},
        remove_unused_columns=False,
    )
    timer = make_step_timer()
    peft_config = lora_config(options, model)
    trainer = make_trainer_class()(
        model=model,
        args=config,
        train_dataset=Dataset.from_list(prepared.train_set.examples),
        eval_dataset=Dataset.from_list(validation.examples)
        if validation and has_validation
        else None,
        processing_class=prepared.tokenizer,
        peft_config=peft_config,
        callbacks=[timer],
    )
    first = min(peft_config.layers_to_transform or [0])
    if first > 0 and not options.gradient_checkpointing:
        trainer.frozen_prefix = FrozenPrefix(first)
    return trainer, timer


def train(options: SFTOptions) -> dict[str, Any]:
    """Fine-tune; writes ``out/adapter`` (peft), ``out/checkpoints``, ``out/report.json``
    and ``out/loss.png``; returns the report."""
    import torch

    check_qlora(options)
    if options.threads:
        torch.set_num_threads(options.threads)
    prepared = prepare(options)
    base, train_set, validation = prepared.base, prepared.train_set, prepared.validation
    trainer, timer = build_trainer(options, prepared)
    checkpoints = options.out / "checkpoints"
    resume = options.resume and any(checkpoints.glob("checkpoint-*"))
    result = trainer.train(resume_from_checkpoint=True if resume else None)
    if options.validate == "end" and validation is not None and validation.examples:
        trainer.evaluate()  # logged into the history like the scheduled ones
    adapter = options.out / "adapter"
    trainer.model.save_pretrained(adapter)
    history = trainer.state.log_history
    report = {
        "base": str(base.path),
        "base_gguf": str(base.gguf) if base.gguf else None,
        "adapter": str(adapter),
        "examples": {
            "train": len(train_set.examples),
            "validation": len(validation.examples) if validation else 0,
        },
        "truncated": {
            "train": train_set.truncated,
            "validation": validation.truncated if validation else 0,
        },
        "dropped": {
            "train": train_set.dropped,
            "validation": validation.dropped if validation else 0,
        },
        "steps": trainer.state.global_step,
        "train_loss": result.training_loss,
        "eval_loss": [h["eval_loss"] for h in history if "eval_loss" in h],
        "loss_curve": [(h["step"], h["loss"]) for h in history if "loss" in h],
        "seconds": result.metrics.get("train_runtime"),
        "tokens_per_second": timer.tokens_per_second(),
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(options).items()},
    }
    if not all(math.isfinite(loss) for _, loss in report["loss_curve"]):
        raise ConfigError("the loss diverged (not finite); lower --learning-rate")
    (options.out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    plot_losses(history, options.out / "loss.png")
    return report


def plot_losses(history: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 3.5))
    train = [(h["step"], h["loss"]) for h in history if "loss" in h]
    evals = [(h["step"], h["eval_loss"]) for h in history if "eval_loss" in h]
    if train:
        axes.plot(*zip(*train, strict=True), label="train")
    if evals:
        axes.plot(*zip(*evals, strict=True), marker="o", label="validation")
    axes.set_xlabel("optimizer step")
    axes.set_ylabel("loss")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
