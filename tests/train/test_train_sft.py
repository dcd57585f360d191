"""`gba train sft` on the embedded model: a few optimizer steps on a tiny packaged
dataset, the adapter and report written, and a run resumed from its checkpoint."""

import json

import pytest
from click.testing import CliRunner

from gba_core.cli import cli
from gba_core.schema import Plan, Request, Step, Trajectory
from gba_sim.package import examples_of

pytestmark = pytest.mark.integration


def write_dataset(folder):
    folder.mkdir()
    rows = []
    for number, (question, tool) in enumerate(
        [
            ("Who directed the film Jaws?", "search_wikipedia"),
            ("Email ana@example.com that lunch moves to 1 pm.", "send_email"),
            ("What is 17 times 23?", "calculate_number"),
        ]
    ):
        steps = [
            Step(
                index=0,
                plan=Plan(
                    context_information_summary="Nothing yet.",
                    thoughts=f"Use {tool}.",
                    task=f"Do it: {question}",
                    selected_tool=tool,
                ),
                observation="Done.",
            )
        ]
        trajectory = Trajectory(id=f"t{number}", request=Request(text=question), steps=steps)
        rows += examples_of(trajectory, [tool, "final_answer"])
    for split, part in (("train", rows[:2]), ("validation", rows[2:])):
        with (folder / f"{split}.prompt_completion.jsonl").open("w") as handle:
            for row in part:
                handle.write(row.to_json() + "\n")


def sft(dataset, out, *extra):
    args = ["train", "sft", "--dataset", str(dataset), "--out", str(out), "--save-steps", "1",
            "--validate", "1", "--grad-accum", "1", "--threads", "2", *extra]  # fmt: skip
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_a_few_steps_write_an_adapter_a_report_and_resume(tmp_path):
    dataset = tmp_path / "dataset"
    write_dataset(dataset)
    out = tmp_path / "run"
    output = sft(dataset, out, "--max-steps", "2", "--max-length", "96")
    report = json.loads((out / "report.json").read_text())
    assert report["steps"] == 2 and report["examples"] == {"train": 2, "validation": 1}
    assert len(report["loss_curve"]) == 2 and len(report["eval_loss"]) == 2
    assert "2 optimizer steps" in output
    config = json.loads((out / "adapter" / "adapter_config.json").read_text())
    assert config["r"] == 16 and config["lora_alpha"] == 32
    assert (out / "adapter" / "adapter_model.safetensors").stat().st_size > 0
    assert (out / "loss.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in (out / "checkpoints").glob("checkpoint-*")) == [
        "checkpoint-1",
        "checkpoint-2",
    ]
    resumed = sft(dataset, out, "--max-steps", "3", "--max-length", "96", "--resume")
    report = json.loads((out / "report.json").read_text())
    # Steps 1-2 came from the checkpoint: one more step was trained, not three.
    assert report["steps"] == 3 and len(report["loss_curve"]) == 3
    assert "3 optimizer steps" in resumed
    exported = CliRunner().invoke(cli, ["train", "export", "--adapter", str(out)])
    assert exported.exit_code == 0, exported.output
    assert (out / "adapter.gguf").stat().st_size > 0
    assert f"?lora={out / 'adapter.gguf'}" in exported.output


