"""``gba train export``: a peft LoRA adapter as a GGUF that llama.cpp loads beside its
base (``llama-cpp:BASE.gguf?lora=ADAPTER.gguf``).

llama.cpp's adapter format: ``general.type = adapter``, ``adapter.type = lora``,
``adapter.lora.alpha`` (float32) and, per adapted weight, ``<gguf name>.lora_a`` and
``.lora_b``. peft's ``lora_A`` (rank × in) and ``lora_B`` (out × rank) go in as they are:
the GGUF writer reverses numpy shapes into GGUF's order, which is what llama.cpp's
shape check expects. llama.cpp scales by alpha / rank, as peft does.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from gba_core.errors import ConfigError

PEFT_PREFIX = "base_model.model."
SUFFIXES = {".lora_A.weight": "lora_a", ".lora_B.weight": "lora_b"}


def gguf_architecture(gguf_path: Path) -> tuple[str, int]:
    """The architecture name and block count of a GGUF model, from llama.cpp's reading
    of its header (gguf.GGUFReader parses the whole vocabulary first: ~20 s here)."""
    from llama_cpp import Llama

    from gba_core.llm.llamacpp_process import quiet_llama_logs

    quiet_llama_logs()  # a vocab-only load warns about a context it never uses
    llama = Llama(model_path=str(gguf_path), vocab_only=True, verbose=False)
    try:
        meta = llama.metadata
        arch = meta["general.architecture"]
        return arch, int(meta[f"{arch}.block_count"])
    finally:
        llama.close()


def lora_tensors(adapter: Path, arch: str, blocks: int) -> tuple[dict[str, Any], float]:
    """The adapter's tensors under their GGUF names, and the alpha llama.cpp needs."""
    import gguf
    from safetensors.numpy import load_file

    try:
        config = json.loads((adapter / "adapter_config.json").read_text())
        weights = load_file(adapter / "adapter_model.safetensors")
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{adapter}: not a peft LoRA adapter folder ({exc})") from None
    if config.get("peft_type", "LORA") != "LORA" or config.get("use_dora"):
        raise ConfigError(f"{adapter}: only plain LoRA adapters export to llama.cpp")
    if config.get("modules_to_save"):
        raise ConfigError(
            f"{adapter}: modules_to_save ({config['modules_to_save']}) are full weights,"
            " not LoRA pairs; export supports plain LoRA adapters only"
        )
    if config.get("rank_pattern") or config.get("alpha_pattern"):
        raise ConfigError(
            f"{adapter}: per-module ranks or alphas (rank_pattern, alpha_pattern) are not"
            " supported by export; train with one rank and alpha"
        )
    arch_ids = {name: arch_id for arch_id, name in gguf.MODEL_ARCH_NAMES.items()}
    if arch not in arch_ids:
        raise ConfigError(f"the gguf package does not know the architecture {arch!r}")
    names = gguf.get_tensor_name_map(arch_ids[arch], blocks)
    tensors: dict[str, Any] = {}
    for key, value in weights.items():
        part = next((p for p in SUFFIXES if key.endswith(p)), None)
        if part is None:
            raise ConfigError(f"{adapter}: unexpected tensor {key} in a LoRA adapter")
        hf_name = key.removeprefix(PEFT_PREFIX).removesuffix(part) + ".weight"
        # Multimodal checkpoints nest the language model one level deeper.
        hf_name = hf_name.replace("model.language_model.", "model.", 1)
        gguf_name = names.get_name(hf_name, try_suffixes=(".weight",))
        if gguf_name is None or gguf_name.startswith(("token_embd", "output.")):
            raise ConfigError(
                f"{adapter}: {hf_name} has no place in a llama.cpp adapter for {arch}"
                " (embeddings and the output head are not adapted there)"
            )
        tensors[f"{gguf_name}.{SUFFIXES[part]}"] = value.astype("float32")
    rank, alpha = int(config["r"]), float(config["lora_alpha"])
    # llama.cpp scales by alpha / rank; rsLoRA by alpha / sqrt(rank).
    if config.get("use_rslora"):
        alpha *= math.sqrt(rank)
    return tensors, alpha


def export_lora_gguf(adapter: Path, base_gguf: Path, out: Path) -> Path:
    """Write ``out``: the adapter as a llama.cpp LoRA GGUF for ``base_gguf``."""
    import gguf

    arch, blocks = gguf_architecture(base_gguf)
    tensors, alpha = lora_tensors(adapter, arch, blocks)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    writer = gguf.GGUFWriter(str(tmp), arch=arch)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
    for name in sorted(tensors):
        writer.add_tensor(name, tensors[name])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    tmp.replace(out)
    return out
