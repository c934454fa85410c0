import http.server
import os
import pickle
import threading
import time
import warnings

import pytest
import torch

import depthkit as dk
from depthkit.errors import WeightsError
from depthkit.weights import (
    CHECKPOINT_NAME,
    UntrainedWeightsWarning,
    cache_path,
    download,
    install,
    load_checkpoint,
    resolve_weights,
    sha256_file,
)


def _same_weights_and_outputs(model, state_dict):
    """Exact equality of every tensor, and of the outputs of two contiguous-format copies."""
    from depthkit.model import MidasSmall

    assert all(torch.equal(v, state_dict[k]) for k, v in model.state_dict().items())
    ref = MidasSmall().eval()
    ref.load_state_dict(state_dict)
    model = model.to(memory_format=torch.contiguous_format)
    x = torch.randn(1, 3, 64, 96)
    with torch.inference_mode():
        assert torch.equal(model(x), ref(x))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, random_model):
    """A checkpoint in the official key layout (random weights, seed 0)."""
    path = tmp_path_factory.mktemp("ckpt") / CHECKPOINT_NAME
    torch.save(random_model.state_dict(), path)
    return path


def test_cache_is_torch_hub_checkpoints(torch_home):
    assert cache_path() == torch_home / CHECKPOINT_NAME


def test_random_is_seeded_and_deterministic():
    a, b, c = dk.load_model("random"), dk.load_model("random"), dk.load_model("random", seed=1)
    x = torch.randn(1, 3, 64, 64)
    with torch.inference_mode():
        assert torch.equal(a(x), b(x))
        assert not torch.equal(a(x), c(x))
    assert a.weights_info.kind == "random" and not a.weights_info.pretrained
    assert "UNTRAINED" in a.weights_info.label and "weights download" in a.weights_info.label


def test_seeding_does_not_disturb_global_rng():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    dk.load_model("random", seed=7)
    assert torch.equal(torch.rand(3), expected)


def test_path_roundtrip_gives_identical_outputs(checkpoint, random_model):
    model = dk.load_model(checkpoint, seed=99)
    _same_weights_and_outputs(model, random_model.state_dict())
    info = model.weights_info
    assert info.kind == "file" and info.pretrained and info.path == str(checkpoint)
    assert info.sha256 == sha256_file(checkpoint)
    assert not model.training


def test_training_format_with_model_key_accepted(tmp_path, random_model):
    path = tmp_path / "train.pt"
    torch.save({"model": random_model.state_dict(), "optimizer": {}}, path)
    assert len(load_checkpoint(path)) == 482


def test_env_var_selects_weights(monkeypatch, checkpoint):
    monkeypatch.setenv("DEPTHKIT_WEIGHTS", str(checkpoint))
    assert dk.load_model().weights_info.kind == "file"
    monkeypatch.setenv("DEPTHKIT_WEIGHTS", "random")
    assert dk.load_model().weights_info.kind == "random"
    # an explicit argument wins over the environment
    assert dk.load_model(checkpoint).weights_info.kind == "file"


def test_auto_without_checkpoint_falls_back_loudly(torch_home):
    with pytest.warns(UntrainedWeightsWarning, match="NOT depth predictions"):
        model = dk.load_model("auto")
    assert model.weights_info.kind == "random"


def test_pretrained_offline_fails_fast_with_both_ways_out(torch_home, monkeypatch):
    monkeypatch.delenv("DEPTHKIT_OFFLINE")  # really try the network, which this machine does not reach
    t0 = time.perf_counter()
    with pytest.raises(WeightsError) as err:
        dk.load_model("pretrained")
    elapsed = time.perf_counter() - t0
    msg = str(err.value)
    assert "python -m depthkit weights download" in msg and "python -m depthkit weights install FILE" in msg
    assert "\n" not in msg
    assert elapsed < 15, f"offline failure took {elapsed:.1f} s"
    assert not torch_home.exists() or not any(torch_home.iterdir())