def test_the_loss_on_labelled_positions_equals_the_transformers_loss(tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from gba_train.base import prepare_base
    from gba_train.data import Renderer, encode, read_split
    from gba_train.sft import make_trainer_class

    dataset = tmp_path / "dataset"
    write_dataset(dataset)
    base = prepare_base("gemma-3-270m")
    renderer = Renderer.for_tokenizer(AutoTokenizer.from_pretrained(base.path))
    (example, _) = encode(read_split(dataset, "train"), renderer).examples
    model = AutoModelForCausalLM.from_pretrained(base.path, dtype=torch.float32)
    inputs = {key: torch.tensor([value]) for key, value in example.items()}
    with torch.no_grad():
        ours = make_trainer_class().compute_loss(None, model, dict(inputs))
        reference = model(**inputs).loss
    assert ours.item() == pytest.approx(reference.item(), rel=1e-5)
    assert 0 < ours.item() < 20


def test_the_fused_loss_of_the_frozen_model_equals_the_transformers_loss(tmp_path):
    from types import SimpleNamespace

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from gba_train.base import prepare_base
    from gba_train.data import Renderer, encode, read_split
    from gba_train.sft import make_trainer_class

    dataset = tmp_path / "dataset"
    write_dataset(dataset)
    base = prepare_base("gemma-3-270m")
    renderer = Renderer.for_tokenizer(AutoTokenizer.from_pretrained(base.path))
    example = encode(read_split(dataset, "train"), renderer).examples[0]
    model = AutoModelForCausalLM.from_pretrained(base.path, dtype=torch.float32)
    model.requires_grad_(False)  # frozen, as the base under LoRA
    inputs = {key: torch.tensor([value]) for key, value in example.items()}
    trainer = SimpleNamespace(_head_scratch=None)
    with torch.no_grad():
        ours = make_trainer_class().compute_loss(trainer, model, dict(inputs))
        reference = model(**inputs).loss
    assert trainer._head_scratch is not None  # the fused path ran
    # Other kernels, other summation orders: equal to float32 rounding over 262k logits.
    assert ours.item() == pytest.approx(reference.item(), rel=1e-4)


def test_padding_free_rows_give_the_loss_of_the_examples_taken_one_by_one(tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    from gba_train.base import prepare_base
    from gba_train.data import IGNORE, Renderer, encode, read_split
    from gba_train.sft import make_trainer_class

    dataset = tmp_path / "dataset"
    write_dataset(dataset)
    base = prepare_base("gemma-3-270m")
    tokenizer = AutoTokenizer.from_pretrained(base.path)
    examples = encode(read_split(dataset, "train"), Renderer.for_tokenizer(tokenizer)).examples
    model = AutoModelForCausalLM.from_pretrained(base.path, dtype=torch.float32)
    loss = make_trainer_class().compute_loss
    labelled = sum(sum(label != IGNORE for label in e["labels"][1:]) for e in examples)
    count = torch.tensor(labelled)
    collate = DataCollatorForLanguageModeling(
        pad_token_id=tokenizer.pad_token_id, padding_free=True
    )
    packed = collate(examples)
    assert packed["input_ids"].shape[0] == 1 and "attention_mask" not in packed
    with torch.no_grad():
        one_by_one = sum(
            loss(
                None, model, {k: torch.tensor([v]) for k, v in e.items()}, num_items_in_batch=count
            )
            for e in examples
        )
        together = loss(None, model, packed, num_items_in_batch=count)
    # Position ids that restart per example keep the examples from seeing each other.
    assert together.item() == pytest.approx(one_by_one.item(), rel=1e-4)


def test_lora_on_the_last_layers_stops_the_backward_pass_below_them(tmp_path):
    dataset = tmp_path / "dataset"
    write_dataset(dataset)
    out = tmp_path / "run"
    sft(dataset, out, "--max-steps", "1", "--max-length", "96", "--lora-layers", "2",
        "--validate", "end")  # fmt: skip
    report = json.loads((out / "report.json").read_text())
    assert len(report["eval_loss"]) == 1  # validated once, after training
    config = json.loads((out / "adapter" / "adapter_config.json").read_text())
    assert config["layers_to_transform"] == [16, 17]  # the 270M has 18 layers
    assert set(config["target_modules"]) >= {"q_proj", "o_proj", "gate_proj", "down_proj"}

    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from gba_train.base import prepare_base

    base = AutoModelForCausalLM.from_pretrained(prepare_base("gemma-3-270m").path)
    model = PeftModel.from_pretrained(base, out / "adapter", is_trainable=True)
    layers = model.get_base_model().model.layers
    needs_grad = {}
    for index in (15, 16):
        layers[index].register_forward_hook(
            lambda module, args, output, index=index: needs_grad.update(
                {index: (output[0] if isinstance(output, tuple) else output).requires_grad}
            )
        )
    model(input_ids=torch.tensor([[2, 651, 1000]]))
    # Autograd records nothing below layer 16, so the backward pass never goes there.
    assert needs_grad == {15: False, 16: True}
    exported = CliRunner().invoke(cli, ["train", "export", "--adapter", str(out)])
    assert exported.exit_code == 0, exported.output
