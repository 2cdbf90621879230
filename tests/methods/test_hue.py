import pytest
import torch

from seguq.config import RunConfig
from seguq.engine.checkpoint import load_method, save_checkpoint
from seguq.errors import SeguqError
from seguq.methods import build_method
from seguq.nets.gaussian import gaussian_kl


def _hue(**options):
    config = RunConfig()
    config.net.widths = [8, 16, 32, 64]
    config.method.name = "hue"
    config.method.options = options
    torch.manual_seed(0)
    return build_method(config, 2, 3)


def _batch():
    g = torch.Generator().manual_seed(0)
    image = torch.randn(4, 2, 32, 32, generator=g)
    label = (image[:, 0] > 0.3).long() + (image[:, 1] > 1.0).long()
    return {"image": image, "label": label}


def test_kl_is_nonnegative_and_zero_when_posterior_equals_prior():
    g = torch.Generator().manual_seed(0)
    mu_q, ls_q, mu_p, ls_p = (torch.randn(2, 1, 8, 8, generator=g) for _ in range(4))
    kl = gaussian_kl(mu_q, ls_q, mu_p, ls_p)
    assert torch.isfinite(kl).all() and (kl >= -1e-6).all()
    assert torch.allclose(gaussian_kl(mu_p, ls_p, mu_p, ls_p), torch.zeros(()), atol=1e-6)
    # Heads start at the standard normal, so the method's KL starts at zero.
    method = _hue()
    _, logs = method.loss(_batch())
    assert abs(logs["kl"]) < 1e-6 and {"kl_level0", "kl_level1", "kl_level2"} <= set(logs)


def _perturb(method):
    # Make the prior non-trivial so that samples differ.
    with torch.no_grad():
        for head in method.prior_heads.values():
            head.conv.weight.normal_(0, 0.5)
    return method.eval()


def test_samples_differ_and_repeat_under_a_seed():
    method = _perturb(_hue())
    x = _batch()["image"][:2]
    torch.manual_seed(3)
    first = method.sample(x, 5)
    torch.manual_seed(3)
    again = method.sample(x, 5)
    assert first.shape == (5, 2, 3, 32, 32)
    assert torch.equal(first, again)
    assert not torch.allclose(first[0], first[1])


def test_encoder_runs_once_for_all_samples():
    method = _perturb(_hue(sample_chunk=3))
    calls = []
    original = method.net.encode
    method.net.encode = lambda x: calls.append(x.shape) or original(x)
    method.sample(_batch()["image"][:1], 16)
    assert calls == [torch.Size([1, 5, 32, 32])]


def test_chunked_and_unchunked_sampling_agree():
    method = _perturb(_hue(sample_chunk=16))
    x = _batch()["image"][:2]
    torch.manual_seed(7)
    whole = method.sample(x, 10)
    method.sample_chunk = 3
    torch.manual_seed(7)
    chunked = method.sample(x, 10)
    assert torch.allclose(whole, chunked, atol=1e-5)


def test_per_level_sampling_and_level_choices():
    method = _perturb(_hue())
    assert method.level_names == ["level0", "level1", "level2"]
    x = _batch()["image"][:1]
    for level in method.level_names:
        probs = method.sample_level(x, 4, level)
        assert probs.shape == (4, 1, 3, 32, 32)
    with pytest.raises(SeguqError, match="unknown level"):
        method.sample_level(x, 4, "level7")
    assert _hue(levels="coarse").level_names == ["level2"]
    assert _hue(levels="fine").level_names == ["level0"]
    assert _hue(levels=[0, 2], latent_channels=4).latent_channels == [4, 0, 4]
    with pytest.raises(SeguqError, match="unknown HUE option"):
        _hue(betta=1)


def test_deterministic_prediction_uses_prior_means():
    method = _perturb(_hue())
    x = _batch()["image"][:1]
    assert torch.equal(method.logits(x), method.logits(x))
    assert method.logits(x).shape == (1, 3, 32, 32)


@pytest.mark.parametrize(
    "options",
    [{}, {"posterior": "separate"}, {"posterior_input": "label"}, {"prior_fraction": 0.0}],
)
def test_short_training_lowers_the_loss(options, loss_curve, decreased):
    losses = loss_curve(_hue(**options), _batch(), steps=25, lr=5e-3)
    assert decreased(losses, window=5)


