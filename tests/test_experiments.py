"""Tests for depthkit.experiments: the tiny depth network and the dataset-mixing experiment (tiny runs only)."""

import json
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from depthkit.errors import InputError
from depthkit.experiments import mixing
from depthkit.experiments.tiny_net import TinyDepthNet, count_parameters
from depthkit.synthetic import TextureSet, mixed_datasets

TEX = TextureSet([np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)])
TINY = {"steps": 3, "n_train": 2, "n_test": 2, "size": (32, 32), "batch_size": 2, "lr": 1e-3, "seed": 5,
        "progress": False, "motorcycle_width": 32, "textures": TEX, "threads": 1}
ROW_KEYS = {"loss", "description", "test_abs_rel", "test_delta1", "motorcycle_abs_rel", "motorcycle_delta1",
            "train_seconds", "n_failed"}


@pytest.fixture(scope="module")
def tiny_results():
    return mixing.run_experiment(**TINY)


def test_tiny_net_shapes_and_non_negative_output():
    torch.manual_seed(0)
    net = TinyDepthNet()
    assert 200_000 <= count_parameters(net) <= 1_000_000
    for h, w in [(32, 32), (21, 37), (8, 8)]:
        out = net(torch.rand(2, 3, h, w))
        assert out.shape == (2, h, w)
        assert bool((out >= 0).all())
    with pytest.raises(InputError, match=r"image must be a \(B, 3, H, W\)"):
        net(torch.rand(3, 16, 16))
    with pytest.raises(InputError, match="widths must be five"):
        TinyDepthNet(widths=(8, 16))


def test_naive_l1_loss_by_hand():
    pred = torch.tensor([[[1.0, 2.0], [3.0, 4.0]], [[0.0, 0.0], [0.0, 0.0]]])
    target = torch.tensor([[[2.0, 2.0], [0.0, 40.0]], [[5.0, 5.0], [5.0, 5.0]]])
    mask = torch.tensor([[[True, True], [True, False]], [[False, False], [False, False]]])
    # Image 0: (1 + 0 + 3) / 3 valid pixels; image 1 has no valid pixel and is left out of the mean.
    assert float(mixing.naive_l1_loss(pred, target, mask)) == pytest.approx(4.0 / 3.0)
    empty = mixing.naive_l1_loss(pred.requires_grad_(), target, torch.zeros_like(mask))
    assert float(empty.detach()) == 0.0
    empty.backward()


def test_adam_first_step_moves_each_weight_by_lr_against_the_gradient_sign():
    w = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    opt = mixing._Adam([w], lr=0.1)
    (w * torch.tensor([2.0, 0.5, -4.0])).sum().backward()
    opt.step(0.1)  # m / sqrt(v) = g / |g| after bias correction
    np.testing.assert_allclose(w.detach().numpy(), [0.9, -2.1, 3.1], atol=1e-6)
    opt.zero_grad()
    assert w.grad is None


def test_prepare_training_data_targets_in_disparity_space():
    items = mixed_datasets(1, size=(16, 16), seed=2, textures=TEX)
    data = mixing.prepare_training_data(items)
    assert data["image"].shape == (3, 3, 16, 16) and data["image"].dtype == torch.float32
    assert float(data["image"].max()) <= 1.0
    assert data["dataset"] == ["A", "B", "C"]
    a = items[0]
    finite = np.isfinite(a.depth_m)
    np.testing.assert_allclose(data["target"][0].numpy()[finite], 1.0 / a.depth_m[finite], rtol=1e-6)
    np.testing.assert_array_equal(data["mask"][0].numpy(), finite)
    b = items[1]  # structure from motion: depth up to a scale becomes inverse depth up to a scale
    np.testing.assert_allclose(data["target"][1].numpy()[finite_b := np.isfinite(b.depth_m)],
                               1.0 / (b.scale * b.depth_m[finite_b]), rtol=1e-5)
    np.testing.assert_array_equal(data["mask"][1].numpy(), finite_b)
    np.testing.assert_array_equal(data["target"][2].numpy(), items[2].target)  # C's disparity stays in px


