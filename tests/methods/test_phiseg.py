import pytest
import torch

from seguq.config import RunConfig
from seguq.engine.checkpoint import load_method, save_checkpoint
from seguq.errors import SeguqError
from seguq.methods import build_method


def _phiseg(**options):
    config = RunConfig()
    config.net.widths = [4, 8, 16]
    config.method.name = "phiseg"
    config.method.options = options
    torch.manual_seed(0)
    return build_method(config, 2, 3)


def _batch(raters: int = 1):
    g = torch.Generator().manual_seed(0)
    image = torch.randn(2, 2, 16, 16, generator=g)
    label = (image[:, 0] > 0.3).long() + (image[:, 1] > 1.0).long()
    batch = {"image": image, "label": label}
    if raters > 1:
        batch["labels"] = torch.stack([torch.roll(label, r, dims=-1) for r in range(raters)], 1)
    return batch


def _perturb(method):
    # Non-trivial prior heads (they start at the standard normal).
    with torch.no_grad():
        for head in method.prior.heads:
            head.conv.weight.normal_(0, 0.5)
    return method.eval()


def test_levels_default_to_the_skip_levels_coarse_to_fine():
    method = _phiseg()
    assert method.levels == 2 and method.level_names == ["level0", "level1"]
    # Latent level l sits at resolution l + 1 (16x16 input: 8x8 and 4x4).
    features = method.prior.encode(_batch()["image"])
    assert [f.shape[-1] for f in features] == [8, 4]
    assert _phiseg(latent_levels=3).prior.encode(_batch()["image"])[0].shape[-1] == 16


def test_samples_are_probabilities_that_differ_and_repeat_under_a_seed():
    method = _perturb(_phiseg())
    x = _batch()["image"]
    torch.manual_seed(3)
    first = method.sample(x, 4)
    torch.manual_seed(3)
    again = method.sample(x, 4)
    assert first.shape == (4, 2, 3, 16, 16)
    assert torch.allclose(first.sum(2), torch.ones(()), atol=1e-5)
    assert torch.equal(first, again)
    assert not torch.allclose(first[0], first[1])
    assert method.default_samples == 16


def test_chunking_does_not_change_samples_and_levels_sample_alone():
    method = _perturb(_phiseg(sample_chunk=3))
    x = _batch()["image"][:1]
    torch.manual_seed(7)
    chunked = method.sample(x, 4)
    method.sample_chunk = 8
    torch.manual_seed(7)
    assert torch.allclose(chunked, method.sample(x, 4), atol=1e-5)
    for level in method.level_names:
        assert method.sample_level(x, 2, level).shape == (2, 1, 3, 16, 16)
    with pytest.raises(SeguqError, match="unknown level"):
        method.sample_level(x, 2, "level5")


def test_deterministic_logits_are_reproducible_and_padded_back():
    method = _perturb(_phiseg())
    x = _batch()["image"]
    logits = method.logits(x)
    assert logits.shape == (2, 3, 16, 16) and torch.equal(logits, method.logits(x))
    assert method.logits(x[..., :15, :13]).shape == (2, 3, 15, 13)


def test_kl_starts_at_zero_then_is_nonnegative_and_finite():
    method = _phiseg()
    _, logs = method.loss(_batch())
    assert abs(logs["kl"]) < 1e-6 and {"kl_level0", "kl_level1"} <= set(logs)
    with torch.no_grad():
        for head in method.posterior.heads:
            head.conv.weight.normal_(0, 0.5)
    _, logs = method.loss(_batch(raters=2))
    assert logs["kl"] > 0 and torch.isfinite(torch.tensor(logs["kl"]))
    assert logs["kl_level0"] >= 0 and logs["kl_level1"] >= 0


def test_options_are_checked_and_resolved():
    assert _phiseg(kl_weights="exponential").kl_weights == [1.0, 4.0]
    assert _phiseg(kl_weights=[2, 0.5]).kl_weights == [2.0, 0.5]
    method = _phiseg(warmup_steps=4, deep_supervision=False)
    _, logs = method.loss({**_batch(), "step": torch.tensor(1)})
    assert logs["beta"] == pytest.approx(0.25)
    with pytest.raises(SeguqError, match="unknown phiseg option"):
        _phiseg(levels=2)
    with pytest.raises(SeguqError, match="latent_levels"):
        _phiseg(latent_levels=4)
    with pytest.raises(SeguqError, match="kl_weights"):
        _phiseg(kl_weights=[1.0])


@pytest.mark.parametrize(("raters", "options"), [(1, {}), (2, {"deep_supervision": False})])
def test_short_training_lowers_the_loss(raters, options, loss_curve, decreased):
    losses = loss_curve(_phiseg(**options), _batch(raters), steps=12, lr=1e-2)
    assert decreased(losses, window=3)


def test_saved_and_reloaded_phiseg_reproduces_samples(tmp_path):
    method = _perturb(_phiseg(latent_channels=1))
    method.config.data.in_channels, method.config.data.num_classes = 2, 3
    save_checkpoint(method, tmp_path / "phiseg.pt")
    loaded = load_method(tmp_path / "phiseg.pt")
    x = _batch()["image"][:1]
    torch.manual_seed(1)
    expected = method.sample(x, 3)
    torch.manual_seed(1)
    assert torch.equal(loaded.sample(x, 3), expected)
