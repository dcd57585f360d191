"""The LM head's cross-entropy on CPU: the plain path against gba_train's fused one.

Gemma 3's tied head (262,144 × 640, float32) on the labelled positions of one training
example, forward and backward, in this process, alternating: the plain path
(``F.cross_entropy(h @ W.T)``, what `gba train sft` did before) against
``gba_train.head_loss.frozen_head_loss``. Random weights of the real shape; the cost
does not depend on their values.

    ../.venv/bin/python head_loss.py [--positions 60 90 120] [--repeats 7] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import time


def main() -> None:
    import torch
    import torch.nn.functional as F

    from gba_train.head_loss import Scratch, frozen_head_loss

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--positions", type=int, nargs="+", default=[60, 90, 120])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--vocab", type=int, default=262_144)
    parser.add_argument("--hidden", type=int, default=640)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    weight = torch.randn(args.vocab, args.hidden) * 0.02
    scratch = Scratch()

    def plain(hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(hidden @ weight.t(), targets, reduction="sum")

    def fused(hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return frozen_head_loss(hidden, weight, targets, scratch)

    print(f"{'positions':>9}  {'plain ms':>9}  {'fused ms':>9}  {'speed-up':>8}  max |Δgrad|")
    for positions in args.positions:
        targets = torch.randint(0, args.vocab, (positions,))
        base = torch.randn(positions, args.hidden)
        times: dict[str, list[float]] = {"plain": [], "fused": []}
        grads = {}
        for _ in range(args.repeats + 1):  # the first round warms up and is dropped
            for name, loss_of in (("plain", plain), ("fused", fused)):
                hidden = base.clone().requires_grad_()
                started = time.perf_counter()
                loss_of(hidden, targets).backward()
                times[name].append(time.perf_counter() - started)
                grads[name] = hidden.grad
        plain_ms = 1000 * statistics.median(times["plain"][1:])
        fused_ms = 1000 * statistics.median(times["fused"][1:])
        delta = (grads["plain"] - grads["fused"]).abs().max().item()
        print(
            f"{positions:>9}  {plain_ms:>9.0f}  {fused_ms:>9.0f}  {plain_ms / fused_ms:>7.2f}×"
            f"  {delta:.1e}"
        )


if __name__ == "__main__":
    main()
