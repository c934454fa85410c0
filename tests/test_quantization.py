"""int8 quantisation: calibrated on the bundled photos, cached per weights, and accurate on trained weights."""

import numpy as np
import pytest
import torch

import depthkit as dk
from depthkit import artifact_cache as A
from depthkit import backends as B
from depthkit import quantization as Q


@pytest.fixture(scope="module")
def trained(trained_torch_home):
    """The test suite's trained checkpoint, loaded the way users load it (through the installed cache file)."""
    return dk.load_model(trained_torch_home.installed)


def test_calibration_inputs_are_the_samples_as_the_network_sees_them():
    inputs = Q.calibration_inputs()
    assert len(inputs) == len(dk.list_samples()) == 6
    for x, name in zip(inputs, dk.list_samples(), strict=True):
        expected = dk.prepare(dk.load_sample(name)).numpy()  # the official transform, at the photo's own size
        assert x.dtype == np.float32 and x.shape == expected.shape
        np.testing.assert_array_equal(x, expected)
    assert {x.shape for x in inputs} == {(1, 3, 256, 256), (1, 3, 160, 256), (1, 3, 256, 224)}


def _worst_agreement(model, backend):
    worst = 1.0, 0.0
    for x in Q.calibration_inputs():
        t = torch.from_numpy(x)
        a = B.agreement(B.run_backend(model, t, backend).numpy(), B.run_backend(model, t, "eager").numpy())
        worst = min(worst[0], a.pearson_r), max(worst[1], a.max_rel_err)
    return worst


@pytest.mark.parametrize("backend", ["int8", "bf16"])
def test_reduced_precision_passes_the_gate_on_trained_weights(trained, backend):
    """The issue's gate: r >= 0.99 with fp32 on the same inputs and weights (the trained checkpoint fixture)."""
    r, err = _worst_agreement(trained, backend)
    assert r >= dk.backend_choice.AGREEMENT_GATE, (backend, r, err)
    assert err < 0.2, (backend, r, err)


def test_int8_model_is_cached_per_weights(trained, capsys):
    path = Q.int8_model(trained, lambda: pytest.fail("the ONNX graph must not be needed again"))
    assert path.name == Q.INT8_FILE and path.with_suffix(".bin").stat().st_size > 1_000_000
    assert str(path).startswith(A.cache_root().as_posix()) and A.weights_digest(trained)[:16] in str(path)
    assert capsys.readouterr().out == ""  # built by the gate test already: no second "Quantising" message
    int8_bin = path.with_suffix(".bin").stat().st_size
    fp32_bytes = sum(p.numel() * 4 for p in trained.parameters())
    assert int8_bin < 0.45 * fp32_bytes  # int8 weights: about a quarter of the fp32 bytes, plus scales


def test_other_weights_are_quantised_anew(trained, monkeypatch, capsys):
    made = []

    def fake_quantize(onnx_path, out_xml, inputs):  # records the call instead of spending 10 s quantising
        made.append((onnx_path, [x.shape for x in inputs]))
        out_xml.write_text("<net/>")

    monkeypatch.setattr(Q, "quantize_onnx_int8", fake_quantize)
    fitted = dk.load_model(trained.weights_info.path)
    with torch.no_grad():
        fitted.scratch.output_conv[4].bias.add_(0.5)  # a fine-tuning step, in effect
    other = Q.int8_model(fitted, lambda: "graph.onnx")
    assert other.read_text() == "<net/>" and A.weights_digest(fitted)[:16] in str(other)
    assert made == [("graph.onnx", [x.shape for x in Q.calibration_inputs()])]
    assert "Quantising MiDaS_small to int8" in capsys.readouterr().out
    assert Q.int8_model(fitted, lambda: "graph.onnx") == other and len(made) == 1  # built once
