import pytest
import torch

from seguq.config import RunConfig
from seguq.engine.checkpoint import load_method, save_checkpoint
from seguq.errors import SeguqError
from seguq.methods import build_method
from seguq.methods.losses import ce_dice_loss


def _prob_unet(**options):
    config = RunConfig()
    config.net.widths = [4, 8, 16]
    config.method.name = "prob_unet"
    config.method.options = options
    torch.manual_seed(0)
    return build_method(config, 2, 3)


def _batch(raters: int = 1):
    g = torch.Generator().manual_seed(0)
    image = torch.randn(2, 2, 16, 16, generator=g)
    label = (image[:, 0] > 0.3).long() + (image[:, 1] > 1.0).long()
    batch = {"image": image, "label": label}
    if raters > 1:
        shifted = [torch.roll(label, r, dims=-1) for r in range(raters)]
        batch["labels"] = torch.stack(shifted, 1)
    return batch


def _perturb(method):
    # A non-trivial prior (the heads start at the standard normal for every image) and a latent
    # that matters (fcomb's latent map starts at zero), as after training.
    with torch.no_grad():
        method.prior.head.conv.weight.normal_(0, 0.5)
        method.prior.head.conv.bias.normal_(0, 0.5)
        method.fcomb.latent_linear.weight.normal_(0, 0.5)
    return method.eval()


def test_samples_are_probabilities_that_differ_and_repeat_under_a_seed():
    method = _perturb(_prob_unet())
    x = _batch()["image"]
    torch.manual_seed(3)
    first = method.sample(x, 5)
    torch.manual_seed(3)
    again = method.sample(x, 5)
    assert first.shape == (5, 2, 3, 16, 16)
    assert torch.allclose(first.sum(2), torch.ones(()), atol=1e-5)
    assert torch.equal(first, again)
    assert not torch.allclose(first[0], first[1])
    assert method.default_samples == 16


def test_unet_runs_once_and_chunking_does_not_change_samples():
    method = _perturb(_prob_unet(sample_chunk=2))
    calls = []
    original = method.unet.encode
    method.unet.encode = lambda x: calls.append(x.shape) or original(x)
    x = _batch()["image"][:1]
    torch.manual_seed(7)
    chunked = method.sample(x, 5)
    assert calls == [torch.Size([1, 2, 16, 16])]
    method.sample_chunk = 16
    torch.manual_seed(7)
    assert torch.allclose(chunked, method.sample(x, 5), atol=1e-6)


def test_deterministic_logits_are_reproducible_and_use_the_prior_mean():
    method = _perturb(_prob_unet())
    x = _batch()["image"]
    logits = method.logits(x)
    assert logits.shape == (2, 3, 16, 16) and torch.equal(logits, method.logits(x))
    # Odd sizes are padded and cropped back.
    assert method.logits(x[..., :15, :13]).shape == (2, 3, 15, 13)


def test_kl_starts_at_zero_then_is_nonnegative_and_finite():
    method = _prob_unet()
    _, logs = method.loss(_batch())
    assert abs(logs["kl"]) < 1e-6 and logs["beta"] == 1.0
    with torch.no_grad():
        method.posterior.head.conv.weight.normal_(0, 0.5)
    _, logs = method.loss(_batch())
    assert logs["kl"] > 0 and torch.isfinite(torch.tensor(logs["kl"]))


def test_warm_up_scales_beta_and_options_are_checked():
    method = _prob_unet(warmup_steps=10)
    _, logs = method.loss({**_batch(), "step": torch.tensor(5)})
    assert logs["beta"] == pytest.approx(0.5)
    with pytest.raises(SeguqError, match="unknown prob_unet option"):
        _prob_unet(latent=3)
    with pytest.raises(SeguqError, match="kl_scale"):
        _prob_unet(kl_scale="sum")
    with pytest.raises(SeguqError, match="latent_dim"):
        _prob_unet(latent_dim=0)


def test_several_annotators_average_the_per_annotator_losses():
    method = _prob_unet()  # prior = posterior = N(0, 1) at start, so KL = 0
    batch = _batch(raters=2)
    per_annotator = []
    part, _ = method._shared(batch["image"])
    torch.manual_seed(0)
    # The posterior is N(0, 1), so z is the noise of the joint loss below, annotator-major.
    noise = torch.randn(4, 6)
    for r in range(2):
        logits = method.fcomb(part, noise[2 * r : 2 * r + 2])
        per_annotator.append(float(ce_dice_loss(logits, batch["labels"][:, r])))
    torch.manual_seed(0)
    _, logs = method.loss(batch)
    assert logs["seg"] == pytest.approx(sum(per_annotator) / 2, rel=1e-5)


@pytest.mark.parametrize("raters", [1, 2])
def test_short_training_lowers_the_loss(raters, loss_curve, decreased):
    losses = loss_curve(_prob_unet(), _batch(raters), steps=12, lr=1e-2)
    assert decreased(losses, window=3)


def test_saved_and_reloaded_prob_unet_reproduces_samples(tmp_path):
    method = _perturb(_prob_unet(latent_dim=3, fcomb_layers=2))
    method.config.data.in_channels, method.config.data.num_classes = 2, 3
    save_checkpoint(method, tmp_path / "pu.pt")
    loaded = load_method(tmp_path / "pu.pt")
    x = _batch()["image"][:1]
    torch.manual_seed(1)
    expected = method.sample(x, 3)
    torch.manual_seed(1)
    assert torch.equal(loaded.sample(x, 3), expected)


def test_max_log_sigma_bounds_prior_and_posterior_scales():
    method = _prob_unet(max_log_sigma=0.0)
    for net in (method.prior, method.posterior):
        torch.nn.init.constant_(net.head.conv.bias, 2.5)  # log sigma would be 2.5
    x = _batch()["image"]
    _, log_sigma = method.prior(x)
    assert torch.all(log_sigma <= 0.0)
    _, log_sigma = _prob_unet()._shared(x)[1]
    assert torch.all(log_sigma == 0.0)  # zero-initialised heads: the standard normal
    with pytest.raises(SeguqError, match="max_log_sigma"):
        _prob_unet(max_log_sigma=5.0)
