"""`gba train eval-quant`: exports made once and again when the adapter changes, the
paired comparison and standard error it prints, and the command on a real adapter."""

import json
import os

import pytest
from click.testing import CliRunner

from gba_core.cli import cli
from gba_train import quant
from gba_train.evaluate import StepOutcome, StepsReport


def report_of(*chosen: str, expected: str = "a") -> StepsReport:
    outcomes = [StepOutcome("t", i, expected, c, 10, 0.1) for i, c in enumerate(chosen)]
    return StepsReport(planner="p", llm="l", runs=[{}], outcomes=[outcomes])


def test_paired_counts_steps_gained_and_lost_against_the_first():
    first = report_of("a", "a", "b", "b")
    other = report_of("a", "b", "a", "b")
    assert quant.paired(first, other) == (1, 1)
    assert quant.paired(first, first) == (0, 0)


def test_accuracy_carries_its_binomial_standard_error():
    accuracy, stderr = quant.accuracy_stderr(report_of("a", "a", "a", "b"))
    assert accuracy == 0.75
    assert stderr == pytest.approx((0.75 * 0.25 / 4) ** 0.5)


def test_exports_are_made_once_and_again_when_the_adapter_is_retrained(tmp_path, monkeypatch):
    adapter = tmp_path / "out" / "adapter"
    adapter.mkdir(parents=True)
    (adapter / "adapter_model.safetensors").write_bytes(b"v1")
    built = []

    def fake_merge(adapter_dir, base, out, quantize_to):
        built.append(quantize_to)
        out.write_bytes(b"gguf")
        return out

    monkeypatch.setattr("gba_train.merge.export_merged_gguf", fake_merge)
    made = quant.variants(adapter, tmp_path / "base.gguf", "gemma-3-270m", ["f16", "q8_0"])
    assert [v.spec for v in made] == [
        f"llama-cpp:{adapter.parent / 'merged-f16.gguf'}",
        f"llama-cpp:{adapter.parent / 'merged-q8_0.gguf'}",
    ]
    quant.variants(adapter, tmp_path / "base.gguf", "gemma-3-270m", ["f16", "q8_0"])
    assert built == ["f16", "q8_0"]  # fresh exports are reused
    retrained = adapter / "adapter_model.safetensors"
    later = (adapter.parent / "merged-f16.gguf").stat().st_mtime + 10
    os.utime(retrained, (later, later))
    quant.variants(adapter, tmp_path / "base.gguf", "gemma-3-270m", ["f16"])
    assert built == ["f16", "q8_0", "f16"]


def held_out_row(request: str, tool: str) -> dict:
    plan = {"selected_tool": tool, "context_information_summary": "-", "thoughts": "-"}
    return {
        "prompt": [{"role": "user", "content": request}],
        "completion": [{"role": "assistant", "content": json.dumps({**plan, "task": "x"})}],
        "request": request,
        "scratchpad": [],
        "today": "2026-12-07",
        "trajectory_id": request,
        "step": 0,
    }


@pytest.mark.integration
def test_eval_quant_scores_each_export_on_the_same_steps(random_adapter, tmp_path):
    import shutil

    adapter = tmp_path / "out" / "adapter"
    shutil.copytree(random_adapter.path, adapter)
    data = tmp_path / "data"
    data.mkdir()
    rows = [
        held_out_row("Who painted the Mona Lisa?", "search_wikipedia"),
        held_out_row("What is 17 times 23?", "calculate_number"),
    ]
    (data / "validation.prompt_completion.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows)
    )
    args = ["train", "eval-quant", "--adapter", str(adapter.parent), "--dataset", str(data)]
    args += ["--base", "gemma-3-270m", "--variant", "f16", "--variant", "q4_k_m"]
    result = CliRunner().invoke(cli, [*args, "--json", str(tmp_path / "q.json")])
    assert result.exit_code == 0, result.output
    figures = json.loads((tmp_path / "q.json").read_text())
    f16, q4 = figures["variants"]
    assert (f16["variant"], q4["variant"]) == ("f16", "q4_k_m") and figures["steps"] == 2
    assert q4["megabytes"] < 0.7 * f16["megabytes"]
    assert f16["gained_vs_first"] == f16["lost_vs_first"] == 0
    for row in (f16, q4):
        assert 0 <= row["next_tool_accuracy"] <= 1 and row["seconds_per_step"] > 0
    assert "next tool ± s.e." in result.output
