"""The bottom layer: thread scoping, CPU feature detection (never assumed), the timer."""

import dataclasses

import pytest
import torch

from depthkit import runtime
from depthkit.errors import InputError
from depthkit.runtime import CpuFeatures, cpu_features, num_threads, parse_cpuinfo, time_call

SAPPHIRE_RAPIDS = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu vme sse sse2 avx avx2 avx512f avx512dq avx512_vnni avx512_bf16 amx_bf16 amx_tile amx_int8

processor\t: 1
model name\t: second entry is ignored
flags\t\t: fpu
"""
HASWELL = "model name\t: Intel(R) Core(TM) i7-4770\nflags\t\t: fpu sse2 avx avx2 fma\n"
ARM = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes\nCPU implementer\t: 0x41\n"


def test_num_threads_scopes_and_restores():
    before = torch.get_num_threads()
    with num_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with num_threads(None):
        assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError, match="boom"), num_threads(1):
        raise RuntimeError("boom")
    assert torch.get_num_threads() == before  # restored after an exception too
    for bad in (0, -2, 1.5, True):
        with pytest.raises(InputError, match="threads must be a positive integer"), num_threads(bad):
            pass


def test_parse_cpuinfo_reads_first_entry_flags():
    f = parse_cpuinfo(SAPPHIRE_RAPIDS)
    assert f.model_name == "Intel(R) Xeon(R) Platinum 8480+" and f.source == "/proc/cpuinfo"
    assert (f.avx2, f.avx512f, f.avx512_vnni, f.avx512_bf16, f.amx_tile, f.amx_int8, f.amx_bf16) == (True,) * 7
    assert f.fast_bf16 is True
    old = parse_cpuinfo(HASWELL)
    assert old.model_name == "Intel(R) Core(TM) i7-4770"
    assert (old.avx2, old.avx512f, old.avx512_vnni, old.amx_tile) == (True, False, False, False)
    assert old.fast_bf16 is False
    assert "AVX2 yes, AVX-512F no" in old.summary() and old.summary().endswith("(from /proc/cpuinfo)")


def test_no_flags_means_unknown_not_absent():
    arm = parse_cpuinfo(ARM)
    assert arm.model_name == "unknown"
    assert all(getattr(arm, k) is None for k in ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile"))
    assert arm.fast_bf16 is None and "AVX2 unknown" in arm.summary()
    with pytest.raises(InputError, match="text of /proc/cpuinfo"):
        parse_cpuinfo(b"flags: avx2")


def test_cpu_features_falls_back_to_torch(tmp_path, monkeypatch):
    monkeypatch.setattr(runtime, "_torch_capability", lambda: "AVX512")
    f = runtime.cpu_features.__wrapped__(str(tmp_path / "missing"))
    assert f.source == "torch" and f.torch_capability == "AVX512"
    assert (f.avx2, f.avx512f) == (True, True)
    assert f.avx512_vnni is None and f.amx_tile is None and f.fast_bf16 is None  # torch does not tell: unknown
    monkeypatch.setattr(runtime, "_torch_capability", lambda: "DEFAULT")
    f = runtime.cpu_features.__wrapped__(str(tmp_path / "missing"))
    assert (f.avx2, f.avx512f, f.amx_tile) == (False, False, None)
    monkeypatch.setattr(runtime, "_torch_capability", lambda: None)
    assert runtime.cpu_features.__wrapped__(str(tmp_path / "missing")).source == "none"
    arm = tmp_path / "cpuinfo"
    arm.write_text(ARM)
    monkeypatch.setattr(runtime, "_torch_capability", lambda: "SVE256")
    f = runtime.cpu_features.__wrapped__(str(arm))
    assert f.source == "torch" and f.avx2 is None and f.torch_capability == "SVE256"


def test_cpu_features_of_this_machine_match_its_flags():
    f = cpu_features()
    assert f is cpu_features()  # detected once per process
    assert f.torch_capability == torch.backends.cpu.get_cpu_capability()
    assert f.logical_cores >= 1
    try:
        with open("/proc/cpuinfo") as fh:
            flags = next(line for line in fh if line.startswith("flags")).split(":", 1)[1].split()
    except (OSError, StopIteration):
        pytest.fail("this test machine is Linux x86 and has /proc/cpuinfo flags")
    assert f.source == "/proc/cpuinfo"
    assert f.avx2 == ("avx2" in flags) and f.avx512f == ("avx512f" in flags)
    assert f.amx_int8 == ("amx_int8" in flags) and f.avx512_bf16 == ("avx512_bf16" in flags)
    d = f.as_dict()
    assert set(d) == {fld.name for fld in dataclasses.fields(CpuFeatures)} and d["model_name"] == f.model_name


def test_time_call_counts_calls_and_checks_arguments():
    calls = []
    t = time_call(calls.append, 1, warmup=2, repeats=3)
    assert len(calls) == 5 and t.n == 3 and t.warmup == 2
    with pytest.raises(InputError, match="warmup must be an integer >= 0"):
        time_call(calls.append, 1, warmup=-1)


def test_time_interleaved_runs_in_turns():
    order = []
    timings = runtime.time_interleaved({"a": lambda: order.append("a"), "b": lambda: order.append("b")},
                                       warmup=1, repeats=3)
    assert order == ["a", "b"] * 4  # one warm-up round, then three timed rounds, each function once per round
    assert list(timings) == ["a", "b"] and timings["a"].n == 3 and timings["a"].warmup == 1
    with pytest.raises(InputError, match="'b' is a int object; pass the function, not its result"):
        runtime.time_interleaved({"a": sum, "b": 3})
