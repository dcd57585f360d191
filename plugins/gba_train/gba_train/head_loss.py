"""Cross-entropy of a frozen LM head, with its gradient computed in the forward pass.

With a 262,144-token vocabulary, the plain path (``F.cross_entropy(hidden @ W.T)``)
spends most of its time outside the two matrix products that matter. On CPU it
allocates the ``[positions, vocabulary]`` logits, their log-softmax, and two gradients
of the same size. Each is a fresh 100 MB mapping that pages in on first touch; filling
the zeros of the NLL gradient alone took longer than the backward matrix product.

Here one scratch buffer, kept across steps, holds the logits. They are turned into the
gradient of the loss in place (softmax minus one-hot), then multiplied back through the
head, all during the forward pass. The backward pass only scales that gradient. The
loss and gradients are those of the plain path (to float rounding). The head's weight
gets no gradient, so this is for a frozen head, as in LoRA.
"""

from __future__ import annotations

from typing import Any


class Scratch:
    """A growing float buffer reused by every call: no allocation, no page faults."""

    def __init__(self) -> None:
        self.buffer: Any = None

    def view(self, rows: int, cols: int, like: Any) -> Any:
        import torch

        need = rows * cols
        buf = self.buffer
        fits = buf is not None and buf.numel() >= need
        if not fits or buf.dtype != like.dtype or buf.device != like.device:
            self.buffer = buf = torch.empty(need, dtype=like.dtype, device=like.device)
        return buf[:need].view(rows, cols)


def _function() -> Any:
    import torch

    class FrozenHeadCrossEntropy(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, hidden: Any, weight: Any, targets: Any, scratch: Scratch) -> Any:
            # Logits as [vocabulary, positions]: W @ h.T runs faster on CPU than h @ W.T
            # for a wide vocabulary and a few hundred positions.
            out = scratch.view(weight.shape[0], len(hidden), hidden)
            logits = torch.mm(weight, hidden.t(), out=out)
            lse = torch.logsumexp(logits, dim=0)
            loss = (lse - logits.gather(0, targets[None, :]).squeeze(0)).sum()
            probs = logits.sub_(lse[None, :]).exp_()
            probs.scatter_add_(0, targets[None, :], probs.new_full((1, len(targets)), -1.0))
            ctx.save_for_backward(probs.t() @ weight)
            return loss

        @staticmethod
        def backward(ctx: Any, grad_loss: Any) -> Any:
            (grad_hidden,) = ctx.saved_tensors
            return grad_hidden * grad_loss, None, None, None

    return FrozenHeadCrossEntropy


_FUNCTION: Any = None


def frozen_head_loss(hidden: Any, weight: Any, targets: Any, scratch: Scratch) -> Any:
    """``F.cross_entropy(hidden @ weight.T, targets, reduction="sum")`` for a frozen
    ``weight`` (no gradient), computed through ``scratch``."""
    global _FUNCTION
    if _FUNCTION is None:
        _FUNCTION = _function()
    return _FUNCTION.apply(hidden, weight, targets, scratch)


def usable(head: Any, hidden: Any) -> bool:
    """Whether ``frozen_head_loss`` applies: a bias-free head without gradient, float32
    hidden states on CPU (GPUs have a caching allocator and other kernels)."""
    import torch

    return (
        hidden.device.type == "cpu"
        and hidden.dtype == torch.float32
        and getattr(head, "bias", None) is None
        and not head.weight.requires_grad
        and head.weight.dtype == torch.float32
    )
