import torch

from seguq.engine.sampling import sample_image


def _global_latent_sampler(x, n):
    # Each sample draws one image-level value: the prediction is constant over the window.
    z = torch.randn(n, 1, 2, 1, 1)
    return torch.softmax(z.expand(n, x.shape[0], 2, *x.shape[-2:]), dim=2)


def test_sliding_window_matches_direct_sampling_for_small_images():
    x = torch.randn(1, 1, 16, 16)
    torch.manual_seed(0)
    direct = _global_latent_sampler(x, 3)
    torch.manual_seed(0)
    assert torch.allclose(sample_image(_global_latent_sampler, x, 3, [16, 16]), direct)


def test_shared_noise_keeps_an_image_level_latent_consistent_across_windows():
    x = torch.randn(1, 1, 48, 40)
    torch.manual_seed(0)
    shared = sample_image(_global_latent_sampler, x, 4, [16, 16], shared_noise=True)
    assert shared.shape == (4, 1, 2, 48, 40)
    spread = shared.flatten(3).std(-1).max()
    assert spread < 1e-5  # one draw per sample over the whole image
    assert not torch.allclose(shared[0], shared[1])
    torch.manual_seed(0)
    independent = sample_image(_global_latent_sampler, x, 4, [16, 16])
    assert independent.flatten(3).std(-1).max() > 1e-3  # windows drew different values
