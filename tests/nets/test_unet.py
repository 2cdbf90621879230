import pytest
import torch

from seguq.config import NetConfig
from seguq.errors import SeguqError
from seguq.nets import UNet, build_unet


def test_forward_shape_any_size():
    net = UNet(3, 4, [8, 16, 32]).eval()
    for h, w in [(32, 32), (37, 50), (5, 9)]:
        assert net(torch.randn(2, 3, h, w)).shape == (2, 4, h, w)


def test_encode_exposes_every_level():
    net = UNet(1, 2, [8, 16, 32, 64])
    features = net.encode(torch.randn(1, 1, 64, 64))
    assert [f.shape[1] for f in features] == [8, 16, 32, 64]
    assert [f.shape[-1] for f in features] == [64, 32, 16, 8]


def test_skip_extras_are_concatenated_at_each_level():
    net = UNet(1, 2, [8, 16, 32], skip_extra_channels=[1, 2])
    features = net.encode(torch.randn(2, 1, 32, 32))
    extras = [torch.randn(2, 1, 32, 32), torch.randn(2, 2, 16, 16)]
    out = net.decode(features, extras)
    assert out.shape == (2, 8, 32, 32)
    changed = net.decode(features, [extras[0] + 1, extras[1]])
    assert not torch.allclose(out, changed)


def test_dropout_placement_and_errors():
    net = build_unet(NetConfig(widths=[8, 16], dropout=0.3, dropout_placement="decoder"), 1, 2)
    assert any(isinstance(m, torch.nn.Dropout2d) for m in net.decoder.modules())
    assert not any(isinstance(m, torch.nn.Dropout2d) for m in net.encoder.modules())
    with pytest.raises(SeguqError, match="dropout_placement"):
        UNet(1, 2, [8, 16], dropout_placement="everywhere")
    with pytest.raises(SeguqError, match="norm"):
        UNet(1, 2, [8, 16], norm="layer")
