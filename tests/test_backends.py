"""Backends compute the same function as eager fp32; errors name the fix; caches follow weight changes."""

import importlib.util
import os

import numpy as np
import pytest
import torch

import depthkit as dk
from depthkit import backends as B
from depthkit.bench import compare_backends
from depthkit.errors import DepthkitError, InputError


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread: on a shared 2-core machine this is faster and steadier for these small inputs."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class TinyDepthNet(torch.nn.Module):
    """A stand-in with MiDaS's interface ((N, 3, h, w) -> (N, h, w)) that exports in well under a second."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 1, kernel_size=3, padding=1)

    def forward(self, x):
        return self.conv(x).squeeze(1)


@pytest.fixture(scope="module")
def x():
    return torch.randn(1, 3, 64, 96, generator=torch.Generator().manual_seed(1))


@pytest.fixture(scope="module")
def reference(random_model, x):
    """The plain NCHW fp32 forward, the way the official run.py computes it."""
    return B.eager_forward(random_model, x, memory_format="contiguous").numpy()


def test_check_backend_names_and_missing_packages(monkeypatch):
    assert B.check_backend("eager") == "eager"
    with pytest.raises(InputError, match="backend 'channels_last' is now called 'eager'"):
        B.check_backend("channels_last")
    with pytest.raises(InputError, match="unknown backend 'cuda'; use one of: eager"):
        B.check_backend("cuda")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real(name, *a))
    with pytest.raises(DepthkitError, match=r"needs onnxruntime, which is not installed; run `pip install "
                                            r"\"depthkit\[fast\]\"  \(or: pip install onnx onnxruntime\)`"):
        B.check_backend("onnx")
    assert "onnx" not in B.available_backends()
    assert B.available_backends()[:2] == ["eager", "openvino"]
    assert B.check_backend("auto") == "auto"  # valid; what it means depends on the model (backend_choice)
    with pytest.raises(InputError, match="needs a concrete backend; resolve 'auto' first"):
        B.get_runner(dk.load_model("random"), "auto")


def test_static_same_padding_same_weights_same_output(random_model, x):
    fixed = B.static_same_padding(random_model)
    a, b = random_model.state_dict(), fixed.state_dict()
    assert list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)
    pads = {n: m.fixed_pad for n, m in fixed.named_modules() if hasattr(m, "fixed_pad")}
    assert pads == {"pretrained.layer1.0": (0, 1, 0, 1), "pretrained.layer1.4.0.conv_dw": (0, 1, 0, 1),
                    "pretrained.layer2.0.0.conv_dw": (1, 2, 1, 2), "pretrained.layer3.0.0.conv_dw": (0, 1, 0, 1),
                    "pretrained.layer4.0.0.conv_dw": (1, 2, 1, 2)}
    with torch.inference_mode():
        torch.testing.assert_close(fixed(x), random_model(x), rtol=0, atol=0)
    assert type(random_model.pretrained.layer1[0]).__name__ == "Conv2dSame"  # the original is untouched


@pytest.mark.parametrize("backend", ["eager", "bf16", "onnx", "openvino"])
def test_backend_agrees_with_eager(random_model, x, reference, backend):
    out = B.run_backend(random_model, x, backend)
    assert out.shape == (1, 64, 96) and out.dtype == torch.float32
    agree = B.agreement(out.numpy(), reference)
    if backend == "bf16" and B.has_bf16_hardware():  # 8-bit significand: close in shape, not exact
        assert agree.pearson_r > 0.95
    elif backend == "bf16":  # no bf16 hardware: OpenVINO computes in fp32
        assert agree.pearson_r > 0.99999
    else:
        assert agree.pearson_r > 0.99999 and agree.max_rel_err < 1e-4


def test_onnx_sizes_are_dynamic_and_export_is_reused(random_model):
    B.run_backend(random_model, torch.zeros(1, 3, 64, 64), "onnx")
    path = B._CACHE[random_model]["shared"]["onnx_path"]
    assert path.startswith(os.environ["DEPTHKIT_CACHE_DIR"])  # the session's cache, never the user's
    y = torch.rand(2, 3, 32, 128)
    out = B.run_backend(random_model, y, "onnx")
    assert B._CACHE[random_model]["shared"]["onnx_path"] == path
    B.clear_cache()  # a new session: the export is read back from the disk cache, not made again
    B.run_backend(random_model, y, "onnx")
    assert B._CACHE[random_model]["shared"]["onnx_path"] == path
    with torch.inference_mode():
        torch.testing.assert_close(out, random_model(y), rtol=1e-4, atol=1e-5)


def test_cache_follows_weight_changes(x):
    model = TinyDepthNet().eval()
    before = B.run_backend(model, x, "onnx").clone()
    with torch.no_grad():
        model.conv.bias.add_(1.0)  # the exported copy is now stale and must be rebuilt
    after = B.run_backend(model, x, "onnx")
    with torch.inference_mode():
        torch.testing.assert_close(after, model(x), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(after, before + 1.0, rtol=1e-4, atol=1e-5)


def test_predict_and_estimate_depth_backend_option(random_model):
    img = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    ref = dk.estimate_depth(img, random_model, backend="eager")
    onnx = dk.estimate_depth(img, random_model, backend="onnx")
    np.testing.assert_allclose(onnx.inverse_depth, ref.inverse_depth, rtol=1e-4, atol=1e-5)
    with pytest.raises(InputError, match="unknown backend 'fast'"):
        dk.estimate_depth(img, random_model, backend="fast")
    from depthkit.inference import predict

    t = dk.prepare(img)
    torch.testing.assert_close(predict(random_model, t, backend="eager"), B.eager_forward(random_model, t),
                               rtol=0, atol=0)
    chosen = dk.backend_choice.resolve_backend(random_model)  # the default, "auto"
    torch.testing.assert_close(predict(random_model, t), B.run_backend(random_model, t, chosen), rtol=0, atol=0)
    with pytest.raises(TypeError, match="channels_last"):  # one switch only: backend=
        predict(random_model, t, channels_last=False)


def test_align_and_agreement_hand_computed():
    from depthkit.alignment import fit_scale_shift

    a, b = fit_scale_shift(np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 7.0]))  # the fit agreement uses
    # least squares: a = cov / var = (1.0 * 2 + 0 + 1.0 * ... ) -> slope 2.5, intercept -0.6667
    assert a == pytest.approx(2.5) and b == pytest.approx(-2 / 3)
    aligned = a * np.array([1.0, 2.0, 3.0]) + b
    np.testing.assert_allclose(aligned, [1.8333333, 4.3333333, 6.8333333], rtol=1e-6)
    agree = B.agreement(np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 7.0]))
    assert agree.max_rel_err == pytest.approx(0.3333333 / 5.0, rel=1e-5)  # |4.333 - 4| / (7 - 2)
    assert agree.pearson_r == pytest.approx(np.corrcoef([1, 2, 3], [2, 4, 7])[0, 1])
    assert B.agreement(np.ones(4), np.array([0.0, 1.0, 2.0, 3.0])).pearson_r == 0.0
    with pytest.raises(InputError, match="constant"):
        B.agreement(np.arange(3.0), np.ones(3))
    with pytest.raises(InputError, match="same shape"):
        B.agreement(np.zeros(3), np.zeros(4))
    with pytest.raises(InputError, match="finite"):
        B.agreement(np.array([1.0, np.nan]), np.array([1.0, 2.0]))


def test_compare_backends_table(random_model):
    x = torch.rand(1, 3, 64, 64)
    table = compare_backends(random_model, x, ["eager", "onnx"], threads=1, warmup=0, repeats=2)
    assert table.columns == ["backend", "median ms", "min ms", "speed-up vs eager", "pearson r", "max rel err"]
    assert table.column("backend") == ["eager", "onnx"]
    eager = table.rows[0]
    assert eager["pearson r"] == 1.0 and eager["max rel err"] == 0.0
    assert eager["speed-up vs eager"] == pytest.approx(1.0)
    assert table.rows[1]["pearson r"] > 0.99999
    with pytest.raises(InputError, match="unknown backend"):
        compare_backends(random_model, x, ["nope"])


def test_memory_format_follows_the_backend(random_model, x):
    big = random_model.scratch.layer4_rn.weight  # (512, 384, 3, 3): the probe the runners check
    B.run_backend(random_model, x, "eager")
    assert big.is_contiguous(memory_format=torch.channels_last) and not big.is_contiguous()
    B.eager_forward(random_model, x, memory_format="contiguous")
    assert big.is_contiguous()
    with pytest.raises(InputError, match="memory_format must be 'channels_last' or 'contiguous', got 'nhwc'"):
        B.eager_forward(random_model, x, memory_format="nhwc")
    assert all(p.is_contiguous() for p in random_model.parameters())


@pytest.mark.parametrize("name", ["dpt_hybrid", "depth_anything_v2_small"])
def test_exported_backends_refuse_the_transformer_models(name):
    from depthkit.model_registry import get_spec

    spec = get_spec(name)
    with torch.device("meta"):  # shapes only: no memory, built in about a second
        net = spec.build()
    for backend in B.ACCELERATED:
        with pytest.raises(InputError, match=f"the '{backend}' backend is not available for {spec.title}: .*use "
                                             "backend='eager'"):
            B.get_runner(net, backend)
    assert dk.backend_choice.resolve_backend(net) == "eager"  # "auto" does not try them
