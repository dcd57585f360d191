"""`gba train export --format lora-gguf`: llama.cpp with the exported adapter writes what
the peft model writes, and not what the base writes."""

import pytest

from gba_core.llm.llamacpp import LlamaCppLLM
from gba_train.data import Renderer
from gba_train.export import export_lora_gguf

pytestmark = pytest.mark.integration

PROMPT = [{"role": "user", "content": "Name three colours of the rainbow."}]
NEW_TOKENS = 16


def test_llama_cpp_with_the_exported_adapter_agrees_with_peft(random_adapter, tmp_path):
    import torch

    base, tokenizer, tuned = random_adapter.base, random_adapter.tokenizer, random_adapter.model
    exported = export_lora_gguf(random_adapter.path, base.gguf, tmp_path / "adapter.gguf")

    llm = LlamaCppLLM("gemma-3-270m", lora=str(exported), n_ctx=512)
    ids = Renderer.for_tokenizer(tokenizer).tokenize(llm.render(PROMPT))
    assert ids == llm.tokenize(llm.render(PROMPT))
    with torch.no_grad():
        generated = tuned.generate(torch.tensor([ids]), max_new_tokens=NEW_TOKENS, do_sample=False)[
            0, len(ids) :
        ]
    hf_text = tokenizer.decode(generated, skip_special_tokens=True)

    def greedy(backend):  # no stop strings: every one of the tokens is compared
        with backend._model.lock:
            return backend._model.generate(
                ids, gbnf=None, temperature=0.0, max_tokens=NEW_TOKENS, seed=None, stops=()
            ).text

    ours = greedy(llm)
    assert ours == hf_text, (ours, hf_text)
    assert ours != greedy(LlamaCppLLM("gemma-3-270m", n_ctx=512))  # the adapter acts


def test_the_printed_spec_loads_the_adapter_from_any_folder_name(random_adapter, tmp_path):
    import shutil

    from click.testing import CliRunner

    from gba_core.cli import cli
    from gba_core.registry import get_llm

    odd = tmp_path / "run & #1 100%"
    shutil.copytree(random_adapter.path, odd / "adapter")
    result = CliRunner().invoke(
        cli, ["train", "export", "--adapter", str(odd), "--base", "gemma-3-270m"]
    )
    assert result.exit_code == 0, result.output
    spec = result.output.split("--planner-llm ", 1)[1].strip().strip("'")
    assert spec.startswith("llama-cpp:gemma-3-270m?lora=") and "&" not in spec
    assert get_llm(spec).spec == spec  # llama.cpp loaded the adapter from that folder
