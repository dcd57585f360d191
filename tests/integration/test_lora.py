"""A LoRA adapter GGUF loads with `llama-cpp:BASE.gguf?lora=ADAPTER.gguf` and acts."""

import numpy as np
import pytest

from gba_core.registry import get_llm

PROMPT = [{"role": "user", "content": "Name three colours of the rainbow."}]
TARGETS = ("attn_q", "attn_v")


def target_shapes(metadata: dict) -> dict[str, tuple[int, int]]:
    """(in, out) of the adapted projections, from the model's metadata (reading the
    GGUF with gguf.GGUFReader takes ~20 s: it parses the 262k-token vocabulary)."""
    embd = int(metadata["gemma3.embedding_length"])
    head_dim = int(metadata["gemma3.attention.key_length"])
    return {
        "attn_q": (embd, int(metadata["gemma3.attention.head_count"]) * head_dim),
        "attn_v": (embd, int(metadata["gemma3.attention.head_count_kv"]) * head_dim),
    }


def write_adapter(path, metadata, *, rank: int, scale_b: float, seed: int = 0) -> None:
    """A llama.cpp LoRA adapter for the first two blocks: lora_a is (rank, in) and
    lora_b is (out, rank) in numpy order, i.e. ne = [in, rank] and [rank, out]."""
    gguf = pytest.importorskip("gguf")
    shapes = target_shapes(metadata)
    rng = np.random.default_rng(seed)
    writer = gguf.GGUFWriter(str(path), arch="gemma3")
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", float(rank))
    for block in (0, 1):
        for target in TARGETS:
            name = f"blk.{block}.{target}.weight"
            n_in, n_out = shapes[target]
            a = rng.standard_normal((rank, n_in)).astype(np.float32) * 0.1
            b = rng.standard_normal((n_out, rank)).astype(np.float32) * scale_b
            writer.add_tensor(f"{name}.lora_a", a)
            writer.add_tensor(f"{name}.lora_b", b)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def test_zero_adapter_changes_nothing_and_a_strong_one_changes_the_output(
    embedded, embedded_path, tmp_path
):
    base = embedded.complete(PROMPT, max_tokens=16).content
    zero, strong = tmp_path / "zero.gguf", tmp_path / "strong.gguf"
    metadata = embedded._model.llama.metadata
    write_adapter(zero, metadata, rank=4, scale_b=0.0)
    write_adapter(strong, metadata, rank=4, scale_b=2.0)
    with_zero = get_llm(f"llama-cpp:{embedded_path}?lora={zero}&n_ctx=1024")
    assert with_zero.spec.endswith(f"?lora={zero}")
    assert with_zero.complete(PROMPT, max_tokens=16).content == base
    with_strong = get_llm(f"llama-cpp:{embedded_path}?lora={strong}&n_ctx=1024")
    assert with_strong.complete(PROMPT, max_tokens=16).content != base
