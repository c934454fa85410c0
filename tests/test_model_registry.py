"""The model registry: one entry per network, each owning its builder, checkpoint, preprocessing and upsampling."""

from pathlib import Path

import numpy as np
import pytest
import torch

from depthkit import inference, model_registry, transforms
from depthkit.errors import InputError
from depthkit.model_registry import DEFAULT_MODEL, MODELS, get_spec, model_names, prepare, spec_for


def test_the_three_models_default_first():
    assert model_names() == ("midas_small", "dpt_hybrid", "depth_anything_v2_small")
    assert DEFAULT_MODEL == "midas_small" and get_spec() is MODELS["midas_small"]


def test_unknown_model_name_is_one_sentence():
    message = ("model must be 'midas_small', 'dpt_hybrid' or 'depth_anything_v2_small', got 'dpt_large'; "
               "see depthkit.model_registry.MODELS.")
    with pytest.raises(InputError) as err:
        get_spec("dpt_large")
    assert str(err.value) == message


@pytest.mark.parametrize("name,file,url_start,licence", [
    ("midas_small", "midas_v21_small_256.pt", "https://github.com/isl-org/MiDaS/releases/download/v2_1/", "MIT"),
    ("dpt_hybrid", "dpt_hybrid_384.pt", "https://github.com/isl-org/MiDaS/releases/download/v3/", "MIT"),
    ("depth_anything_v2_small", "depth_anything_v2_vits.pth",
     "https://huggingface.co/depth-anything/Depth-Anything-V2-Small/resolve/main/", "Apache-2.0"),
])
def test_checkpoint_url_cache_file_and_licence(name, file, url_start, licence):
    spec = get_spec(name)
    assert spec.name == name and spec.checkpoint_name == file and spec.url == url_start + file
    assert licence in spec.licence
    assert spec.cache_path() == Path(torch.hub.get_dir()) / "checkpoints" / file


@pytest.mark.parametrize("name,params", [
    ("midas_small", 21_320_545), ("dpt_hybrid", 123_146_985), ("depth_anything_v2_small", 24_785_089),
])
def test_builders_make_the_registered_networks(name, params):
    with torch.device("meta"):
        net = get_spec(name).build()
    assert sum(p.numel() for p in net.parameters()) == params
    assert spec_for(net) is get_spec(name)  # a built network finds its own entry (preprocessing, upsampling)


@pytest.mark.parametrize("hw,expected", [
    ((480, 640), {"midas_small": (192, 256), "dpt_hybrid": (384, 512), "depth_anything_v2_small": (518, 686)}),
    ((1080, 1920), {"midas_small": (128, 256), "dpt_hybrid": (384, 672), "depth_anything_v2_small": (518, 924)}),
    ((640, 480), {"midas_small": (256, 192), "dpt_hybrid": (512, 384), "depth_anything_v2_small": (686, 518)}),
    ((200, 300), {"midas_small": (160, 256), "dpt_hybrid": (256, 384), "depth_anything_v2_small": (518, 784)}),
    ((3024, 4032), {"midas_small": (192, 256), "dpt_hybrid": (384, 512), "depth_anything_v2_small": (518, 686)}),
])
def test_prepare_gives_each_model_its_own_input_size(hw, expected):
    photo = np.random.default_rng(0).integers(0, 256, size=(*hw, 3), dtype=np.uint8)
    for name, (h, w) in expected.items():
        x = prepare(photo, name)
        assert x.shape == (1, 3, h, w) and x.dtype == torch.float32, name
        assert h % get_spec(name).multiple == 0 and w % get_spec(name).multiple == 0


def test_midas_small_entry_is_todays_preprocessing_and_upsampling():
    photo = np.random.default_rng(1).integers(0, 256, size=(123, 301, 3), dtype=np.uint8)
    assert torch.equal(prepare(photo), transforms.prepare(photo))
    pred = torch.rand(1, 4, 8, generator=torch.Generator().manual_seed(0))
    assert torch.equal(get_spec().upsample(pred, (123, 301)), inference.upsample(pred, (123, 301)))