def test_install_then_pretrained(torch_home, checkpoint, random_model):
    dest = install(checkpoint)
    assert dest == torch_home / CHECKPOINT_NAME
    side = dest.with_name(dest.name + ".sha256")
    assert side.read_text().split()[0] == sha256_file(checkpoint)
    model = dk.load_model("pretrained")
    assert model.weights_info.kind == "pretrained" and "pretrained MiDaS v2.1 small" in model.weights_info.label
    _same_weights_and_outputs(model, random_model.state_dict())
    assert dk.load_model("auto").weights_info.kind == "pretrained"


def test_file_cached_by_torch_hub_is_reused_and_hash_recorded(torch_home, checkpoint):
    torch_home.mkdir(parents=True)
    (torch_home / CHECKPOINT_NAME).write_bytes(checkpoint.read_bytes())
    _, info = resolve_weights("pretrained")
    assert info.kind == "pretrained"
    assert (torch_home / (CHECKPOINT_NAME + ".sha256")).read_text().split()[0] == info.sha256


def test_cached_file_changed_after_verification_is_refused(torch_home, checkpoint, random_model):
    dest = install(checkpoint)
    sd = random_model.state_dict()
    sd = {k: v.clone() for k, v in sd.items()}
    sd["scratch.output_conv.4.bias"] += 1
    torch.save(sd, dest)  # same layout, different bytes
    with pytest.raises(WeightsError, match="changed since it was verified"):
        dk.load_model("pretrained")


