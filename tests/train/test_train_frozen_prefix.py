"""LoRA on the last layers only: the frozen layers' hidden states are computed once per
example and reused, with the loss and gradients of the whole model."""

import pytest

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def model():
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from gba_train.base import prepare_base
    from gba_train.sft import decoder_linear_names

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(
        prepare_base("gemma-3-270m").path, dtype=torch.float32
    )
    config = LoraConfig(
        r=4,
        target_modules=decoder_linear_names(base),
        layers_to_transform=[16, 17],
        layers_pattern="layers",
        init_lora_weights=False,  # random B too, so the adapters change the output
    )
    return get_peft_model(base, config)


def loss_and_grads(model, inputs, prefix=None):
    from gba_train.sft import make_trainer_class

    model.zero_grad()
    trainer = type("T", (), {"frozen_prefix": prefix, "_head_scratch": None})()
    loss = make_trainer_class().compute_loss(trainer, model, dict(inputs))
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return loss.item(), grads


def test_kept_hidden_states_give_the_whole_models_loss_and_gradients(model):
    import torch

    from gba_train.frozen_prefix import FrozenPrefix

    ids = torch.tensor([[2, 9259, 236764, 1217, 659, 611, 236881, 107, 2094, 1217, 236761]])
    inputs = {"input_ids": ids, "labels": ids.clone(), "attention_mask": torch.ones_like(ids)}
    reference, reference_grads = loss_and_grads(model, inputs)

    prefix = FrozenPrefix(first=16)
    calls = []
    bottom = model.get_base_model().model.layers[0]
    hook = bottom.register_forward_hook(lambda *args: calls.append(1))
    try:
        first, _ = loss_and_grads(model, inputs, prefix)
        assert prefix.checked is True and len(prefix.kept) == 1
        calls.clear()
        again, again_grads = loss_and_grads(model, inputs, prefix)
    finally:
        hook.remove()
    assert calls == []  # the second pass never ran the frozen layers
    assert first == pytest.approx(reference, rel=1e-5)
    assert again == pytest.approx(reference, rel=1e-5)
    assert set(again_grads) == set(reference_grads) and len(reference_grads) == 2 * 2 * 7
    for name, grad in reference_grads.items():
        torch.testing.assert_close(again_grads[name], grad, rtol=1e-4, atol=1e-6)
    layers = model.get_base_model().model.layers
    assert len(layers) == 18 and len(model.config.layer_types) == 18  # restored


def test_a_model_the_shortcut_does_not_reproduce_falls_back_to_every_layer(model):
    import torch

    from gba_train.frozen_prefix import FrozenPrefix

    ids = torch.tensor([[2, 9259, 236764, 1217, 659]])
    inputs = {"input_ids": ids, "labels": ids.clone()}
    reference, _ = loss_and_grads(model, inputs)
    prefix = FrozenPrefix(first=16)
    prefix._below = lambda body, ids: torch.zeros(1, ids.shape[1], 640)  # a wrong shortcut
    with pytest.warns(UserWarning, match="training runs every layer"):
        loss, _ = loss_and_grads(model, inputs, prefix)
    assert loss == pytest.approx(reference, rel=1e-5)
    assert prefix.checked is False and not prefix.usable(inputs)