def test_saved_and_reloaded_hue_reproduces_predictions(tmp_path):
    method = _perturb(_hue())
    method.config.data.in_channels, method.config.data.num_classes = 2, 3
    save_checkpoint(method, tmp_path / "hue.pt")
    loaded = load_method(tmp_path / "hue.pt")
    x = _batch()["image"][:1]
    torch.manual_seed(1)
    expected = method.sample(x, 4)
    torch.manual_seed(1)
    assert torch.equal(loaded.sample(x, 4), expected)


def test_shared_decoding_equals_decoding_repeated_features():
    method = _perturb(_hue())
    x = torch.nn.functional.pad(_batch()["image"][:2], (0, 0, 0, 0))
    zeros = torch.zeros(2, 3, 32, 32)
    features = method.net.encode(torch.cat([x, zeros], 1))
    s = 3
    latents = [torch.randn(s * 2, 1, 32 >> i, 32 >> i) for i in range(3)]
    fast = method.net.decode_samples(features, latents, s)
    repeated = [f.repeat(s, 1, 1, 1) for f in features]
    naive = method.net.decode(repeated, latents)
    assert torch.allclose(fast, naive, atol=1e-5)
    coarse = _perturb(_hue(levels="coarse"))
    features = coarse.net.encode(torch.cat([x, zeros], 1))
    repeated = [f.repeat(s, 1, 1, 1) for f in features]
    coarse_only = [None, None, latents[2]]
    assert torch.allclose(
        coarse.net.decode_samples(features, coarse_only, s),
        coarse.net.decode(repeated, coarse_only),
        atol=1e-5,
    )


def test_prior_fraction_one_decodes_prior_samples_only():
    """With every image decoded from the prior, the segmentation loss sends no gradient to the
    posterior heads (only the KL does): with beta 0 their gradients are zero."""
    method = _hue(prior_fraction=1.0, beta=0.0, warmup_steps=0)
    loss, _ = method.loss(_batch())
    loss.backward()
    posterior = [p for n, p in method.named_parameters() if "posterior" in n]
    prior = [p for n, p in method.named_parameters() if "prior" in n]
    assert posterior and prior
    assert all(p.grad is None or torch.count_nonzero(p.grad) == 0 for p in posterior)
    assert any(p.grad is not None and torch.count_nonzero(p.grad) > 0 for p in prior)
    with pytest.raises(SeguqError, match="prior_fraction"):
        _hue(prior_fraction=1.5)


def test_free_bits_make_a_small_kl_cost_nothing():
    """Below the floor the KL adds free_bits per level to the loss and sends no gradient."""
    method = _hue(free_bits=5.0, beta=1.0, warmup_steps=0, prior_fraction=0.0)
    loss, logs = method.loss(_batch())
    levels = [logs[f"kl_level{i}"] for i in range(3)]
    assert all(0 <= kl < 5.0 for kl in levels)
    assert loss.item() == pytest.approx(logs["seg"] + 3 * 5.0, rel=1e-5)
    loss.backward()
    prior = [p for n, p in method.named_parameters() if "prior_heads" in n]
    assert prior and all(p.grad is None or torch.count_nonzero(p.grad) == 0 for p in prior)
    with pytest.raises(SeguqError, match="free_bits"):
        _hue(free_bits=-1)


def test_kl_average_image_makes_a_nat_cost_the_same_at_every_level():
    """Under "image" each level's per-position KL is weighted by its positions over the image's
    pixels (1, 1/4, 1/16 for a 32 px input and 3 skips); "level" weights every level by 1."""
    losses = {}
    for average in ("level", "image"):
        method = _hue(kl_average=average, beta=1.0, warmup_steps=0, prior_fraction=0.0)
        _perturb(method)
        torch.manual_seed(1)
        loss, logs = method.loss(_batch())
        kls = [logs[f"kl_level{i}"] for i in range(3)]
        assert min(kls) > 0
        weights = [1.0, 1.0, 1.0] if average == "level" else [1.0, 1 / 4, 1 / 16]
        expected = logs["seg"] + sum(w * kl for w, kl in zip(weights, kls, strict=True))
        assert loss.item() == pytest.approx(expected, rel=1e-5)
        losses[average] = (logs["seg"], kls)
    assert losses["level"] == pytest.approx(losses["image"], rel=1e-6)  # same forward pass
    with pytest.raises(SeguqError, match="kl_average"):
        _hue(kl_average="pixel")