def test_native_sizes_are_fixed_points_of_the_resize():
    for spec in MODELS.values():
        assert spec.network_size(*spec.native_size) == spec.native_size, spec.name


def test_prepare_reads_paths_like_read_image(tmp_path):
    from depthkit import io

    photo = np.random.default_rng(2).integers(0, 256, size=(60, 80, 3), dtype=np.uint8)
    path = tmp_path / "photo.png"
    io.write_png(path, photo)
    assert torch.equal(model_registry.prepare(path, "dpt_hybrid"), prepare(photo, "dpt_hybrid"))


def test_other_networks_get_the_default_entry():
    assert spec_for(torch.nn.Conv2d(3, 1, 1)) is get_spec(DEFAULT_MODEL)


@pytest.mark.parametrize("name,good,bad,message", [
    ("midas_small", (64, 96), (70, 98), "MiDaS_small needs H and W to be multiples of 32, got 70x98; resize with "
                                        "depthkit.prepare(image) first."),
    ("dpt_hybrid", (64, 96), (70, 98), "DPT-Hybrid needs H and W to be multiples of 32, got 70x98; resize with "
                                       'depthkit.model_registry.prepare(image, "dpt_hybrid") first.'),
    ("depth_anything_v2_small", (70, 98), (64, 96), "Depth Anything V2 needs H and W to be multiples of 14, got "
     '64x96; resize with depthkit.model_registry.prepare(image, "depth_anything_v2_small") first.'),
])
def test_each_entry_checks_its_own_input_rule(name, good, bad, message):
    spec = get_spec(name)
    assert spec.check_input(torch.zeros(1, 3, *good)) is None
    with pytest.raises(InputError) as err:
        spec.check_input(torch.zeros(1, 3, *bad))
    assert str(err.value) == message
    with torch.device("meta"):
        net = spec.build()
    with pytest.raises(InputError) as err:  # the network's own forward says the same
        net(torch.zeros(1, 3, *bad, device="meta"))
    assert str(err.value) == message


def test_dk_prepare_is_the_registry_prepare_and_midas_small_is_transforms_prepare_bit_for_bit():
    import depthkit as dk

    assert dk.prepare is model_registry.prepare
    for hw in ((480, 640), (123, 301), (1080, 1920)):
        photo = np.random.default_rng(hw[0]).integers(0, 256, size=(*hw, 3), dtype=np.uint8)
        assert torch.equal(dk.prepare(photo), transforms.prepare(photo))
        assert torch.equal(dk.prepare(photo, "midas_small"), transforms.prepare(photo))


@pytest.mark.parametrize("size,hw", [(128, (96, 128)), (384, (288, 384)), (512, (384, 512)), (256, (192, 256))])
def test_size_is_midas_smalls_upper_bound_as_in_transforms_prepare(size, hw):
    import depthkit as dk

    photo = np.random.default_rng(size).integers(0, 256, size=(480, 640, 3), dtype=np.uint8)
    x = dk.prepare(photo, size=size)
    assert x.shape == (1, 3, *hw)
    assert torch.equal(x, transforms.prepare(photo, size))


@pytest.mark.parametrize("name,native,multiple", [("dpt_hybrid", 384, 32), ("depth_anything_v2_small", 518, 14)])
def test_size_with_a_transformer_model_is_one_sentence(name, native, multiple):
    import depthkit as dk

    photo = np.zeros((48, 64, 3), np.uint8)
    with pytest.raises(InputError) as err:
        dk.prepare(photo, name, size=native)
    assert str(err.value) == (
        f"size= sets MiDaS_small's input bound and does not apply to {name!r}, whose official rule fixes the input "
        f"at about {native} px in multiples of {multiple}; leave size out (for another size, build the tensor with "
        "depthkit.network_resize.resize_normalize).")
    assert dk.prepare(photo, name, size=None).shape == prepare(photo, name).shape  # None is "not given"


def test_prepare_checks_the_model_name_before_anything_else():
    with pytest.raises(InputError, match="model must be 'midas_small', 'dpt_hybrid' or"):
        prepare(np.zeros((48, 64, 3), np.uint8), "midas_large", size=256)
