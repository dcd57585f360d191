"""The base model to fine-tune: a Hugging Face checkpoint, or a GGUF converted once.

transformers reads a GGUF (the embedded Gemma 3 270M included) by dequantizing every
tensor, which takes about a minute here and leaves a model that refuses to train or save
while its GGUF quantizer state is attached. So a GGUF base is converted once, without
that state, into a plain float32 checkpoint in gba's cache dir (keyed by the file's
hash), and every later run loads the checkpoint in seconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from gba_core.errors import ConfigError

MARKER = "gba-base.json"


@dataclass
class Base:
    """A base ready for transformers: ``path`` is a checkpoint directory; ``gguf`` the
    file it came from, when it came from one (exports write into a copy of it)."""

    path: Path
    gguf: Path | None = None


def resolve_gguf(base: str) -> Path | None:
    """The GGUF file ``base`` names (an embedded model name, a path, or a
    ``llama-cpp:`` spec of either), or None for a Hugging Face checkpoint."""
    from gba_core.llm.embedded import EMBEDDED_MODELS, embedded_model_path

    name = base.removeprefix("llama-cpp:").split("?", 1)[0]
    if name in EMBEDDED_MODELS:
        return embedded_model_path(name)
    if name.endswith(".gguf") or base.startswith("llama-cpp:"):
        path = Path(name).expanduser()
        if not path.is_file():
            raise ConfigError(f"no GGUF file at {path}")
        return path
    return None


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def prepare_base(base: str, *, cache: Path | None = None) -> Base:
    """``base`` as a checkpoint directory transformers loads for training."""
    gguf = resolve_gguf(base)
    if gguf is None:
        path = Path(base).expanduser()
        if not (path / "config.json").is_file():
            raise ConfigError(
                f"{base}: not a GGUF file, an embedded model name, or a Hugging Face"
                " checkpoint directory (with config.json); downloads are not made"
            )
        return Base(path)
    from filelock import FileLock

    from gba_core.llm.embedded import cache_dir

    digest = file_digest(gguf)
    target = (cache or cache_dir() / "train" / "bases") / f"{gguf.stem}-{digest[:12]}"
    if (target / MARKER).is_file():
        return Base(target, gguf)
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if not (target / MARKER).is_file():
            _convert(gguf, target, digest)
    return Base(target, gguf)


def _convert(gguf: Path, target: Path, digest: str) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        # dequantize=True drops the GGUF quantizer state as the model loads.
        model = AutoModelForCausalLM.from_pretrained(
            gguf.parent,
            gguf_file=gguf.name,
            dtype=torch.float32,
            quantization_config=GgufConfig(dequantize=True),
        )
        if getattr(model, "hf_quantizer", None) is not None:
            raise ConfigError(f"{gguf}: transformers kept its GGUF quantizer; cannot train it")
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / MARKER).write_text(json.dumps({"gguf": str(gguf), "sha256": digest}) + "\n")
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
