"""backend="auto": measured once per machine and weights, gated on agreement with fp32, cached, reported."""

import dataclasses
import json
from typing import ClassVar

import numpy as np
import pytest
import torch

import depthkit as dk
from depthkit import artifact_cache as A
from depthkit import backend_choice as C
from depthkit import runtime


@pytest.fixture()
def fresh_memory(monkeypatch):
    """Forget this process's choices (as a new Python session would); the file cache stays."""
    monkeypatch.setattr(C, "_CHOSEN", {})


def test_auto_on_real_backends(random_model, fresh_memory):
    choice = C.choose_backend(random_model, quiet=True)
    rows = {r.backend: r for r in choice.rows}
    assert choice.rows[0].backend == "eager" and rows["eager"].status == "reference"
    assert choice.backend in [*C.candidates(), "eager"]
    assert rows[choice.backend].status in ("verified", "reference")
    for r in choice.rows:
        if r.status == "verified":
            assert r.pearson_r >= C.AGREEMENT_GATE
        if r.status == "experimental":
            assert r.pearson_r < C.AGREEMENT_GATE and r.backend != choice.backend
        if r.status != "failed":
            assert r.speedup == pytest.approx(rows["eager"].median_ms / r.median_ms)
    faster = [r for r in choice.rows if r.status == "verified" and r.median_ms < rows[choice.backend].median_ms]
    assert faster == []  # nothing verified is faster than the choice
    assert choice.weights_sha256 == A.weights_digest(random_model)
    assert choice.cpu == dataclasses.asdict(runtime.cpu_features())  # measured here, or by an earlier test
    assert f"Chosen: **{choice.backend}**" in choice.to_markdown()
    assert C.choose_backend(random_model) is choice  # the same process: no second measurement
    C._CHOSEN.clear()  # a new session reads the file
    again = C.choose_backend(random_model, quiet=True)
    assert again.from_cache and again.backend == choice.backend and repr(again.rows) == repr(choice.rows)  # nan
    stored = json.loads((A.cache_root() / C.CHOICE_FILE).read_text())
    assert sum(1 for k in stored if not k.startswith("speeds ")) >= 1
    result = dk.estimate_depth(np.zeros((48, 64, 3), np.uint8), random_model)  # the default is "auto"
    assert result.backend == choice.backend and f"backend {choice.backend}" in repr(result)
    assert dk.estimate_depth(np.zeros((48, 64, 3), np.uint8), random_model, backend="eager").backend == "eager"


class FakeAgreement:
    """Stands in for the measurement over the photos: fixed r per backend."""

    R: ClassVar[dict] = {}

    def __init__(self, model):
        self.asked = []

    def __call__(self, backend):
        return self.R[backend], 1 - self.R[backend]


@pytest.mark.parametrize(("r", "chosen", "statuses"), [
    ({"int8": 0.90, "bf16": 0.995, "openvino": 1.0}, "bf16",
     {"int8": "experimental", "bf16": "verified", "openvino": "not checked"}),
    ({"int8": 0.999, "bf16": 0.995, "openvino": 1.0}, "int8",
     {"int8": "verified", "bf16": "not checked", "openvino": "not checked"}),
    ({"int8": 0.5, "bf16": 0.98, "openvino": 0.97}, "eager",
     {"int8": "experimental", "bf16": "experimental", "openvino": "experimental"}),
])
def test_the_fastest_that_passes_the_gate_is_chosen(monkeypatch, r, chosen, statuses):
    speeds = {"eager": 100.0, "int8": 20.0, "bf16": 30.0, "openvino": 50.0, "onnx": 140.0}  # onnx: slower than eager
    monkeypatch.setattr(C, "_cached_speeds", lambda model, stored: (speeds, 2, []))
    monkeypatch.setattr(C, "_Agreement", FakeAgreement)
    monkeypatch.setattr(FakeAgreement, "R", r)
    monkeypatch.setattr(C, "has_bf16_hardware", lambda: True)
    choice = C._choose(torch.nn.Linear(1, 1), {})
    assert choice.backend == chosen
    got = {row.backend: row.status for row in choice.rows}
    assert got == {"eager": "reference", "onnx": "not checked", **statuses}
    assert {row.backend: row.speedup for row in choice.rows}["int8"] == 5.0
    notes = {row.backend: row.note for row in choice.rows}
    assert notes["onnx"] == "slower than eager here" and choice.threads == 2


def test_a_backend_that_fails_is_a_row_not_a_crash(random_model, monkeypatch):
    real = C.get_runner

    def broken_int8(model, backend, shape=(1, 3, 256, 256), threads=None):
        if backend == "int8":
            raise KeyError("an engine's own exception class")  # e.g. NNCF's errors derive from Exception only
        return real(model, backend, shape, threads)

    monkeypatch.setattr(C, "get_runner", broken_int8)
    rows = {r.backend: r for r in C.measure_backends(random_model, ["openvino", "int8"], repeats=1, warmup=0)}
    assert rows["int8"].status == "failed" and "engine's own exception" in rows["int8"].note
    assert rows["openvino"].status == "verified"


def test_bf16_is_not_a_candidate_without_bf16_hardware(monkeypatch):
    monkeypatch.setattr(C, "has_bf16_hardware", lambda: False)
    assert "bf16" not in C.candidates()
    assert C._status("bf16", 0.999) == ("not a candidate", "no bf16 hardware: OpenVINO computes fp32")
    monkeypatch.setattr(C, "has_bf16_hardware", lambda: True)
    assert "bf16" in C.candidates()  # installed here (the dev extra has OpenVINO)


def test_choice_is_keyed_by_cpu_and_weights(monkeypatch, fresh_memory, tmp_path):
    monkeypatch.setenv(A.CACHE_ENV, str(tmp_path))
    made = []

    def fake_choose(model, stored):
        made.append(model)
        return C.BackendChoice("eager", (), {}, 1, A.weights_digest(model), {}, "now")

    monkeypatch.setattr(C, "_choose", fake_choose)
    net = torch.nn.Linear(2, 2)
    C.choose_backend(net, quiet=True)
    C.choose_backend(net, quiet=True)
    assert len(made) == 1
    other_cpu = dataclasses.replace(runtime.cpu_features(), model_name="Another CPU", amx_int8=False)
    monkeypatch.setattr(C, "cpu_features", lambda: other_cpu)  # moved to another machine: measure again
    C.choose_backend(net, quiet=True)
    assert len(made) == 2
    with torch.no_grad():
        net.bias.add_(1.0)  # other weights: measure again
    C.choose_backend(net, quiet=True)
    assert len(made) == 3
    C.choose_backend(net, quiet=True, refresh=True)
    assert len(made) == 4


def test_auto_is_eager_for_other_networks_and_without_fast_backends(random_model, monkeypatch):
    monkeypatch.setattr(C, "choose_backend", lambda *a, **k: pytest.fail("nothing to measure"))
    assert C.resolve_backend(torch.nn.Conv2d(3, 1, 1)) == "eager"
    assert C.resolve_backend(random_model, "onnx") == "onnx"
    monkeypatch.setattr(C, "candidates", list)
    assert C.resolve_backend(random_model) == "eager"
    with pytest.raises(dk.InputError, match="unknown backend 'fastest'"):
        C.resolve_backend(random_model, "fastest")