def test_truncated_file(tmp_path, checkpoint):
    bad = tmp_path / "truncated.pt"
    bad.write_bytes(checkpoint.read_bytes()[: checkpoint.stat().st_size // 2])
    with pytest.raises(WeightsError, match="truncated or corrupt"):
        load_checkpoint(bad)


def test_missing_file():
    with pytest.raises(WeightsError, match="does not exist"):
        load_checkpoint("/nonexistent/midas.pt")


def test_unknown_keyword():
    with pytest.raises(WeightsError, match="unknown weights 'pretrianed'"):
        dk.load_model("pretrianed")


def test_wrong_key_is_named(tmp_path, random_model):
    sd = dict(random_model.state_dict())
    sd["pretrained.layer1.0.weight_renamed"] = sd.pop("pretrained.layer1.0.weight")
    path = tmp_path / "renamed.pt"
    torch.save(sd, path)
    with pytest.raises(WeightsError, match=r"key 'pretrained\.layer1\.0\.weight' is missing"):
        load_checkpoint(path)


def test_wrong_shape_is_named(tmp_path, random_model):
    sd = dict(random_model.state_dict())
    sd["scratch.output_conv.4.weight"] = torch.zeros(2, 32, 1, 1)
    path = tmp_path / "shape.pt"
    torch.save(sd, path)
    with pytest.raises(WeightsError, match=r"'scratch\.output_conv\.4\.weight' has shape \(2, 32, 1, 1\)"):
        load_checkpoint(path)


def test_unexpected_key_is_named(tmp_path, random_model):
    sd = dict(random_model.state_dict())
    sd["extra.head.weight"] = torch.zeros(1)
    path = tmp_path / "extra.pt"
    torch.save(sd, path)
    with pytest.raises(WeightsError, match=r"unexpected key 'extra\.head\.weight'"):
        load_checkpoint(path)


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_malicious_pickle_executes_nothing(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"pretrained.layer1.0.weight": _Evil(marker)}, path)
    with pytest.raises(WeightsError, match="refused by the safe loader"):
        load_checkpoint(path)
    assert not marker.exists()
    # also a plain pickle (not a torch zip file)
    path2 = tmp_path / "evil2.pt"
    path2.write_bytes(pickle.dumps(_Evil(marker)))
    with pytest.raises(WeightsError):
        load_checkpoint(path2)
    assert not marker.exists()


class _Server:
    """A local HTTP server on 127.0.0.1 serving ``body``; if ``drop`` it sends half the bytes and hangs up."""

    def __init__(self, body: bytes, drop: bool):
        body_, drop_ = body, drop

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", str(len(body_)))
                self.end_headers()
                self.wfile.write(body_[: len(body_) // 2] if drop_ else body_)
                self.wfile.flush()
                if drop_:
                    self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/{CHECKPOINT_NAME}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


def test_interrupted_download_leaves_nothing(torch_home, checkpoint):
    with _Server(checkpoint.read_bytes(), drop=True) as srv, \
            pytest.raises(WeightsError, match=r"stopped after \d+ of \d+ bytes"):
        download(srv.url, progress=False)
    assert list(torch_home.iterdir()) == []  # no partial file, no .part leftovers


def test_download_verifies_and_caches(torch_home, checkpoint):
    with _Server(checkpoint.read_bytes(), drop=False) as srv:
        path = download(srv.url, progress=False)
    assert path == cache_path()
    assert sorted(p.name for p in torch_home.iterdir()) == [CHECKPOINT_NAME, CHECKPOINT_NAME + ".sha256"]
    assert sha256_file(path) == sha256_file(checkpoint)


def test_download_of_wrong_file_leaves_nothing(torch_home):
    with _Server(b"<html>rate limited</html>", drop=False) as srv, \
            pytest.raises(WeightsError, match="not a readable PyTorch checkpoint"):
        download(srv.url, progress=False)
    assert list(torch_home.iterdir()) == []


def test_auto_downloads_when_reachable(torch_home, checkpoint, monkeypatch):
    monkeypatch.delenv("DEPTHKIT_OFFLINE")
    with _Server(checkpoint.read_bytes(), drop=False) as srv:
        monkeypatch.setattr("depthkit.weights.CHECKPOINT_URL", srv.url)
        monkeypatch.setattr(download, "__defaults__", (srv.url, None))
        with warnings.catch_warnings():
            warnings.simplefilter("error", UntrainedWeightsWarning)
            model = dk.load_model("auto")
    assert model.weights_info.kind == "pretrained"


# ------------------------------------------------------------------------------------- faults: races, full disk
def _tiny_checkpoint(path, value, like):
    """A small checkpoint in the official key layout: every tensor one repeated value (stride-0 storage, ~150 kB)."""
    torch.save({k: torch.full((), value, dtype=v.dtype).expand(v.shape) for k, v in like.state_dict().items()}, path)
    return path


def _cache_state(folder):
    """(file names in the cache folder, SHA-256 of the checkpoint, the hash recorded beside it)."""
    names = sorted(p.name for p in folder.iterdir())
    ckpt = folder / CHECKPOINT_NAME
    recorded = (folder / (CHECKPOINT_NAME + ".sha256")).read_text().split()
    return names, sha256_file(ckpt), recorded


def test_two_processes_installing_at_once_leave_one_valid_file_and_its_hash(tmp_path, random_model):
    import subprocess
    import sys

    a = _tiny_checkpoint(tmp_path / "a.pt", 0.25, random_model)
    b = _tiny_checkpoint(tmp_path / "b.pt", 0.75, random_model)
    home = tmp_path / "torch"
    env = {**os.environ, "TORCH_HOME": str(home), "HF_HUB_OFFLINE": "1", "DEPTHKIT_OFFLINE": "1"}
    procs = [subprocess.Popen([sys.executable, "-m", "depthkit", "weights", "install", str(f)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for f in (a, b, a)]
    outs = [p.communicate(timeout=300)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outs
    folder = home / "hub" / "checkpoints"
    names, digest, recorded = _cache_state(folder)
    assert names == [CHECKPOINT_NAME, CHECKPOINT_NAME + ".sha256"]  # no .part leftovers, no lock file
    assert digest in (sha256_file(a), sha256_file(b))  # exactly one of the two files, whole
    assert recorded == [digest, CHECKPOINT_NAME]  # and the hash of that very file
    assert len(load_checkpoint(folder / CHECKPOINT_NAME)) == 482


def _no_space(fail_when):
    """A replacement for depthkit.weights._write that raises ENOSPC (after writing a little) when told to."""
    import errno

    def write(out, chunk):
        if fail_when(chunk):
            out.write(chunk[: len(chunk) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        out.write(chunk)
    return write


def test_full_disk_during_download_leaves_nothing(torch_home, checkpoint, monkeypatch):
    monkeypatch.setattr("depthkit.weights._write", _no_space(lambda chunk: True))
    with _Server(checkpoint.read_bytes(), drop=False) as srv, pytest.raises(WeightsError) as err:
        download(srv.url, progress=False)
    msg = str(err.value)
    assert "is full" in msg and "nothing was cached" in msg and "free some space" in msg and "\n" not in msg
    assert list(torch_home.iterdir()) == []  # no partial file, no hash


def test_full_disk_keeps_the_previous_checkpoint(torch_home, tmp_path, checkpoint, random_model, monkeypatch):
    install(checkpoint)
    before = _cache_state(torch_home)
    other = _tiny_checkpoint(tmp_path / "other.pt", 0.5, random_model)
    monkeypatch.setattr("depthkit.weights._write", _no_space(lambda chunk: True))  # while copying the file
    with pytest.raises(WeightsError, match="is full"):
        install(other)
    assert _cache_state(torch_home) == before
    monkeypatch.setattr("depthkit.weights._write", _no_space(lambda chunk: chunk.endswith(b".pt\n")))  # the hash
    with pytest.raises(WeightsError, match="is full"):
        install(other)
    assert _cache_state(torch_home) == before
    assert dk.load_model("pretrained").weights_info.sha256 == before[1]


def test_label_shows_the_files_sha256(torch_home, checkpoint):
    install(checkpoint)
    digest = sha256_file(checkpoint)
    info = dk.load_model("pretrained").weights_info
    assert info.sha256 == digest and len(digest) == 64
    assert f"sha256 {digest[:12]}" in info.label and CHECKPOINT_NAME in info.label
    file_info = dk.load_model(checkpoint).weights_info
    assert f"sha256 {digest[:12]}" in file_info.label and str(checkpoint) in file_info.label


def test_verify_cached_records_then_refuses_changes(torch_home, tmp_path, checkpoint, random_model):
    from depthkit.weights import verify_cached

    with pytest.raises(WeightsError, match="no cached checkpoint"):
        verify_cached()
    torch_home.mkdir(parents=True)
    (torch_home / CHECKPOINT_NAME).write_bytes(checkpoint.read_bytes())  # as torch.hub would leave it
    assert verify_cached() == sha256_file(checkpoint)
    assert _cache_state(torch_home)[2] == [sha256_file(checkpoint), CHECKPOINT_NAME]
    _tiny_checkpoint(torch_home / CHECKPOINT_NAME, 0.5, random_model)
    with pytest.raises(WeightsError, match="changed since it was verified"):
        verify_cached()


def test_load_model_threads_sets_the_global_count():
    before = torch.get_num_threads()
    try:
        dk.load_model("random", threads=1)
        assert torch.get_num_threads() == 1  # documented: process-wide, not scoped
    finally:
        torch.set_num_threads(before)
    with pytest.raises(dk.InputError, match="threads must be a positive integer"):
        dk.load_model("random", threads=0)


def test_checkpoint_and_hash_are_renamed_while_the_folder_is_locked(torch_home, checkpoint, monkeypatch):
    """Every rename into the cache happens while another process could not take the cache lock."""
    import fcntl

    real_replace = os.replace
    seen = []

    def replace(src, dst):
        fd = os.open(torch_home, os.O_RDONLY)  # a new open file description, as another process would have
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            locked = False
            fcntl.flock(fd, fcntl.LOCK_UN)
        except BlockingIOError:
            locked = True
        finally:
            os.close(fd)
        seen.append((os.path.basename(dst), locked))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    install(checkpoint)
    assert seen == [(CHECKPOINT_NAME, True), (CHECKPOINT_NAME + ".sha256", True)]
    seen.clear()
    (torch_home / (CHECKPOINT_NAME + ".sha256")).unlink()  # a first verification records the hash under the lock too
    dk.load_model("pretrained")
    assert seen == [(CHECKPOINT_NAME + ".sha256", True)]


# ------------------------------------------------------------------------- the other models of the registry
# Checkpoints in the official layouts (tests/data manifests, random values) stand in for dpt_hybrid_384.pt and
# depth_anything_v2_vits.pth. DPT-Hybrid (123 M parameters) is built once for this module, without random init.
DAV2, DPT = "depth_anything_v2_small", "dpt_hybrid"


@pytest.fixture(scope="module")
def official_checkpoints(tmp_path_factory):
    """name -> (network with the checkpoint's weights, checkpoint path under its official file name)."""
    from official_layout import load_official

    from depthkit.depth_anything import DepthAnythingV2Small
    from depthkit.dpt_hybrid import DPTHybrid
    from depthkit.model_registry import get_spec

    folder = tmp_path_factory.mktemp("official")
    out = {}
    for name, cls, manifest, seed in ((DAV2, DepthAnythingV2Small, "depth_anything_v2_vits", 3),
                                      (DPT, DPTHybrid, "dpt_hybrid_384", 4)):
        net, state = load_official(cls, manifest, seed=seed)
        path = folder / get_spec(name).checkpoint_name  # .pth for Depth Anything V2, .pt for DPT-Hybrid
        torch.save(state, path)
        out[name] = (net, path)
    return out


def _assert_same_network(loaded, source, x):
    assert loaded.state_dict().keys() == source.state_dict().keys()
    assert all(torch.equal(v, source.state_dict()[k]) for k, v in loaded.state_dict().items())
    with torch.inference_mode():
        got, want = loaded(x), source(x)
    assert got.shape == (x.shape[0], *x.shape[2:]) and got.std() > 0
    assert torch.equal(got, want)


@pytest.mark.parametrize("name,size", [(DAV2, (70, 98)), (DPT, (64, 96))])
def test_each_model_loads_its_official_layout_checkpoint_strictly_from_a_path(official_checkpoints, name, size):
    source, path = official_checkpoints[name]
    model = dk.load_model(path, model=name, seed=5)
    assert type(model) is type(source) and not model.training
    _assert_same_network(model, source, torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(0)))
    info = model.weights_info
    assert (info.kind, info.model, info.path, info.sha256) == ("file", name, str(path), sha256_file(path))


def test_a_pth_or_pt_suffix_is_a_checkpoint_path_whatever_the_model(official_checkpoints, tmp_path, random_model):
    dav2, path = official_checkpoints[DAV2]
    as_pt = tmp_path / "depth_anything_v2_vits.pt"
    os.link(path, as_pt)  # the same bytes under the other suffix
    assert torch.equal(dk.load_model(as_pt, model=DAV2).depth_head.scratch.output_conv2[2].weight,
                       dav2.depth_head.scratch.output_conv2[2].weight)
    midas_pth = tmp_path / "midas_v21_small_256.pth"
    torch.save(random_model.state_dict(), midas_pth)
    _same_weights_and_outputs(dk.load_model(str(midas_pth)), random_model.state_dict())
    with pytest.raises(WeightsError, match=r"weights file missing\.pth does not exist"):
        dk.load_model("missing.pth", model=DAV2)  # a file name, not an unknown keyword


def test_a_checkpoint_of_another_model_is_named_with_the_model_that_loads_it(official_checkpoints, checkpoint):
    _, dav2 = official_checkpoints[DAV2]
    with pytest.raises(WeightsError) as err:
        dk.load_model(dav2, model=DPT)
    assert str(err.value) == (f"{dav2} is a Depth Anything V2 Small checkpoint, not a MiDaS v3.0 DPT-Hybrid one; "
                              "load it with model='depth_anything_v2_small', or use dpt_hybrid_384.pt for "
                              "model='dpt_hybrid'.")
    with pytest.raises(WeightsError) as err:
        load_checkpoint(checkpoint, model=DAV2)
    assert str(err.value) == (f"{checkpoint} is a MiDaS v2.1 small checkpoint, not a Depth Anything V2 Small one; "
                              "load it with model='midas_small', or use depth_anything_v2_vits.pth for "
                              "model='depth_anything_v2_small'.")
    with pytest.raises(WeightsError, match=r"is a Depth Anything V2 Small checkpoint, not a MiDaS_small one"):
        dk.load_model(dav2)  # the default model


def test_a_damaged_checkpoint_names_the_model_and_its_file(official_checkpoints, tmp_path):
    from official_layout import official_state_dict

    state = official_state_dict("depth_anything_v2_vits", seed=0)
    key = "depth_head.scratch.output_conv2.2.weight"
    path = tmp_path / "damaged.pth"
    torch.save({**state, key: torch.zeros(2, 32, 1, 1)}, path)
    with pytest.raises(WeightsError) as err:
        load_checkpoint(path, model=DAV2)
    assert str(err.value) == (f"{path} does not match Depth Anything V2 Small: {key!r} has shape (2, 32, 1, 1), "
                              "expected (1, 32, 1, 1); is it a different network (only depth_anything_v2_vits.pth "
                              "fits)?")
    del state[key]
    torch.save(state, path)
    with pytest.raises(WeightsError, match=rf"is not a Depth Anything V2 Small checkpoint: key {key!r} is missing; "
                                           r"use depth_anything_v2_vits\.pth \(run `python -m depthkit weights "
                                           r"download --model depth_anything_v2_small`"):
        load_checkpoint(path, model=DAV2)


@pytest.mark.parametrize("info,label", [
    (dk.weights.WeightsInfo("pretrained", sha256="ab" * 32, model=DPT),
     "pretrained MiDaS v3.0 DPT-Hybrid (dpt_hybrid_384.pt, sha256 abababababab…)"),
    (dk.weights.WeightsInfo("pretrained", sha256="cd" * 32, model=DAV2),
     "pretrained Depth Anything V2 Small (depth_anything_v2_vits.pth, sha256 cdcdcdcdcdcd…)"),
    (dk.weights.WeightsInfo("pretrained", sha256="ef" * 32),
     "pretrained MiDaS v2.1 small (midas_v21_small_256.pt, sha256 efefefefefef…)"),
    (dk.weights.WeightsInfo("file", path="/w/dpt.pt", sha256="12" * 32, model=DPT),
     "MiDaS v3.0 DPT-Hybrid weights from /w/dpt.pt (sha256 121212121212…)"),
    (dk.weights.WeightsInfo("file", path="/w/m.pt", sha256="12" * 32), "weights from /w/m.pt (sha256 121212121212…)"),
    (dk.weights.WeightsInfo("random", seed=3, model=DAV2),
     "UNTRAINED random Depth Anything V2 Small weights (seed 3): not a depth prediction; to get the real model, "
     "run `python -m depthkit weights download --model depth_anything_v2_small` where there is internet, or "
     "`python -m depthkit weights install FILE --model depth_anything_v2_small` for a depth_anything_v2_vits.pth "
     "copied from elsewhere"),
    (dk.weights.WeightsInfo("random", seed=0),
     "UNTRAINED random weights (seed 0): not a depth prediction; to get the real model, run `python -m depthkit "
     "weights download` where there is internet, or `python -m depthkit weights install FILE` for a "
     "midas_v21_small_256.pt copied from elsewhere"),
])
def test_the_label_names_the_model(info, label):
    assert info.label == label == str(info)


def test_no_checkpoint_warns_naming_the_model_and_its_command(torch_home):
    with pytest.warns(UntrainedWeightsWarning) as caught:
        state, info = resolve_weights("auto", model=DPT, seed=2)  # resolving only: DPT-Hybrid is not built
    assert state is None and (info.kind, info.model, info.seed) == ("random", DPT, 2)
    message = str(caught[0].message)
    assert message.startswith("no pretrained MiDaS v3.0 DPT-Hybrid checkpoint is available, so the model uses "
                              "UNTRAINED random weights (seed 2)")
    assert "`python -m depthkit weights download --model dpt_hybrid`" in message and "dpt_hybrid_384.pt" in message
    with pytest.raises(WeightsError) as err:
        resolve_weights("pretrained", model=DAV2)
    assert str(err.value).startswith(f"the pretrained Depth Anything V2 Small checkpoint is not in {torch_home}; "
                                     "run `python -m depthkit weights download --model depth_anything_v2_small`")


def test_random_weights_of_another_model_are_seeded():
    with pytest.warns(UntrainedWeightsWarning, match="Depth Anything V2 Small"):
        a = dk.load_model("auto", model=DAV2, seed=1)  # offline, nothing cached: random, loudly
    b = dk.load_model("random", model=DAV2, seed=1)
    assert a.weights_info == b.weights_info == dk.weights.WeightsInfo("random", seed=1, model=DAV2)
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())


def test_each_model_has_its_own_cache_file_and_hash(torch_home, official_checkpoints, checkpoint):
    dav2, path = official_checkpoints[DAV2]
    assert cache_path(DAV2) == torch_home / "depth_anything_v2_vits.pth"
    dest = install(path, model=DAV2)
    install(checkpoint)
    assert sorted(p.name for p in torch_home.iterdir()) == [
        "depth_anything_v2_vits.pth", "depth_anything_v2_vits.pth.sha256", CHECKPOINT_NAME, CHECKPOINT_NAME + ".sha256"]
    assert dest.with_name(dest.name + ".sha256").read_text() == f"{sha256_file(path)}  depth_anything_v2_vits.pth\n"
    model = dk.load_model("pretrained", model=DAV2)
    assert model.weights_info.label == f"pretrained Depth Anything V2 Small (depth_anything_v2_vits.pth, sha256 " \
                                       f"{sha256_file(path)[:12]}…)"
    _assert_same_network(model, dav2, torch.randn(1, 3, 42, 56, generator=torch.Generator().manual_seed(1)))
    assert dk.load_model("pretrained").weights_info.sha256 == sha256_file(checkpoint)  # MiDaS_small's own file
    with pytest.raises(WeightsError, match=r"is a MiDaS v2\.1 small checkpoint, not a Depth Anything V2 Small one"):
        install(checkpoint, model=DAV2)


def test_download_of_another_model_uses_its_url_and_checks_its_layout(torch_home, official_checkpoints, monkeypatch,
                                                                       checkpoint):
    from depthkit.model_registry import get_spec

    asked = []

    def serve(file):
        def chunks(url, timeout, progress, model):
            asked.append(url)
            yield file.read_bytes()
        return chunks

    monkeypatch.setattr("depthkit.weights._url_chunks", serve(official_checkpoints[DAV2][1]))
    assert download(model=DAV2, progress=False) == torch_home / "depth_anything_v2_vits.pth"
    assert asked == [get_spec(DAV2).url]
    monkeypatch.setattr("depthkit.weights._url_chunks", serve(checkpoint))  # the wrong file: nothing is cached
    with pytest.raises(WeightsError, match=r"not a MiDaS v3\.0 DPT-Hybrid one"):
        download(model=DPT, progress=False)
    assert asked[-1] == "https://github.com/isl-org/MiDaS/releases/download/v3/dpt_hybrid_384.pt"
    assert not cache_path(DPT).exists()


def test_an_unknown_model_name_is_one_sentence():
    with pytest.raises(dk.InputError) as err:
        dk.load_model("random", model="dpt_large")
    assert str(err.value) == ("model must be 'midas_small', 'dpt_hybrid' or 'depth_anything_v2_small', got "
                              "'dpt_large'; see depthkit.model_registry.MODELS.")


def test_depthkit_weights_selects_midas_small_only(monkeypatch, checkpoint):
    monkeypatch.setenv("DEPTHKIT_WEIGHTS", str(checkpoint))
    _, info = resolve_weights("auto")
    assert info.kind == "file"
    with pytest.warns(UntrainedWeightsWarning):
        _, info = resolve_weights("auto", model=DAV2)  # its own cache (empty here), not MiDaS_small's file
    assert (info.kind, info.model) == ("random", DAV2)
