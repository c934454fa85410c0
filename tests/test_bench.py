"""Timing, FLOP counting, memory measurement and the results table (no timing assertions: speed is in benchmarks/)."""

import math

import numpy as np
import pytest

from depthkit import runtime
from depthkit.bench import (
    ResultsTable,
    Timing,
    count_flops,
    fp32_floor_seconds,
    matmul_gflops,
    peak_rss_of,
    photo_jpeg,
    python_peak_mb,
    time_call,
)
from depthkit.errors import InputError


def test_timing_statistics():
    t = Timing((0.4, 0.1, 0.3, 0.2), warmup=3)
    assert (t.median, t.min, t.max, t.n) == (0.25, 0.1, 0.4, 4)
    assert t.median_ms == pytest.approx(250.0)
    assert "median 250.0 ms" in str(t) and "after 3 warm-up" in str(t)
    with pytest.raises(InputError, match="at least one"):
        Timing(())


def test_time_call_runs_warmup_then_repeats():
    calls = []
    t = time_call(calls.append, "x", warmup=3, repeats=4)
    assert len(calls) == 7 and t.n == 4 and t.warmup == 3
    assert all(v >= 0 for v in t.times)
    with pytest.raises(InputError, match="repeats must be an integer >= 1"):
        time_call(calls.append, 1, repeats=0)
    with pytest.raises(InputError, match="needs a callable"):
        time_call(42)


def test_count_flops_conv_hand_computed():
    import torch

    conv = torch.nn.Conv2d(3, 8, kernel_size=3, padding=1, bias=False)
    # one multiply-add = 2 FLOPs: 2 * C_out * C_in * k * k * H_out * W_out
    assert count_flops(conv, torch.zeros(1, 3, 10, 12)) == 2 * 8 * 3 * 3 * 3 * 10 * 12
    depthwise = torch.nn.Conv2d(4, 4, kernel_size=3, padding=1, groups=4, bias=False)
    assert count_flops(depthwise, torch.zeros(1, 4, 8, 8)) == 2 * 4 * 1 * 9 * 64


def test_count_flops_midas_small_scales_with_pixels(random_model):
    import torch

    # every counted op is a convolution whose output has a fixed fraction of the input pixels, so the count at
    # 64 x 64 is exactly 1/16 of the 9.19 GFLOP at 256 x 256
    assert count_flops(random_model, torch.zeros(1, 3, 64, 64)) * 16 == 9_190_336_512


def test_matmul_gflops_and_floor():
    g = matmul_gflops(n=128, threads=1, repeats=2)
    assert math.isfinite(g) and g > 0
    assert fp32_floor_seconds(2e9, 100.0) == pytest.approx(0.02)
    with pytest.raises(InputError, match="gflops > 0"):
        fp32_floor_seconds(1e9, 0.0)
    with pytest.raises(InputError, match="n must be an integer"):
        matmul_gflops(n=0)


def test_peak_rss_of_sees_the_child_allocation():
    rc0, base, out0 = peak_rss_of("print('hi')")
    rc1, big, _ = peak_rss_of("import numpy as np; a = np.ones(50_000_000); print(a.sum())")  # 400 MB
    assert rc0 == 0 and rc1 == 0 and out0.strip() == "hi"
    assert big - base > 350  # MB
    rc2, _, _ = peak_rss_of("raise SystemExit(3)")
    assert rc2 == 3
    with pytest.raises(InputError, match="source text"):
        peak_rss_of(["print(1)"])


def test_python_peak_mb_counts_numpy():
    result, mb = python_peak_mb(np.ones, 1_000_000)  # 8 MB of float64
    assert result.shape == (1_000_000,)
    assert 7.9 < mb < 9.0


def test_results_table_markdown_and_errors():
    t = ResultsTable(["path", "ms", "r"], title="Backends", notes=["note one"])
    t.add(path="eager", ms=1234.5678, r=1.0)
    t.add(path="a|b", ms=0.0001234)
    md = t.to_markdown().splitlines()
    assert md[0] == "### Backends"
    assert md[2] == "| path | ms | r |"
    assert md[4] == "| eager | 1234.6 | 1 |"
    assert md[5] == "| a\\|b | 0.000123 |  |"
    assert md[-1] == "note one"
    assert t._repr_markdown_() == t.to_markdown()
    assert t.column("ms") == [1234.5678, 0.0001234]
    with pytest.raises(InputError, match="unknown column"):
        t.add(speed=3)
    with pytest.raises(InputError, match="non-empty list"):
        ResultsTable([])


