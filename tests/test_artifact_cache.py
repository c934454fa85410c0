"""The disk cache of derived files: where it is, what its keys depend on, and that files appear atomically."""

import json

import pytest
import torch

from depthkit import artifact_cache as A


def test_cache_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(A.CACHE_ENV, str(tmp_path / "c"))
    assert A.cache_root() == tmp_path / "c"
    monkeypatch.delenv(A.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert A.cache_root() == tmp_path / "xdg" / "depthkit"


def test_weights_digest_depends_on_values_names_and_shapes():
    torch.manual_seed(0)
    a, b = torch.nn.Conv2d(3, 4, 3), torch.nn.Conv2d(3, 4, 3)
    assert A.weights_digest(a) != A.weights_digest(b)
    b.load_state_dict(a.state_dict())
    assert A.weights_digest(a) == A.weights_digest(b)
    assert len(A.weights_digest(a)) == 64 and int(A.weights_digest(a), 16) >= 0
    before = A.weights_digest(b)
    opt = torch.optim.SGD(b.parameters(), lr=0.1)
    b(torch.ones(1, 3, 5, 5)).sum().backward()
    opt.step()  # an in-place training step must change the digest, although the module object is the same
    assert A.weights_digest(b) != before
    conv = torch.nn.Conv2d(3, 4, 3, bias=False)
    flat = torch.nn.Linear(27, 4, bias=False)  # the same 108 numbers, in another shape
    with torch.no_grad():
        flat.weight.copy_(conv.weight.reshape(4, 27))
    assert A.weights_digest(flat) != A.weights_digest(conv)


def test_artifact_dir_keys_weights_and_library_versions(monkeypatch, tmp_path):
    monkeypatch.setenv(A.CACHE_ENV, str(tmp_path))
    net = torch.nn.Linear(2, 2)
    folder = A.artifact_dir(net, "Linear")
    assert folder.parent == tmp_path / "Linear" and folder.name.startswith(A.weights_digest(net)[:16] + "-")
    monkeypatch.setattr(A, "library_versions", lambda: {"torch": "0.0"})  # another torch: another folder
    assert A.artifact_dir(net, "Linear") != folder
    assert set(A.LIBRARIES) >= {"torch", "onnx", "onnxruntime", "openvino", "nncf"}


def test_build_once_builds_once_and_atomically(tmp_path, capsys):
    calls = []

    def build(tmp):
        calls.append(tmp)
        (tmp / "model.txt").write_text("ok")

    dest = tmp_path / "a" / "model"
    assert A.build_once(dest, build, message="building the model") == dest
    assert A.build_once(dest, build, message="building the model") == dest
    assert len(calls) == 1 and (dest / "model.txt").read_text() == "ok"
    assert capsys.readouterr().out == "building the model\n"  # printed once, before the one build
    assert sorted(p.name for p in dest.parent.iterdir()) == ["model"]  # no temporary folder left behind

    def broken(tmp):
        (tmp / "half.txt").write_text("half")
        raise RuntimeError("exporter crashed")

    with pytest.raises(RuntimeError, match="exporter crashed"):
        A.build_once(tmp_path / "b" / "model", broken)
    assert list((tmp_path / "b").iterdir()) == []  # neither the destination nor a half-written folder


def test_json_round_trip_and_unreadable_files(tmp_path):
    path = tmp_path / "sub" / "choice.json"
    assert A.read_json(path) == {}
    A.write_json(path, {"k": [1, 2]})
    assert A.read_json(path) == {"k": [1, 2]} and json.loads(path.read_text()) == {"k": [1, 2]}
    path.write_text("{not json")
    assert A.read_json(path) == {}
    path.write_text("[1, 2]")  # valid JSON, but not an object
    assert A.read_json(path) == {}


def test_weights_version_sees_replaced_tensors_too():
    a, b = torch.nn.Linear(2, 1), torch.nn.Linear(2, 1)
    net = torch.nn.Linear(2, 1)
    net.load_state_dict(a.state_dict(), assign=True)  # replaces the tensors: their counters start again at 0
    stamp, digest = A.weights_version(net), A.weights_digest(net)
    net.load_state_dict(b.state_dict(), assign=True)
    assert A.weights_version(net) != stamp
    assert A.weights_digest(net) != digest == A.weights_digest(a)  # not the remembered digest of a's weights
