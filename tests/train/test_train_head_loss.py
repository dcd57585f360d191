"""The fused cross-entropy of a frozen LM head equals the plain path: loss, gradient,
gradient scaling (accumulation), and a scratch buffer reused across shapes."""

import pytest


def plain(hidden, weight, targets):
    import torch.nn.functional as F

    return F.cross_entropy(hidden @ weight.t(), targets, reduction="sum")


@pytest.mark.parametrize("positions", [37, 5])
def test_loss_and_gradient_equal_the_plain_cross_entropy(positions):
    import torch

    from gba_train.head_loss import Scratch, frozen_head_loss

    torch.manual_seed(positions)
    weight = torch.randn(5000, 64) * 0.1
    targets = torch.randint(0, 5000, (positions,))
    scratch = Scratch()
    for rows in (positions, positions // 2 + 1):  # a smaller call reuses the buffer
        base = torch.randn(rows, 64)
        ours_h, plain_h = base.clone().requires_grad_(), base.clone().requires_grad_()
        ours = frozen_head_loss(ours_h, weight, targets[:rows], scratch) / 7
        reference = plain(plain_h, weight, targets[:rows]) / 7
        ours.backward()
        reference.backward()
        assert ours.item() == pytest.approx(reference.item(), rel=1e-5)
        assert torch.allclose(ours_h.grad, plain_h.grad, atol=1e-6, rtol=1e-4)
    assert scratch.buffer.numel() == 5000 * positions


def test_the_trainer_uses_it_for_a_frozen_head_only():
    import torch

    from gba_train.head_loss import usable

    head = torch.nn.Linear(64, 5000, bias=False)
    hidden = torch.randn(3, 64)
    assert not usable(head, hidden)  # a head being trained needs its weight's gradient
    head.weight.requires_grad_(False)
    assert usable(head, hidden)
    assert not usable(head, hidden.double())
