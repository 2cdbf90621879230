import pytest
import torch
import torch.nn.functional as F

from seguq.config import RunConfig
from seguq.errors import SeguqError
from seguq.methods import build_method
from seguq.methods.pixelwise import highlight_weights, sampled_logit_nll


def _pixelwise(**options):
    config = RunConfig()
    config.net.widths = [8, 16, 32]
    config.method.name = "pixelwise"
    config.method.options = options
    torch.manual_seed(0)
    return build_method(config, 2, 3)


def _batch():
    g = torch.Generator().manual_seed(0)
    image = torch.randn(4, 2, 24, 24, generator=g)
    return {"image": image, "label": (image[:, 0] > 0.3).long() + (image[:, 1] > 1.0).long()}


def test_variance_head_shapes_and_samples():
    method = _pixelwise().eval()
    x = _batch()["image"]
    mu, log_var = method.mean_and_log_var(x)
    assert mu.shape == (4, 3, 24, 24) and log_var.shape == (4, 1, 24, 24)
    assert method.sample(x).shape == (1, 4, 3, 24, 24)
    torch.manual_seed(0)
    samples = method.sample(x, 5)
    assert samples.shape == (5, 4, 3, 24, 24) and not torch.allclose(samples[0], samples[1])
    assert method.auxiliary_maps(x).shape == (4, 1, 24, 24)
    assert method.auxiliary_map_names == ["learned_sigma"]


def test_sampled_logit_loss_reduces_to_cross_entropy_without_variance():
    batch = _batch()
    mu = torch.randn(4, 3, 24, 24)
    noise = torch.randn(10, 4, 3, 24, 24)
    zero_variance = torch.full((4, 1, 24, 24), -60.0)
    loss = sampled_logit_nll(mu, zero_variance, batch["label"], noise)
    assert torch.allclose(loss, F.cross_entropy(mu, batch["label"]), atol=1e-5)
    # With variance, averaging in probability space differs from the plain cross-entropy.
    assert not torch.allclose(
        sampled_logit_nll(mu, torch.zeros(4, 1, 24, 24), batch["label"], noise),
        F.cross_entropy(mu, batch["label"]),
    )


def test_weight_is_detached_from_the_uncertainty():
    log_var = torch.randn(2, 1, 8, 8, requires_grad=True)
    weights = highlight_weights(torch.exp(0.5 * log_var[:, 0]), lambda_=1.0)
    assert not weights.requires_grad
    assert torch.allclose(
        weights.mean(), torch.tensor(2.0), atol=1e-5
    )  # 1 + lambda * mean(u/mean u)
    # The weighted CE's gradient reaches only mu: the variance gets gradient from L_unc alone.
    method = _pixelwise(gamma=0.0)
    loss, _ = method.loss(_batch())
    loss.backward()
    assert (
        method.variance_head.weight.grad is None
        or method.variance_head.weight.grad.abs().sum() == 0
    )


@pytest.mark.parametrize(
    "options",
    [{}, {"weighting": False}, {"source": "entropy"}, {"source": "mc_dropout", "mc_passes": 2}],
)
def test_short_training_lowers_the_loss(options):
    method = _pixelwise(**options).train()
    batch = _batch()
    optimiser = torch.optim.Adam(method.parameters(), lr=5e-3)
    losses = []
    for step in range(20):
        torch.manual_seed(step)
        loss, logs = method.loss(batch)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(float(loss))
    assert sum(losses[-4:]) / 4 < sum(losses[:4]) / 4
    assert {"seg", "unc", "sigma"} <= set(logs)


def test_bad_options():
    with pytest.raises(SeguqError, match="unknown pixelwise option"):
        _pixelwise(lamda=2)
    with pytest.raises(SeguqError, match="unknown 'gradient'"):
        _pixelwise(source="gradient")