def test_results_table_plot():
    t = ResultsTable(["path", "ms"])
    t.add(path="eager", ms=100.0)
    t.add(path="onnx", ms=40.0)
    fig = t.plot("ms", reference=30.0, reference_label="fp32 floor")
    ax = fig.axes[0]
    assert [round(p.get_width(), 6) for p in ax.patches] == [100.0, 40.0]
    assert [tick.get_text() for tick in ax.get_yticklabels()] == ["eager", "onnx"]
    assert ax.get_legend().get_texts()[0].get_text() == "fp32 floor"
    t.add(path="broken", ms="n/a")
    with pytest.raises(InputError, match="must hold a number"):
        t.plot("ms")


def test_time_call_budget_stops_early():
    import time

    t = time_call(time.sleep, 0.01, warmup=0, repeats=50, budget_s=0.02)
    assert t.n == 3  # the minimum number of repeats once the budget is spent
    assert time_call(time.sleep, 0.0, warmup=0, repeats=2, budget_s=0.0).n == 2


def test_photo_jpeg_is_a_resized_jpeg():
    import io

    from PIL import Image

    import depthkit as dk

    jpeg = photo_jpeg(dk.samples.load_sample("chelsea"), size=(96, 64))
    with Image.open(io.BytesIO(jpeg)) as im:
        assert (im.format, im.size, im.mode) == ("JPEG", (96, 64), "RGB")


def test_timer_is_the_runtime_one():
    """bench re-exports the bottom layer's timer: one implementation, two import paths for lessons."""
    assert time_call is runtime.time_call and Timing is runtime.Timing


# ------------------------------------------------------------------------------------------------- compare_models
#: The official checkpoints' parameter counts (the vendored manifests' totals) and the GFLOP at the native inputs.
MANIFEST_PARAMS = {"midas_small": 21_320_545, "dpt_hybrid": 123_146_985, "depth_anything_v2_small": 24_785_089}
NATIVE_GFLOP = {"midas_small": 9.19, "dpt_hybrid": 255.2, "depth_anything_v2_small": 115.3}


def _meta_models():
    """The three registry networks on the meta device (no weights in memory), with random-weights provenance."""
    import torch

    from depthkit.model_registry import get_spec
    from depthkit.weights import WeightsInfo

    models = {}
    for name in MANIFEST_PARAMS:
        with torch.device("meta"):
            models[name] = get_spec(name).build()
        models[name].weights_info = WeightsInfo("random", seed=0, model=name)
    return models


