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
