import numpy as np
import pytest
import torch

import depthkit as dk
from depthkit.backends import eager_forward
from depthkit.errors import ImageError, InputError
from depthkit.inference import estimate_depth, predict, upsample
from depthkit.runtime import num_threads
from depthkit.transforms import prepare


@pytest.fixture(scope="module")
def photo():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)


def test_result_shape_dtype_and_provenance(random_model, photo):
    r = estimate_depth(photo, random_model)
    assert r.inverse_depth.shape == (120, 160) and r.inverse_depth.dtype == np.float32
    assert r.image.shape == (120, 160, 3) and np.array_equal(r.image, photo)
    assert r.net_size == (256, 192)
    assert r.weights_info.kind == "random" and r.pretrained is False
    assert r.seconds > 0
    assert "UNTRAINED" in repr(r)


def test_matches_official_pipeline_step_by_step(random_model, photo):
    """prepare -> forward -> bicubic (align_corners=False) upsample to the photo's size, as run.py does."""
    x = prepare(photo)

    def official(raw):
        return torch.nn.functional.interpolate(raw.unsqueeze(1), size=(120, 160), mode="bicubic",
                                               align_corners=False).squeeze().numpy()

    # the eager backend runs the same fp32 forward as eager_forward in channels_last: the steps must match tightly
    ref_cl = official(eager_forward(random_model, x, memory_format="channels_last"))
    got = estimate_depth(photo, random_model, backend="eager").inverse_depth
    np.testing.assert_allclose(got, ref_cl, rtol=1e-5, atol=1e-6)
    # and agree with the plain NCHW forward of run.py up to the rounding of a different convolution order
    ref = official(eager_forward(random_model, x, memory_format="contiguous"))
    np.testing.assert_allclose(got, ref, rtol=1e-3, atol=1e-4)
    # the default ("auto") runs the same steps on the backend it chose: the same map up to that backend's agreement
    chosen = estimate_depth(photo, random_model)
    assert chosen.backend == dk.backend_choice.resolve_backend(random_model)
    assert dk.backends.agreement(chosen.inverse_depth, ref).pearson_r >= dk.backend_choice.AGREEMENT_GATE


def test_batch_equals_singles_and_keeps_order(random_model, photo):
    other = np.ascontiguousarray(photo[:, ::-1])
    tall = np.ascontiguousarray(photo.transpose(1, 0, 2))  # a different network size in the same list
    results = estimate_depth([photo, tall, other], random_model)
    assert [r.inverse_depth.shape for r in results] == [(120, 160), (160, 120), (120, 160)]
    for img, r in zip([photo, tall, other], results, strict=True):
        single = estimate_depth(img, random_model).inverse_depth
        np.testing.assert_allclose(r.inverse_depth, single, rtol=1e-4, atol=1e-5)


def test_accepts_path_and_bytes(random_model, tmp_path, photo):
    from PIL import Image

    path = tmp_path / "p.png"
    Image.fromarray(photo).save(path)
    a = estimate_depth(str(path), random_model).inverse_depth
    b = estimate_depth(path.read_bytes(), random_model).inverse_depth
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a, estimate_depth(photo, random_model).inverse_depth, rtol=1e-5, atol=1e-6)


def test_threads_option_restores_setting(random_model, photo):
    before = torch.get_num_threads()
    estimate_depth(photo, random_model, threads=1)
    assert torch.get_num_threads() == before
    with pytest.raises(InputError, match="threads"), num_threads(0):
        pass


def test_bad_inputs(random_model, tmp_path):
    junk = tmp_path / "junk.jpg"
    junk.write_text("this is not an image")
    with pytest.raises(ImageError):
        estimate_depth(str(junk), random_model)
    with pytest.raises(InputError, match="empty list"):
        estimate_depth([], random_model)
    with pytest.raises(InputError, match="load_model"):
        estimate_depth(np.zeros((32, 32, 3), np.uint8), model="midas")


def test_predict_and_upsample_shapes(random_model):
    out = predict(random_model, torch.randn(2, 3, 64, 96))
    assert out.shape == (2, 64, 96)
    assert upsample(out, (100, 150)).shape == (2, 100, 150)


def test_top_level_names():
    assert dk.estimate_depth is estimate_depth
    assert dk.prepare is dk.model_registry.prepare  # per model; MiDaS_small's is transforms.prepare


def test_caption_flags_untrained_weights(random_model, photo):
    from dataclasses import replace

    from depthkit.weights import WeightsInfo

    r = estimate_depth(photo, random_model)
    assert r.caption.startswith("UNTRAINED")
    trained = replace(r, weights_info=WeightsInfo("file", path="x.pt", sha256="0" * 64))
    assert trained.pretrained and "UNTRAINED" not in trained.caption


@pytest.fixture(scope="module")
def dav2_model():
    """Depth Anything V2 Small with seeded random weights: its own preprocessing (518, multiples of 14) and
    bilinear upsampling must be the ones estimate_depth applies."""
    return dk.load_model("random", model="depth_anything_v2_small", seed=0)


def test_estimate_depth_applies_the_loaded_models_own_preprocessing_and_upsampling(dav2_model):
    from depthkit import depth_anything
    from depthkit.model_registry import prepare as prepare_for

    photo = np.random.default_rng(3).integers(0, 256, (36, 40, 3), dtype=np.uint8)
    x = prepare_for(photo, "depth_anything_v2_small")
    assert x.shape == (1, 3, 518, 574)  # "lower_bound" 518, then up to multiples of 14 (MiDaS_small: 224 x 256)
    with torch.inference_mode():
        raw = dav2_model(x)
    want = depth_anything.upsample(raw, (36, 40))[0].numpy()
    r = estimate_depth(photo, dav2_model, backend="eager")
    assert r.net_size == (574, 518) and r.inverse_depth.shape == (36, 40)
    assert r.weights_info.model == "depth_anything_v2_small" and "Depth Anything V2 Small" in repr(r)
    assert want.std() > 0
    np.testing.assert_allclose(r.inverse_depth, want, rtol=1e-4, atol=1e-5 * float(np.abs(want).max()))
    # MiDaS's bicubic rule would differ: the upsampling really is the model's own (bilinear, aligned corners)
    assert np.abs(upsample(raw, (36, 40))[0].numpy() - want).max() > 1e-3 * float(np.abs(want).max())


def test_upsample_is_the_midas_small_entrys():
    from depthkit.model_registry import get_spec

    pred = torch.rand(2, 6, 8, generator=torch.Generator().manual_seed(2))
    want = torch.nn.functional.interpolate(pred.unsqueeze(1), size=(15, 20), mode="bicubic",
                                           align_corners=False).squeeze(1)
    assert torch.equal(upsample(pred, (15, 20)), want)
    assert torch.equal(get_spec("midas_small").upsample(pred, (15, 20)), want)
