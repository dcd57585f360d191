"""A LoRA adapter with random A and B on the embedded model (peft's default start is a
no-op), shared by the export tests so the base is loaded once."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass
class RandomAdapter:
    base: Any  # gba_train.base.Base
    tokenizer: Any
    model: Any  # the peft model, in eval mode
    path: Path


@pytest.fixture(scope="session")
def random_adapter(tmp_path_factory) -> RandomAdapter:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from gba_train.base import prepare_base

    base = prepare_base("gemma-3-270m")
    tokenizer = AutoTokenizer.from_pretrained(base.path)
    model = AutoModelForCausalLM.from_pretrained(base.path, dtype=torch.float32)
    torch.manual_seed(0)
    config = LoraConfig(
        r=8,
        lora_alpha=4,
        target_modules=["q_proj", "v_proj", "o_proj", "down_proj"],
        init_lora_weights=False,
        task_type="CAUSAL_LM",
    )
    tuned = get_peft_model(model, config).eval()
    path = tmp_path_factory.mktemp("random-adapter") / "adapter"
    tuned.save_pretrained(path)
    return RandomAdapter(base, tokenizer, tuned, path)