def test_compare_models_columns_params_flops_and_memory(monkeypatch):
    """Fast: meta networks, a runner that only allocates 200 MB, and a fixed timer; the counts are real."""
    import sys

    import depthkit.backend_choice
    import depthkit.backends
    from depthkit import bench
    from depthkit.model import MidasSmall

    built = []

    def fake_runner(model, backend, shape, threads=None):
        built.append((type(model).__name__, backend, shape, threads))
        return lambda x: np.ones(25_000_000)  # 200 MB, freed when the call returns

    monkeypatch.setattr(depthkit.backends, "get_runner", fake_runner)
    monkeypatch.setattr(depthkit.backend_choice, "resolve_backend",
                        lambda m, b: "onnx" if isinstance(m, MidasSmall) else "eager")
    monkeypatch.setattr(bench, "time_call", lambda fn, x, warmup, repeats: Timing((0.25, 0.5, 0.75), warmup=warmup))
    gt = np.full((4, 6), 2.0)
    table = bench.compare_models(_meta_models(), threads=1, image=np.zeros((4, 6, 3), np.uint8), gt_depth=gt)
    assert table.columns == ["model", "input", "params (M)", "weights MB", "GFLOP", "eager ms (1 thr)", "auto",
                             "auto ms (1 thr)", "forward RSS rise MB (1 thr)", "AbsRel", "δ>1.25 (%)"]
    assert table.column("model") == ["MiDaS v2.1 small", "MiDaS v3.0 DPT-Hybrid", "Depth Anything V2 Small"]
    assert table.column("input") == ["256x256", "384x384", "518x518"]
    assert [round(p * 1e6) for p in table.column("params (M)")] == list(MANIFEST_PARAMS.values())
    assert table.column("weights MB") == pytest.approx([4 * n / 1e6 for n in MANIFEST_PARAMS.values()])
    assert table.column("GFLOP") == pytest.approx(list(NATIVE_GFLOP.values()), rel=0.01)
    assert table.column("eager ms (1 thr)") == [500.0] * 3 and table.column("auto") == ["onnx", "eager", "eager"]
    assert table.column("auto ms (1 thr)") == [500.0] * 3
    # eager for each model, then onnx for MiDaS_small only (auto = eager is not timed twice)
    assert [(b, s) for _, b, s, _ in built] == [("eager", (1, 3, 256, 256)), ("onnx", (1, 3, 256, 256)),
                                               ("eager", (1, 3, 384, 384)), ("eager", (1, 3, 518, 518))]
    rise = table.column("forward RSS rise MB (1 thr)")
    if sys.platform.startswith("linux"):
        assert all(150 < mb < 400 for mb in rise), rise  # the runner's 200 MB array, seen by the high-water mark
    else:
        assert rise == ["n/a (Linux only)"] * 3
    assert table.column("AbsRel") == ["needs weights"] * 3 == table.column("δ>1.25 (%)")
    assert table.notes == [f"{t}: random weights (seed 0), no checkpoint installed: cost only, no accuracy."
                           for t in table.column("model")]


def test_compare_models_accuracy(tmp_path):
    """Real forwards of MiDaS_small: the accuracy columns equal metrics.evaluate of its eager map."""
    import depthkit as dk
    from depthkit.bench import compare_models
    from depthkit.weights import WeightsInfo

    model = dk.load_model("random")
    model.weights_info = WeightsInfo("file", path=str(tmp_path / "stand-in.pt"), sha256="ab" * 32)  # "trained"
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    gt = rng.uniform(1.0, 5.0, (48, 64))
    gt[0] = np.inf  # unknown pixels are ignored
    table = compare_models({"midas_small": model}, threads=[1], warmup=1, repeats=1, auto=False, memory="none",
                           image=image, gt_depth=gt)
    assert table.columns == ["model", "input", "params (M)", "weights MB", "GFLOP", "eager ms (1 thr)", "AbsRel",
                             "δ>1.25 (%)"]
    expected = dk.metrics.evaluate(dk.estimate_depth(image, model, backend="eager").inverse_depth, gt)
    row = table.rows[0]
    assert (row["AbsRel"], row["δ>1.25 (%)"]) == (expected["abs_rel"], expected["bad_1_25"])
    assert 0 < row["eager ms (1 thr)"] < 60_000
    assert table.notes == [f"MiDaS v2.1 small: {model.weights_info.label}."]


def test_compare_models_process_memory(random_model):
    from depthkit.bench import compare_models

    table = compare_models({"midas_small": random_model}, threads=1, warmup=1, repeats=1, auto=False,
                           memory="process")
    assert table.columns[-1] == "peak RSS MB, eager (1 thr)"
    assert table.rows[0]["peak RSS MB, eager (1 thr)"] > table.rows[0]["weights MB"]  # a process holding them


def test_compare_models_refuses_bad_arguments():
    import torch

    from depthkit.bench import compare_models
    from depthkit.model import MidasSmall

    with pytest.raises(InputError, match="memory must be 'forward', 'process' or 'none'"):
        compare_models(["midas_small"], memory="tracemalloc")
    with pytest.raises(InputError, match="image and gt_depth together"):
        compare_models(["midas_small"], image=np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(InputError, match="threads must be an integer"):
        compare_models(["midas_small"], threads=0)
    with torch.device("meta"):
        small = MidasSmall()
    with pytest.raises(InputError, match="the network given for 'dpt_hybrid' is a MidasSmall"):
        compare_models({"dpt_hybrid": small})
