import pytest
import torch

from seguq.config import RunConfig
from seguq.errors import SeguqError
from seguq.methods import build_method, method_names


def _method(name, **method):
    config = RunConfig()
    config.net.widths = [8, 16, 32]
    config.method.name = name
    config.method.members = 3
    for key, value in method.items():
        setattr(config.method, key, value)
    torch.manual_seed(0)
    return build_method(config, 2, 3).eval()


@pytest.mark.parametrize(
    ("name", "n", "expected_s"),
    [("deterministic", 5, 1), ("mc_dropout", 5, 5), ("ensemble", 5, 3), ("tta", 5, 12)],
)
def test_sample_shapes_and_probabilities(name, n, expected_s):
    method = _method(name)
    probs = method.sample(torch.randn(2, 2, 24, 20), n)
    assert probs.shape == (expected_s, 2, 3, 24, 20)
    assert torch.allclose(probs.sum(2), torch.ones(()), atol=1e-5)
    assert (probs >= 0).all()


def test_mc_dropout_samples_differ_and_repeat_under_seed():
    method = _method("mc_dropout")
    x = torch.randn(1, 2, 16, 16)
    torch.manual_seed(1)
    first = method.sample(x, 4)
    torch.manual_seed(1)
    again = method.sample(x, 4)
    assert torch.equal(first, again)
    assert not torch.allclose(first[0], first[1])
    # Sampling leaves the module in eval mode: the deterministic logits do not change.
    assert torch.equal(method.logits(x), method.logits(x))


def test_ensemble_members_differ_and_tta_inverts_flips():
    ensemble = _method("ensemble")
    probs = ensemble.sample(torch.randn(1, 2, 16, 16))
    assert not torch.allclose(probs[0], probs[1])
    tta = _method("tta", tta_intensity=[])
    x = torch.randn(1, 2, 16, 16)
    samples = tta.sample(x)
    assert samples.shape[0] == 4
    # Sample 1 is the horizontally flipped view, flipped back onto the input grid.
    expected = torch.softmax(tta.net(x.flip(-1)).flip(-1), dim=1)
    assert torch.allclose(samples[1], expected, atol=1e-6)
    assert torch.allclose(samples[0], torch.softmax(tta.net(x), dim=1), atol=1e-6)


def test_deterministic_loss_decreases_on_one_batch():
    method = _method("deterministic").train()
    batch = {"image": torch.randn(4, 2, 16, 16), "label": torch.randint(0, 3, (4, 16, 16))}
    optimiser = torch.optim.Adam(method.parameters(), lr=1e-2)
    losses = []
    for _ in range(15):
        loss, _ = method.loss(batch)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(float(loss))
    assert losses[-1] < losses[0]


def test_temperature_scales_the_probabilities():
    method = _method("deterministic")
    x = torch.randn(1, 2, 16, 16)
    sharp = method.sample(x)
    method.temperature.fill_(4.0)
    soft = method.sample(x)
    assert soft.max() < sharp.max()


def test_registry_and_unknown_method():
    assert {"deterministic", "mc_dropout", "ensemble", "tta"} <= set(method_names())
    with pytest.raises(SeguqError, match="unknown method 'bayes'"):
        _method("bayes")