class _FixedOutput(torch.nn.Module):
    """A stand-in network that always predicts the given (H, W) inverse depth."""

    def __init__(self, inverse_depth):
        super().__init__()
        self.out = torch.as_tensor(inverse_depth, dtype=torch.float32)

    def forward(self, image):
        return self.out[None].expand(image.shape[0], -1, -1)


def test_evaluate_model_aligns_scale_shift_and_caps_depth():
    depth = np.array([[1.0, 2.0, 4.0], [5.0, 50.0, np.inf]], dtype=np.float32)
    image = np.zeros((2, 3, 3), np.uint8)
    inverse = np.where(np.isfinite(depth), 1.0 / depth, 0.0)
    exact = mixing.evaluate_model(_FixedOutput(3.0 * inverse + 0.2), [image], [depth])
    assert exact["abs_rel"] == pytest.approx(0.0, abs=1e-6) and exact["delta1"] == 1.0 and exact["n_failed"] == 0
    wrong_far = inverse.copy()
    wrong_far[1, 1] = 0.0  # the 50 m pixel predicted at infinity
    full = mixing.evaluate_model(_FixedOutput(wrong_far), [image], [depth])
    capped = mixing.evaluate_model(_FixedOutput(wrong_far), [image], [depth], max_depth_m=10.0)
    assert full["abs_rel"] > 0.01 and capped["abs_rel"] == pytest.approx(0.0, abs=1e-6)
    flat = mixing.evaluate_model(_FixedOutput(np.ones((2, 3))), [image], [depth])
    assert flat["n_failed"] == 1 and math.isnan(flat["abs_rel"])


def test_tiny_run_returns_finite_metrics_for_every_loss(tiny_results):
    names = [r["loss"] for r in tiny_results.rows]
    assert names == ["untrained", "naive_l1", "ssi_mse", "ssi_trim_reg"]
    for row in tiny_results.rows:
        assert set(row) == ROW_KEYS
        for key in ("test_abs_rel", "test_delta1", "motorcycle_abs_rel", "motorcycle_delta1"):
            assert math.isfinite(row[key])
        assert 0.0 <= row["test_delta1"] <= 1.0 and row["test_abs_rel"] >= 0.0
    assert set(tiny_results.history) == set(mixing.LOSSES)
    assert all(len(h) == 3 and all(math.isfinite(v) for v in h) for h in tiny_results.history.values())
    assert tiny_results.config["n_train_total"] == 6 and tiny_results.config["steps"] == 3
    assert set(tiny_results.models) == set(mixing.LOSSES)


def test_every_loss_starts_from_the_same_initial_weights(tiny_results):
    # The untrained row is the shared initial network: rebuilding it from the seed reproduces its metrics.
    torch.manual_seed(TINY["seed"])
    fresh = TinyDepthNet()
    scenes = [mixing.motorcycle_eval_pair(32)]
    m = mixing.evaluate_model(fresh, [scenes[0][0]], [scenes[0][1]])
    assert m["abs_rel"] == pytest.approx(tiny_results.row("untrained")["motorcycle_abs_rel"], rel=1e-6)
    # Training changed the weights, differently for each loss.
    w = {k: next(iter(net.parameters())).detach() for k, net in tiny_results.models.items()}
    assert not torch.equal(w["naive_l1"], w["ssi_mse"]) and not torch.equal(w["ssi_mse"], w["ssi_trim_reg"])


def test_tiny_run_is_deterministic(tiny_results):
    again = mixing.run_experiment(**TINY)
    assert again.history == tiny_results.history
    def strip(rows):
        return [{k: v for k, v in r.items() if k != "train_seconds"} for r in rows]

    assert strip(again.rows) == strip(tiny_results.rows)


