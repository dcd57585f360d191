"""Packaged examples (``gba sim package``) as token ids for training.

The prompt is rendered by gba_core's one renderer, ``format_messages``, with the base
model's own chat template (or gba's plain format when it has none), exactly as the
``llama-cpp:`` backend renders it at inference; the completion is what the template
writes for the assistant's turn. Tokens follow llama.cpp's rule for the BOS token, so
training sees the ids inference will feed the model. Loss falls on the completion only
unless asked otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gba_core.errors import ConfigError
from gba_core.llm.base import Message
from gba_core.llm.formats import format_messages
from gba_core.schema import TrainingExample

IGNORE = -100  # label of a position that carries no loss


@dataclass
class Renderer:
    """The base model's prompt format and tokenizer."""

    tokenizer: Any
    chat_template: str | None = None

    @classmethod
    def for_tokenizer(cls, tokenizer: Any) -> Renderer:
        return cls(tokenizer, getattr(tokenizer, "chat_template", None) or None)

    def _format(self, messages: list[Message], generation_prompt: bool) -> str:
        return format_messages(
            messages,
            chat_template=self.chat_template,
            bos_token=self.tokenizer.bos_token or "",
            eos_token=self.tokenizer.eos_token or "",
            add_generation_prompt=generation_prompt,
        )

    def prompt_text(self, messages: list[Message]) -> str:
        return self._format(messages, True)

    def texts(self, prompt: list[Message], completion: list[Message]) -> tuple[str, str]:
        """The prompt as inference renders it, and the completion that follows it."""
        prompt_text = self.prompt_text(prompt)
        full = self._format([*prompt, *completion], False)
        if not full.startswith(prompt_text):
            raise ConfigError(
                "the chat template renders a finished conversation differently from its"
                " prompt; a model trained on it would see other text at inference"
            )
        return prompt_text, full[len(prompt_text) :]

    def tokenize(self, text: str) -> list[int]:
        # llama.cpp's rule: add BOS unless the text (the chat template) starts with it.
        bos = self.tokenizer.bos_token
        add_bos = bool(bos) and not text.startswith(bos)
        return list(self.tokenizer(text, add_special_tokens=add_bos)["input_ids"])


@dataclass
class Encoded:
    examples: list[dict[str, list[int]]] = field(default_factory=list)
    truncated: int = 0  # examples cut at max_length
    dropped: int = 0  # examples with no completion token left after the cut


def read_split(dataset: Path, split: str) -> list[TrainingExample]:
    """Rows of ``<split>.prompt_completion.jsonl`` written by ``gba sim package``."""
    path = Path(dataset) / f"{split}.prompt_completion.jsonl"
    if not path.is_file():
        raise ConfigError(f"{path} is missing: make the dataset with `gba sim package --out`")
    rows = []
    with path.open() as handle:
        for number, line in enumerate(handle, 1):
            try:
                rows.append(TrainingExample.model_validate_json(line))
            except ValueError:
                raise ConfigError(f"{path}:{number}: not a prompt/completion example") from None
    return rows


def encode(
    rows: list[TrainingExample],
    renderer: Renderer,
    *,
    max_length: int | None = None,
    completion_only: bool = True,
) -> Encoded:
    """Token ids and labels of each row; ``completion_only`` masks the prompt's labels."""
    encoded = Encoded()
    for row in rows:
        prompt_text, completion_text = renderer.texts(
            row.prompt_messages(), row.completion_messages()
        )
        prompt_ids = renderer.tokenize(prompt_text)
        ids = renderer.tokenize(prompt_text + completion_text)
        # Tokens can merge across the boundary; the shared prefix is the prompt.
        cut = 0
        while cut < min(len(prompt_ids), len(ids)) and prompt_ids[cut] == ids[cut]:
            cut += 1
        labels = [IGNORE] * cut + ids[cut:] if completion_only else list(ids)
        if max_length and len(ids) > max_length:
            ids, labels = ids[:max_length], labels[:max_length]
            encoded.truncated += 1
            if all(label == IGNORE for label in labels[1:]):
                encoded.dropped += 1
                continue
        encoded.examples.append({"input_ids": ids, "labels": labels})
    return encoded
