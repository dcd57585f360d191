"""`gba train export --format merged-gguf`: the base GGUF with the adapter folded in,
unquantized and through llama.cpp's quantizer, predicts what the peft model predicts.

Greedy decoding compounds one flipped token into a different text, so each model is
scored position by position on the peft model's own greedy continuation (teacher
forcing): the share of positions where llama.cpp's top token is peft's, and the KL
divergence of llama.cpp's next-token distribution from peft's. The base without the
adapter is scored the same way: its KL is the scale against which "close" is judged
(on text this repetitive even the base often guesses the next token)."""

import pytest

from gba_core.registry import get_llm
from gba_train.data import Renderer
from gba_train.merge import export_merged_gguf

pytestmark = pytest.mark.integration

PROMPTS = [
    "Name three colours of the rainbow.",
    "Plan the next step for the request.\n\nRequest: Who wrote Hamlet?",
    "Write a short email to Anna about the meeting on Friday.",
]
NEW_TOKENS = 24


def log_softmax(x):
    import numpy as np

    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def closeness(random_adapter, model_path) -> tuple[float, float]:
    """(share of top tokens equal to peft's, mean KL(peft || llama.cpp))."""
    import numpy as np
    import torch
    from llama_cpp import Llama

    renderer = Renderer.for_tokenizer(random_adapter.tokenizer)
    render = get_llm("llama-cpp:gemma-3-270m").render
    llama = Llama(model_path=str(model_path), logits_all=True, n_ctx=512, verbose=False)
    agree, kls = 0, []
    try:
        for prompt in PROMPTS:
            ids = renderer.tokenize(render([{"role": "user", "content": prompt}]))
            with torch.no_grad():
                full = random_adapter.model.generate(
                    torch.tensor([ids]), max_new_tokens=NEW_TOKENS, do_sample=False
                )[0]
                logits = random_adapter.model(full[None]).logits[0, len(ids) - 1 : -1]
            peft = log_softmax(logits.numpy())
            llama.reset()
            llama.eval(full.tolist())
            ours = log_softmax(np.asarray(llama.scores[len(ids) - 1 : len(full) - 1]))
            agree += int((ours.argmax(-1) == full[len(ids) :].numpy()).sum())
            kls.extend((np.exp(peft) * (peft - ours)).sum(-1))
    finally:
        llama.close()
    return agree / len(kls), float(np.mean(kls))


@pytest.fixture(scope="module")
def base_closeness(random_adapter) -> tuple[float, float]:
    return closeness(random_adapter, random_adapter.base.gguf)


# Measured: KL 0.002 unquantized, 0.01 at q8_0, 0.1 at q4_k_m, 0.9 for the base.
@pytest.mark.parametrize(
    ("quantize", "min_agreement", "max_kl_share"),
    [(None, 0.95, 0.05), ("q8_0", 0.9, 0.05), ("q4_k_m", 0.85, 0.3)],
)
def test_the_merged_gguf_predicts_the_peft_models_tokens(
    random_adapter, base_closeness, tmp_path, quantize, min_agreement, max_kl_share
):
    out = export_merged_gguf(
        random_adapter.path, random_adapter.base.gguf, tmp_path / "m.gguf", quantize
    )
    assert not list(tmp_path.glob("*.tmp"))  # temporaries are gone
    agree, kl = closeness(random_adapter, out)
    base_agree, base_kl = base_closeness
    print(f"{quantize}: top tokens {agree:.3f}, KL {kl:.4f}; base {base_agree:.3f}, {base_kl:.4f}")
    assert agree >= min_agreement
    assert kl <= max_kl_share * base_kl


def test_the_quantizer_makes_the_file_smaller(random_adapter, tmp_path):
    plain = export_merged_gguf(random_adapter.path, random_adapter.base.gguf, tmp_path / "f.gguf")
    small = export_merged_gguf(
        random_adapter.path, random_adapter.base.gguf, tmp_path / "q.gguf", "q4_k_m"
    )
    assert small.stat().st_size < 0.7 * plain.stat().st_size
