import json

import pytest
import torch
from conftest import MANIFEST

import depthkit as dk
from depthkit.errors import InputError
from depthkit.model import MidasSmall, check_input


def test_state_dict_matches_official_manifest(random_model):
    assert MANIFEST.is_file(), f"reference manifest missing at {MANIFEST}"
    ref = json.loads(MANIFEST.read_text())
    mine = [[k, list(v.shape), str(v.dtype).removeprefix("torch.")] for k, v in random_model.state_dict().items()]
    assert len(ref) == 482
    assert mine == ref  # same keys, same order, same shapes and dtypes


def test_parameter_and_buffer_counts(random_model):
    assert sum(p.numel() for p in random_model.parameters()) == 21_320_545
    assert sum(b.numel() for b in random_model.buffers()) == 74_184


def test_official_layout_loads_strictly():
    a, b = MidasSmall(), MidasSmall()
    result = b.load_state_dict(a.state_dict(), strict=True)
    assert not result.missing_keys and not result.unexpected_keys


@pytest.mark.parametrize("h,w", [(256, 256), (192, 256), (64, 96)])
def test_output_shape_and_non_negative(random_model, h, w):
    with torch.inference_mode():
        y = random_model(torch.randn(2, 3, h, w))
    assert y.shape == (2, h, w)
    assert y.dtype == torch.float32
    assert (y >= 0).all()


def test_encoder_feature_shapes(random_model):
    with torch.inference_mode():
        feats = random_model.encode(torch.randn(1, 3, 256, 192))
    assert [tuple(f.shape[1:]) for f in feats] == [(32, 64, 48), (48, 32, 24), (136, 16, 12), (384, 8, 6)]


def test_channels_last_matches_contiguous(random_model):
    x = torch.randn(1, 3, 128, 160)
    net = MidasSmall().eval()
    net.load_state_dict(random_model.state_dict())
    with torch.inference_mode():
        y1 = net(x)
        y2 = net.to(memory_format=torch.channels_last)(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(y1, y2, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape,match", [
    ((1, 3, 250, 256), "multiples of 32"),
    ((1, 3, 16, 256), "multiples of 32"),
    ((3, 256, 256), r"\(N, 3, H, W\)"),
    ((1, 4, 256, 256), r"\(N, 3, H, W\)"),
])
def test_bad_input_shapes_raise_clear_error(random_model, shape, match):
    with pytest.raises(InputError, match=match):
        random_model(torch.zeros(shape))


def test_integer_tensor_rejected():
    with pytest.raises(InputError, match="float tensor"):
        check_input(torch.zeros(1, 3, 64, 64, dtype=torch.uint8))


def test_not_a_tensor_rejected():
    import numpy as np

    with pytest.raises(InputError, match=r"torch\.Tensor"):
        check_input(np.zeros((1, 3, 64, 64), np.float32))


def test_errors_are_depthkit_errors():
    assert issubclass(InputError, dk.DepthkitError) and issubclass(InputError, ValueError)


def test_layer_shapes_follow_the_data(random_model):
    from depthkit.model import layer_shapes

    shapes = dict(layer_shapes(random_model, 256, 192))
    assert shapes["pretrained.layer1"] == (1, 32, 64, 48)
    assert shapes["pretrained.layer4"] == (1, 384, 8, 6)
    assert shapes["scratch.layer4_rn"] == (1, 512, 8, 6)
    assert shapes["scratch.refinenet4"] == (1, 256, 16, 12)
    assert shapes["scratch.refinenet1"] == (1, 64, 128, 96)
    assert shapes["scratch.output_conv"] == (1, 1, 256, 192)
    assert not random_model._forward_hooks and not random_model.pretrained.layer1._forward_hooks


def test_fusion_block_resizes_to_a_given_size():
    from depthkit.model import FeatureFusionBlock

    block = FeatureFusionBlock(8, expand=False).eval()
    x = torch.randn(1, 8, 5, 7)
    with torch.inference_mode():
        doubled = block(x)
        same = block(x, size=(10, 14))
        odd = block(x, skip=torch.randn(1, 8, 5, 7), size=(9, 13))
    assert doubled.shape == (1, 8, 10, 14) and odd.shape == (1, 8, 9, 13)
    torch.testing.assert_close(same, doubled, rtol=0, atol=0)  # size=2x equals the default doubling