def test_results_markdown_table(tiny_results):
    md = mixing.results_to_markdown(tiny_results)
    assert "| loss | what it does | test AbsRel ↓ | test δ1 ↑ | Motorcycle AbsRel ↓ | Motorcycle δ1 ↑ | train s |" in md
    row = tiny_results.row("ssi_mse")
    assert f"| ssi_mse | {mixing.LOSS_DESCRIPTIONS['ssi_mse']} | {row['test_abs_rel']:.3f} |" in md
    assert "seed 5" in md and "6 synthetic training images" in md
    # The JSON form renders identically.
    assert mixing.results_to_markdown(json.loads(json.dumps(tiny_results.to_dict()))) == md
    with pytest.raises(InputError, match="no result for loss"):
        tiny_results.row("adam")


def test_cli_writes_results_files(tmp_path):
    out, docs = tmp_path / "out", tmp_path / "docs"
    code = mixing.main(["--steps", "2", "--n-train", "1", "--n-test", "1", "--size", "32", "--batch-size", "2",
                        "--losses", "ssi_mse", "naive_l1", "--no-motorcycle", "--threads", "1", "--quiet",
                        "--out", str(out), "--docs", str(docs)])
    assert code == 0
    data = json.loads((out / "results.json").read_text())
    assert [r["loss"] for r in data["rows"]] == ["untrained", "ssi_mse", "naive_l1"]
    assert data["config"]["steps"] == 2 and data["config"]["size"] == [32, 32]
    assert (out / "results.md").read_text().startswith("Dataset mixing: 3 synthetic training images")
    assert json.loads((docs / "mixing.json").read_text()) == data
    assert (docs / "mixing.md").read_text() == (out / "results.md").read_text()


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(InputError, match="losses must be a non-empty subset"):
        mixing.run_experiment(steps=1, losses=("l2",), progress=False)
    with pytest.raises(InputError, match="steps must be an integer >= 1"):
        mixing.run_experiment(steps=0, progress=False)
    with pytest.raises(InputError, match="width must be an integer between 8 and 741"):
        mixing.motorcycle_eval_pair(4)
    with pytest.raises(InputError, match="results must be a MixingResults"):
        mixing.results_to_markdown({"rows": []})


# ------------------------------------------------------------------------------------------ Pareto mixing
def test_min_norm_weights_two_gradients_match_the_closed_form():
    rng = np.random.default_rng(0)
    for _ in range(20):
        g1, g2 = rng.normal(size=5), rng.normal(size=5)
        gram = np.array([[g1 @ g1, g1 @ g2], [g1 @ g2, g2 @ g2]])
        closed = np.clip((g2 - g1) @ g2 / ((g1 - g2) @ (g1 - g2)), 0.0, 1.0)  # weight of g1
        np.testing.assert_allclose(mixing.min_norm_weights(gram), [closed, 1.0 - closed], atol=1e-10)


def test_min_norm_weights_special_cases():
    np.testing.assert_allclose(mixing.min_norm_weights(np.eye(2)), [0.5, 0.5])  # orthogonal, equal norms
    g = np.array([1.0, 2.0])  # g2 = 3 g1: same direction, so all weight on the shorter one
    np.testing.assert_allclose(mixing.min_norm_weights(np.outer([1, 3], [1, 3]) * (g @ g)), [1.0, 0.0])
    # Opposite gradients: the origin is in the hull, the min-norm point is 0 (Pareto-stationary).
    w = mixing.min_norm_weights(np.array([[1.0, -2.0], [-2.0, 4.0]]))
    np.testing.assert_allclose(w, [2 / 3, 1 / 3])
    np.testing.assert_allclose(mixing.min_norm_weights([[4.0]]), [1.0])


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(2, 4), dim=st.integers(1, 6))
def test_min_norm_weights_are_optimal_and_give_a_common_descent_direction(seed, k, dim):
    grads = np.random.default_rng(seed).normal(size=(k, dim))
    gram = grads @ grads.T
    alpha = mixing.min_norm_weights(gram)
    assert alpha.min() >= 0.0 and alpha.sum() == pytest.approx(1.0)
    d = alpha @ grads
    # Optimality on the simplex (KKT): every gradient has d . g_k >= |d|^2, with equality where alpha_k > 0.
    assert np.all(grads @ d >= d @ d - 1e-9)
    np.testing.assert_allclose((grads @ d)[alpha > 1e-9], d @ d, atol=1e-8)
    # No random point of the simplex has a smaller norm.
    trial = np.random.default_rng(seed + 1).dirichlet(np.ones(k), size=2000)
    assert np.min(np.einsum("ij,jk,ik->i", trial, gram, trial)) >= d @ d - 1e-12


