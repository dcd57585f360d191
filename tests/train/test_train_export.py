"""`gba train export --format lora-gguf`: llama.cpp with the exported adapter writes what
the peft model writes, and not what the base writes."""

import pytest

from gba_core.llm.llamacpp import LlamaCppLLM
from gba_train.base import prepare_base
from gba_train.data import Renderer
from gba_train.export import export_lora_gguf

pytestmark = pytest.mark.integration

PROMPT = [{"role": "user", "content": "Name three colours of the rainbow."}]
NEW_TOKENS = 16


def test_llama_cpp_with_the_exported_adapter_agrees_with_peft(tmp_path):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = prepare_base("gemma-3-270m")
    tokenizer = AutoTokenizer.from_pretrained(base.path)
    model = AutoModelForCausalLM.from_pretrained(base.path, dtype=torch.float32)
    torch.manual_seed(0)
    # Random A and B (not peft's no-op start), so the adapter changes the output.
    config = LoraConfig(
        r=8,
        lora_alpha=4,
        target_modules=["q_proj", "v_proj", "o_proj", "down_proj"],
        init_lora_weights=False,
        task_type="CAUSAL_LM",
    )
    tuned = get_peft_model(model, config).eval()
    tuned.save_pretrained(tmp_path / "adapter")
    exported = export_lora_gguf(tmp_path / "adapter", base.gguf, tmp_path / "adapter.gguf")

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
            )[0]

    ours = greedy(llm)
    assert ours == hf_text, (ours, hf_text)
    assert ours != greedy(LlamaCppLLM("gemma-3-270m", n_ctx=512))  # the adapter acts
