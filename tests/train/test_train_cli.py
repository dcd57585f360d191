"""`gba train` refuses bad combinations with one clear line, before loading anything."""

import json

import pytest
from click.testing import CliRunner

from gba_core.cli import cli


def write_dataset(folder, row):
    folder.mkdir()
    (folder / "train.prompt_completion.jsonl").write_text(json.dumps(row) + "\n")
    (folder / "validation.prompt_completion.jsonl").write_text(json.dumps(row) + "\n")


ROW = {
    "prompt": [{"role": "user", "content": "Request: hi\n\nNo steps yet."}],
    "completion": [{"role": "assistant", "content": '{"selected_tool": "final_answer"}'}],
}


def cuda_and_bitsandbytes() -> bool:
    import importlib.util

    import torch

    return torch.cuda.is_available() and importlib.util.find_spec("bitsandbytes") is not None


@pytest.mark.skipif(cuda_and_bitsandbytes(), reason="QLoRA can run here")
def test_qlora_without_a_gpu_is_a_clear_error(tmp_path):
    write_dataset(tmp_path / "data", ROW)
    args = ["train", "sft", "--dataset", str(tmp_path / "data"), "--out", str(tmp_path / "o")]
    result = CliRunner().invoke(cli, [*args, "--qlora"])
    assert result.exit_code != 0
    assert "--qlora needs a CUDA GPU and bitsandbytes" in result.output
    assert not (tmp_path / "o").exists()


def test_quantize_goes_with_the_merged_format_only(tmp_path):
    (tmp_path / "adapter").mkdir()
    args = ["train", "export", "--adapter", str(tmp_path / "adapter"), "--quantize", "q8_0"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and "--quantize goes with --format merged-gguf" in result.output


def test_eval_steps_on_a_dataset_without_requests_asks_to_package_again(tmp_path):
    write_dataset(tmp_path / "data", ROW)
    args = ["train", "eval-steps", "--dataset", str(tmp_path / "data"), "--planner-llm"]
    result = CliRunner().invoke(cli, [*args, "llama-cpp:gemma-3-270m"])
    assert result.exit_code != 0
    assert "package it again" in result.output


@pytest.mark.parametrize("value", ["soon", "0", "-3"])
def test_validate_takes_epoch_end_or_a_step_count(tmp_path, value):
    write_dataset(tmp_path / "data", ROW)
    args = ["train", "sft", "--dataset", str(tmp_path / "data"), "--out", str(tmp_path / "o")]
    result = CliRunner().invoke(cli, [*args, "--validate", value])
    assert result.exit_code == 2
    assert "give epoch, end or a number of steps above 0" in result.output
    assert not (tmp_path / "o").exists()