def test_min_norm_weights_rejects_bad_matrices():
    with pytest.raises(InputError, match=r"gram must be a square \(K, K\) matrix"):
        mixing.min_norm_weights(np.ones((2, 3)))
    with pytest.raises(InputError, match="gram contains NaN or inf"):
        mixing.min_norm_weights(np.array([[1.0, np.nan], [np.nan, 1.0]]))


def test_pareto_backward_sets_the_min_norm_combination_of_per_dataset_gradients():
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(3))
    x = torch.randn(4, 3)
    pred = x @ w
    loss_fn = lambda p, t, m: ((p - t) ** 2).mean()  # noqa: E731
    target = torch.tensor([1.0, 2.0, -1.0, 0.5])
    groups = [torch.tensor([0, 1]), torch.tensor([2, 3])]
    mask = torch.ones(4, dtype=torch.bool)
    alpha = mixing._pareto_backward([w], loss_fn, pred, target, mask, groups)
    g = [torch.autograd.grad(loss_fn(pred[i], target[i], mask[i]), w, retain_graph=True)[0] for i in groups]
    expected = mixing.min_norm_weights(np.array([[float(a @ b) for b in g] for a in g]))
    np.testing.assert_allclose(alpha, expected)
    torch.testing.assert_close(w.grad, float(alpha[0]) * g[0] + float(alpha[1]) * g[1])


def test_tiny_pareto_run_trains_a_separate_network_from_the_same_start():
    res = mixing.run_experiment(**(TINY | {"losses": ("ssi_trim_reg",), "pareto_losses": ("ssi_trim_reg",),
                                           "motorcycle_width": None}))
    assert [r["loss"] for r in res.rows] == ["untrained", "ssi_trim_reg", "ssi_trim_reg_pareto"]
    assert "Pareto-optimal mixing" in res.row("ssi_trim_reg_pareto")["description"]
    assert res.config["pareto_losses"] == ["ssi_trim_reg"]
    naive, pareto = res.history["ssi_trim_reg"], res.history["ssi_trim_reg_pareto"]
    assert naive[0] == pytest.approx(pareto[0])  # same weights and batch at step 0: same batch loss
    assert naive[1:] != pareto[1:]  # different updates afterwards
    md = mixing.results_to_markdown(res)
    assert "| ssi_trim_reg_pareto |" in md and "Pareto-optimal mixing (MGDA, Eq. 13)" in md
    assert "--losses ssi_trim_reg" in md and "--pareto" not in md  # the CLI default trains it both ways
    ax = mixing.plot_history(res, smooth=2)
    assert [line.get_label() for line in ax.get_lines()] == ["ssi_trim_reg", "ssi_trim_reg_pareto"]
    assert len(ax.get_lines()[0].get_xdata()) == TINY["steps"] - 1
    with pytest.raises(InputError, match="pareto_losses must be a subset"):
        mixing.run_experiment(steps=1, pareto_losses=("mgda",), progress=False)


def test_configs_compare_naive_and_pareto_mixing_of_the_midas_loss():
    assert mixing.FULL_CONFIG["pareto_losses"] == ("ssi_trim_reg",)
    assert mixing.QUICK_CONFIG["pareto_losses"] == ("ssi_trim_reg",)
