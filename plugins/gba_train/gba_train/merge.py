"""``gba train export --format merged-gguf``: the base GGUF with the LoRA update folded
into its weights, optionally requantized by llama.cpp's own quantizer.

The base file is copied key by key and tensor by tensor, so its tokenizer, chat template
and every other setting stay exactly as they were. Only the adapted weights change: they
are dequantized, get ``scale · B @ A`` added, and are written as float32 (LoRA never
touches norm weights, so Gemma's GGUF norm convention, HF's weight plus one, needs no
care here). llama.cpp then quantizes the float32 tensors; with ``allow_requantize`` it
also converts base tensors of another type, and copies those already in the target type.
"""

from __future__ import annotations

import ctypes
import json
import os
from pathlib import Path
from typing import Any

from gba_core.errors import ConfigError

from .export import gguf_architecture, lora_tensors

QUANTIZE_TYPES = {
    "f16": "LLAMA_FTYPE_MOSTLY_F16",
    "q8_0": "LLAMA_FTYPE_MOSTLY_Q8_0",
    "q4_k_m": "LLAMA_FTYPE_MOSTLY_Q4_K_M",
}


def lora_updates(adapter: Path, arch: str, blocks: int) -> dict[str, Any]:
    """``{gguf weight name: scale · B @ A}`` as float32 (out, in) arrays."""
    tensors, alpha = lora_tensors(adapter, arch, blocks)
    rank = int(json.loads((adapter / "adapter_config.json").read_text())["r"])
    scale = alpha / rank  # lora_tensors gives the alpha that llama.cpp divides by rank
    updates = {}
    for name in tensors:
        if name.endswith(".lora_a"):
            weight = name.removesuffix(".lora_a")
            updates[weight] = scale * (tensors[weight + ".lora_b"] @ tensors[name])
    return updates


def write_merged(base_gguf: Path, updates: dict[str, Any], out: Path) -> None:
    """Copy ``base_gguf`` to ``out`` with ``updates`` added to their weights."""
    import gguf
    import numpy as np

    reader = gguf.GGUFReader(str(base_gguf))
    arch = reader.fields[gguf.Keys.General.ARCHITECTURE].contents()
    writer = gguf.GGUFWriter(str(out), arch=arch)
    for field in reader.fields.values():
        # The writer adds the header and the architecture itself.
        if field.name.startswith("GGUF.") or field.name == gguf.Keys.General.ARCHITECTURE:
            continue
        if field.name == gguf.Keys.General.ALIGNMENT:
            writer.add_custom_alignment(int(field.contents()))
            continue
        kind = field.types[0]
        sub_type = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), kind, sub_type=sub_type)
    missing = set(updates)
    for tensor in reader.tensors:
        if tensor.name in updates:
            weight = gguf.quants.dequantize(tensor.data, tensor.tensor_type).astype(np.float32)
            if weight.shape != updates[tensor.name].shape:
                raise ConfigError(
                    f"{tensor.name}: the adapter's update is {updates[tensor.name].shape},"
                    f" the base weight {weight.shape}; was the adapter trained on this base?"
                )
            writer.add_tensor(tensor.name, weight + updates[tensor.name])
            missing.discard(tensor.name)
        else:
            writer.add_tensor(
                tensor.name,
                tensor.data,
                raw_shape=tensor.data.shape,
                raw_dtype=tensor.tensor_type,
            )
    if missing:
        raise ConfigError(f"{base_gguf}: no weights named {', '.join(sorted(missing))}")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def quantize(source: Path, out: Path, kind: str, threads: int | None = None) -> None:
    """llama.cpp's quantizer, through llama-cpp-python."""
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, QUANTIZE_TYPES[kind])
    params.allow_requantize = True
    params.nthread = threads or os.cpu_count() or 1
    status = llama_cpp.llama_model_quantize(
        str(source).encode(), str(out).encode(), ctypes.byref(params)
    )
    if status != 0:
        raise ConfigError(f"llama.cpp could not quantize {source} to {kind} (status {status})")


def export_merged_gguf(
    adapter: Path, base_gguf: Path, out: Path, quantize_to: str | None = None
) -> Path:
    """Write ``out``: ``base_gguf`` with the adapter merged, quantized to ``quantize_to``
    (``f16``, ``q8_0`` or ``q4_k_m``) or, without it, the adapted weights left in float32."""
    if quantize_to is not None and quantize_to not in QUANTIZE_TYPES:
        raise ConfigError(f"--quantize: one of {', '.join(QUANTIZE_TYPES)}, not {quantize_to!r}")
    arch, blocks = gguf_architecture(base_gguf)
    updates = lora_updates(adapter, arch, blocks)
    out.parent.mkdir(parents=True, exist_ok=True)
    merged = out.with_name(out.name + ".merged.tmp")
    try:
        write_merged(base_gguf, updates, merged)
        if quantize_to is None:
            merged.replace(out)
        else:
            quantized = out.with_name(out.name + ".tmp")
            quantize(merged, quantized, quantize_to)
            quantized.replace(out)
    finally:
        merged.unlink(missing_ok=True)
    return out
