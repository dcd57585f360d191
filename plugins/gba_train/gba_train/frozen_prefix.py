"""Skip the frozen layers after the first epoch.

With LoRA on the last N decoder layers only (``--lora-layers``), the layers below them
have no adapter: they compute the same hidden states for an example in every epoch.
``FrozenPrefix`` computes them once per example, keeps them, and from then on runs only
the adapted layers from the kept states. The loss and gradients are those of the whole
model; a check on the first example compares both paths and falls back to the whole
model if they differ (a model whose forward this module does not understand).

It relies on the decoder layout transformers uses for Llama-like models (Gemma, Llama,
Qwen, Mistral): ``model.layers`` iterated in order, per-layer ``config.layer_types``
when the model mixes attention kinds, and the final ``model.norm``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

DEFAULT_BUDGET = 2 << 30  # bytes of kept hidden states


@contextmanager
def only_layers(body: Any, start: int, stop: int) -> Iterator[None]:
    """Run ``body`` (the decoder stack) with its layers ``start:stop`` only."""
    import torch

    layers = body.layers
    types = getattr(body.config, "layer_types", None)
    body.layers = torch.nn.ModuleList(list(layers)[start:stop])
    if types is not None:
        body.config.layer_types = list(types)[start:stop]
    try:
        yield
    finally:
        body.layers = layers
        if types is not None:
            body.config.layer_types = types


class FrozenPrefix:
    """Hidden states entering layer ``first``, kept per example (batch of one row)."""

    def __init__(self, first: int, budget: int = DEFAULT_BUDGET) -> None:
        self.first = first
        self.budget = budget
        self.kept: dict[bytes, Any] = {}
        self.used = 0
        self.checked: bool | None = None  # None: not yet; then whether the paths agree

    def usable(self, inputs: dict[str, Any]) -> bool:
        ids = inputs["input_ids"]
        mask = inputs.get("attention_mask")
        return (
            self.checked is not False
            and self.first > 0
            and ids.shape[0] == 1
            and (mask is None or bool(mask.all()))
        )

    def forward(self, body: Any, inputs: dict[str, Any]) -> Any:
        """``body``'s last hidden state for one example, through the kept states."""
        ids = inputs["input_ids"]
        key = ids.cpu().numpy().tobytes()
        hidden = self.kept.get(key)
        if hidden is None:
            hidden = self._below(body, ids)
            if self.used + hidden.numel() * hidden.element_size() <= self.budget:
                self.kept[key] = hidden
                self.used += hidden.numel() * hidden.element_size()
        with only_layers(body, self.first, len(body.layers)):
            out = body(
                inputs_embeds=hidden, position_ids=inputs.get("position_ids"), use_cache=False
            )
        if self.checked is None:
            self.checked = self._agrees(body, inputs, out.last_hidden_state)
            if not self.checked:
                self.kept.clear()
                return body(input_ids=ids, position_ids=inputs.get("position_ids"), use_cache=False)
        return out

    def _below(self, body: Any, ids: Any) -> Any:
        import torch

        captured: list[Any] = []
        layer = body.layers[self.first - 1]
        hook = layer.register_forward_hook(
            lambda module, args, output: captured.append(
                output[0] if isinstance(output, tuple) else output
            )
        )
        try:
            with torch.no_grad(), only_layers(body, 0, self.first):
                body(input_ids=ids, use_cache=False)
        finally:
            hook.remove()
        return captured[-1].detach()

    def _agrees(self, body: Any, inputs: dict[str, Any], ours: Any) -> bool:
        import torch

        with torch.no_grad():
            whole = body(
                input_ids=inputs["input_ids"],
                position_ids=inputs.get("position_ids"),
                use_cache=False,
            ).last_hidden_state
        agree = torch.allclose(ours.detach(), whole, rtol=1e-4, atol=1e-4)
        if not agree:
            warnings.warn(
                "the kept hidden states of the frozen layers do not reproduce this model's"
                " forward pass; training runs every layer instead",
                stacklevel=2,
            )
        return agree
