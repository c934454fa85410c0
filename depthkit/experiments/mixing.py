"""The dataset-mixing experiment: why MiDaS trains with scale- and shift-invariant losses and Pareto mixing.

Three synthetic datasets (:func:`depthkit.synthetic.mixed_datasets`) show the same kind of scenes but annotate
them incompatibly, like the three kinds of ground truth in Ranftl et al., TPAMI 2020, arXiv:1907.01341 (Sec. 5,
Table 1): (A) metric depth in metres (calibrated sensors), (B) depth up to an unknown scale per image (structure
from motion), (C) disparity up to an unknown scale and shift per image (uncalibrated stereo). The same small
network (:class:`~depthkit.experiments.tiny_net.TinyDepthNet`) is trained on the mixture several times - same
pre-rendered data, same initial weights, same batches, same number of steps; only the loss or the mixing differs:

* ``naive_l1`` - L1 between the prediction and each target taken literally in disparity space (1/m for A,
  1/(a_i m) for B, px for C): the annotations contradict each other.
* ``ssi_mse`` - :func:`depthkit.losses.ssi_mse_loss`, least-squares scale and shift alignment per image.
* ``ssi_trim_reg`` - :func:`depthkit.losses.midas_loss`, L_ssitrim + 0.5 L_reg (the MiDaS loss).

Two ways of mixing the datasets (the paper's Sec. 6):

* **naive mixing** (every run above): uniform batches over the union of the datasets, one gradient of the batch
  loss per step;
* **Pareto-optimal mixing** (``pareto_losses``, rows named ``<loss>_pareto``; :data:`FULL_CONFIG` and
  :data:`QUICK_CONFIG` train ``ssi_trim_reg`` both ways, :func:`run_experiment` by default naively only): Eq. 13,
  ``min_theta (L_1(theta), ..., L_L(theta))``, one objective per dataset. Each step computes the gradient of
  every dataset's loss on its images of the same batch and steps along the min-norm point of their convex hull
  (:func:`min_norm_weights`, the multiple-gradient descent algorithm MGDA as used by Sener & Koltun, NeurIPS
  2018): to first order that step lowers every dataset's loss, or, where none can be lowered without raising
  another, it is zero (a Pareto-stationary point). Naive mixing instead follows the sum, where the dataset with
  the largest gradients dominates.

Each trained network is evaluated on held-out synthetic scenes and on the Middlebury "Motorcycle" stereo scene
(:func:`depthkit.samples.motorcycle`) with :func:`depthkit.metrics.evaluate` (``align="disparity"``: every
prediction gets its own least-squares scale and shift, so only the *shape* of the prediction is judged).

Run the full configuration from a shell (writes results.json and results.md)::

    python -m depthkit.experiments.mixing --out results/mixing

or a quick one from a notebook::

    from depthkit.experiments import mixing
    results = mixing.run_experiment(**mixing.QUICK_CONFIG)
    print(mixing.results_to_markdown(results))
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import checks
from ..errors import InputError

if TYPE_CHECKING:
    import torch

    from ..synthetic import AnnotatedSample

__all__ = [
    "FULL_CONFIG",
    "LOSSES",
    "LOSS_DESCRIPTIONS",
    "QUICK_CONFIG",
    "MixingResults",
    "evaluate_model",
    "main",
    "min_norm_weights",
    "motorcycle_eval_pair",
    "naive_l1_loss",
    "plot_history",
    "predict",
    "prepare_training_data",
    "results_to_markdown",
    "run_experiment",
    "write_results",
]

LOSSES = ("naive_l1", "ssi_mse", "ssi_trim_reg")
LOSS_DESCRIPTIONS = {
    "untrained": "initial weights, no training (reference)",
    "naive_l1": "L1 on the raw targets, scale and shift taken literally",
    "ssi_mse": "scale-and-shift-invariant MSE (L_ssimse)",
    "ssi_trim_reg": "MiDaS loss: L_ssitrim + 0.5 L_reg",
}
#: Suffix of the run label of a loss trained with Pareto-optimal mixing, e.g. ``"ssi_trim_reg_pareto"``.
PARETO_SUFFIX = "_pareto"
_PARETO_DESCRIPTION = ", Pareto-optimal mixing (min-norm of per-dataset gradients, Eq. 13)"

#: The configuration whose table is committed in docs/results/mixing.md (about a quarter of an hour on 2 cores).
FULL_CONFIG = {
    "steps": 600, "n_train": 96, "n_test": 48, "size": (64, 64), "batch_size": 8, "lr": 2e-3, "seed": 0,
    "pareto_losses": ("ssi_trim_reg",),
}
#: A configuration that trains every network in about a minute (for notebooks and demos).
QUICK_CONFIG = {
    "steps": 60, "n_train": 24, "n_test": 12, "size": (64, 64), "batch_size": 4, "lr": 3e-3, "seed": 0,
    "pareto_losses": ("ssi_trim_reg",),
}


def _description(label: str) -> str:
    """The table description of a run label (a loss name, optionally with the Pareto suffix)."""
    if label.endswith(PARETO_SUFFIX):
        return LOSS_DESCRIPTIONS[label[: -len(PARETO_SUFFIX)]] + _PARETO_DESCRIPTION
    return LOSS_DESCRIPTIONS[label]


@dataclass
class MixingResults:
    """Outcome of :func:`run_experiment`.

    Attributes:
        config: the settings of the run (steps, n_train, size, seed, ...), JSON-serialisable.
        rows: one dict per run with keys ``loss`` (the run label: a loss name, or ``<loss>_pareto`` for
            Pareto-optimal mixing), ``description``, ``test_abs_rel``, ``test_delta1``, ``motorcycle_abs_rel``,
            ``motorcycle_delta1``, ``train_seconds``, ``n_failed``; metrics are means over images after per-image
            disparity alignment. ``untrained`` (if requested) is the initial network.
        history: run label -> list of training-loss values on the whole batch, one per step (each in its loss's
            own units; for Pareto runs too, so naive and Pareto curves of one loss are comparable).
        models: run label -> the trained :class:`~depthkit.experiments.tiny_net.TinyDepthNet` (not serialised).
    """

    config: dict
    rows: list
    history: dict = field(default_factory=dict)
    models: dict = field(default_factory=dict, repr=False)

    def row(self, loss: str) -> dict:
        """The result row of one run label (e.g. ``"ssi_mse"`` or ``"ssi_trim_reg_pareto"``)."""
        for r in self.rows:
            if r["loss"] == loss:
                return r
        raise InputError(f"no result for loss {loss!r}; available: {[r['loss'] for r in self.rows]}.")

    def to_dict(self) -> dict:
        """JSON-serialisable dict with ``config``, ``rows`` and ``history`` (models are left out)."""
        return {"config": self.config, "rows": self.rows, "history": self.history}


# --------------------------------------------------------------------------------------------------------------
# Losses and data
# --------------------------------------------------------------------------------------------------------------
def naive_l1_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over valid pixels, taken literally: no alignment of scale or shift.

    Args:
        pred: (B, H, W) float tensor, predicted inverse depth.
        target: (B, H, W) float tensor in the target's own units (invalid pixels may hold anything finite).
        mask: (B, H, W) bool tensor, True where ``target`` is valid.

    Returns:
        Scalar tensor: per-image mean |pred - target| over valid pixels, averaged over images with any valid pixel.

    Example:
        >>> import torch
        >>> p, t = torch.zeros(1, 2, 2), torch.tensor([[[1.0, 3.0], [5.0, 100.0]]])
        >>> float(naive_l1_loss(p, t, torch.tensor([[[True, True], [True, False]]])))
        3.0
    """
    import torch

    m = mask.to(pred.dtype)
    count = m.sum(dim=(-2, -1))
    per_image = (torch.abs(pred - torch.where(mask, target, pred)) * m).sum(dim=(-2, -1)) / count.clamp_min(1)
    has = count > 0
    if not bool(has.any()):
        return (pred * 0).sum()
    return per_image[has].mean()


def _loss_fn(name: str):
    from .. import losses

    if name == "naive_l1":
        return naive_l1_loss
    if name == "ssi_mse":
        return losses.ssi_mse_loss
    if name == "ssi_trim_reg":
        return lambda p, t, m: losses.midas_loss(p, t, m, alpha=0.5)
    raise InputError(f"unknown loss {name!r}; choose from {LOSSES}.")


def prepare_training_data(items: Sequence[AnnotatedSample]) -> dict:
    """Stack :class:`~depthkit.synthetic.AnnotatedSample` items into tensors, targets in disparity space.

    Args:
        items: list of AnnotatedSample of one size (from :func:`depthkit.synthetic.mixed_datasets`).

    Returns:
        Dict of tensors: ``image`` (N, 3, H, W) float32 RGB in [0, 1]; ``target`` (N, H, W) float32 in
        disparity space (1/m for A, the dataset's own disparity units for B and C; 0 where invalid); ``mask``
        (N, H, W) bool; and ``dataset`` (list of "A"/"B"/"C").
    """
    import torch

    from ..synthetic import to_disparity_space

    if not items:
        raise InputError("items is empty; pass the list returned by depthkit.synthetic.mixed_datasets.")
    targets, masks = zip(*(to_disparity_space(s.target, s.mask, s.kind) for s in items), strict=True)
    images = np.stack([s.image for s in items]).astype(np.float32) / 255.0
    return {
        "image": torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(),
        "target": torch.from_numpy(np.stack(targets)),
        "mask": torch.from_numpy(np.stack(masks)),
        "dataset": [s.dataset for s in items],
    }


def _to_tensor_image(image: np.ndarray):
    import torch

    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise InputError(f"image must be an (H, W, 3) RGB array, got shape {image.shape}.")
    scale = 255.0 if image.dtype == np.uint8 else 1.0
    return torch.from_numpy(image.astype(np.float32) / scale).permute(2, 0, 1)[None].contiguous()


def predict(model: torch.nn.Module, image: np.ndarray) -> np.ndarray:
    """Run a trained network on one image.

    Args:
        model: a :class:`~depthkit.experiments.tiny_net.TinyDepthNet` (or any module with the same interface).
        image: (H, W, 3) uint8 RGB (or float in [0, 1]).

    Returns:
        (H, W) float32 relative inverse depth (larger = nearer).
    """
    import torch

    model.eval()
    with torch.no_grad():
        return model(_to_tensor_image(image))[0].numpy().astype(np.float32)


def motorcycle_eval_pair(width: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """The Middlebury Motorcycle left view and its metric depth, resized to ``width`` px.

    The image is resized with area averaging; the depth with nearest-neighbour sampling, so unknown pixels
    stay ``+inf`` and no depth is invented across object boundaries.

    Args:
        width: output width in px (the height keeps the 741 x 500 aspect ratio).

    Returns:
        ``(image, depth_m)``: (h, width, 3) uint8 RGB and (h, width) float32 metres (``+inf`` unknown).
    """
    import cv2

    from ..samples import motorcycle

    width = checks.check_int(width, "width", minimum=8, maximum=741, hint="the width is in px")
    stereo = motorcycle()
    h0, w0 = stereo.shape
    height = max(8, round(h0 * width / w0))
    image = cv2.resize(stereo.left, (width, height), interpolation=cv2.INTER_AREA)
    depth = cv2.resize(stereo.depth_m, (width, height), interpolation=cv2.INTER_NEAREST)
    return image, depth.astype(np.float32)


def evaluate_model(
    model: torch.nn.Module,
    images: Sequence[np.ndarray],
    depths: Sequence[np.ndarray],
    max_depth_m: float | None = None,
) -> dict:
    """Mean AbsRel and delta1 of ``model`` over images, each aligned to its ground truth in disparity space.

    Args:
        model: the network.
        images: sequence of (H, W, 3) uint8 RGB images.
        depths: sequence of (H, W) float32 ground-truth depths in metres (``+inf`` / 0 / NaN invalid).
        max_depth_m: evaluate only pixels whose true depth is at most this many metres (like the 80 m cap of
            KITTI evaluations); ``None`` evaluates every valid pixel. Near the horizon a tiny disparity error
            becomes an enormous depth error, so an uncapped AbsRel is dominated by a few far pixels.

    Returns:
        Dict with ``abs_rel`` and ``delta1`` (means over the images that could be evaluated) and ``n_failed``
        (images whose prediction could not be aligned, e.g. constant).
    """
    from ..metrics import evaluate

    abs_rel, delta1, failed = [], [], 0
    for image, depth in zip(images, depths, strict=True):
        pred = predict(model, image)
        mask = None
        if max_depth_m is not None:
            with np.errstate(invalid="ignore"):
                mask = np.asarray(depth) <= max_depth_m
        try:
            m = evaluate(pred, depth, mask=mask, align="disparity")
        except InputError:
            failed += 1
            continue
        abs_rel.append(m["abs_rel"])
        delta1.append(m["delta1"])
    def mean(values):
        return float(np.mean(values)) if values else float("nan")

    return {"abs_rel": mean(abs_rel), "delta1": mean(delta1), "n_failed": failed}


def _batch_schedule(n_items: int, steps: int, batch_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (steps, batch) drawn epoch by epoch without replacement, and horizontal-flip flags."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 7]))
    need = steps * batch_size
    order = np.concatenate([rng.permutation(n_items) for _ in range(math.ceil(need / n_items))])[:need]
    flips = rng.random((steps, batch_size)) < 0.5
    return order.reshape(steps, batch_size), flips


class _Adam:
    """Plain Adam (Kingma & Ba, 2015) with bias correction, updating parameters in place.

    Equivalent to ``torch.optim.Adam`` without weight decay or amsgrad. It exists because the first use of any
    ``torch.optim`` optimizer imports ``torch._dynamo``, which costs several seconds of a notebook's time
    budget on a small CPU.
    """

    def __init__(self, params, lr: float, betas=(0.9, 0.999), eps: float = 1e-8):
        import torch

        self.params = [p for p in params if p.requires_grad]
        self.lr, (self.b1, self.b2), self.eps = lr, betas, eps
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]
        self.t = 0

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self, lr: float):
        import torch

        self.t += 1
        c1, c2 = 1.0 - self.b1**self.t, 1.0 - self.b2**self.t
        with torch.no_grad():
            for p, m, v in zip(self.params, self.m, self.v, strict=True):
                if p.grad is None:
                    continue
                m.mul_(self.b1).add_(p.grad, alpha=1.0 - self.b1)
                v.mul_(self.b2).addcmul_(p.grad, p.grad, value=1.0 - self.b2)
                denom = (v / c2).sqrt_().add_(self.eps)
                p.addcdiv_(m, denom, value=-lr / c1)


# --------------------------------------------------------------------------------------------------------------
# Pareto-optimal mixing: the min-norm point of the convex hull of the per-dataset gradients (MGDA)
# --------------------------------------------------------------------------------------------------------------
def min_norm_weights(gram: Any) -> np.ndarray:
    """Convex weights ``alpha`` minimising ``|sum_k alpha_k g_k|^2`` over the simplex, from the Gram matrix.

    This is the subproblem of the multiple-gradient descent algorithm (MGDA; Sener & Koltun, NeurIPS 2018)
    with which the MiDaS paper (arXiv:1907.01341, Eq. 13) mixes datasets Pareto-optimally: the min-norm
    point ``d = sum_k alpha_k g_k`` of the convex hull of the per-dataset gradients ``g_k`` satisfies
    ``d . g_k >= |d|^2`` for every k, so stepping along ``-d`` decreases every dataset's loss to first order
    (or ``d = 0``: a Pareto-stationary point). It is solved exactly: the optimum lies in the relative interior
    of one face of the simplex, where ``G_S alpha_S = lambda 1`` and ``sum alpha_S = 1``; every face is tried
    (K <= 12) and the feasible solution of least norm is kept. For K = 2 this is the closed form
    ``alpha_1 = clip((g_2 - g_1) . g_2 / |g_1 - g_2|^2, 0, 1)``.

    Args:
        gram: (K, K) symmetric positive semi-definite matrix ``G[i, j] = g_i . g_j`` (any units).

    Returns:
        (K,) float64 weights, non-negative, summing to 1.

    Raises:
        InputError: not a finite square matrix, or K outside 1..12.

    Example:
        >>> min_norm_weights(np.array([[1.0, 0.0], [0.0, 4.0]])).round(3).tolist()  # g1 = (1, 0), g2 = (0, 2)
        [0.8, 0.2]
    """
    g = checks.check_finite(checks.as_array(gram, "gram"), "gram", hint="check the gradients")
    if g.ndim != 2 or g.shape[0] != g.shape[1] or not 1 <= g.shape[0] <= 12:
        raise InputError(f"gram must be a square (K, K) matrix with 1 <= K <= 12, got shape {g.shape}.")
    g = 0.5 * (g + g.T)
    k = g.shape[0]
    best, best_value = np.eye(k)[int(np.argmin(np.diag(g)))], float(np.min(np.diag(g)))
    for size in range(2, k + 1):
        for face in itertools.combinations(range(k), size):
            idx = list(face)
            kkt = np.zeros((size + 1, size + 1))
            kkt[:size, :size], kkt[:size, size], kkt[size, :size] = g[np.ix_(idx, idx)], -1.0, 1.0
            rhs = np.zeros(size + 1)
            rhs[size] = 1.0
            full = np.linalg.lstsq(kkt, rhs, rcond=None)[0]
            solution = full[:size]
            if solution.min() < -1e-12 or not np.allclose(kkt @ full, rhs, atol=1e-9 * max(1.0, np.abs(g).max())):
                continue  # outside the simplex, or no exact solution on this face
            alpha = np.zeros(k)
            alpha[idx] = np.clip(solution, 0.0, None)
            alpha /= alpha.sum()
            value = float(alpha @ g @ alpha)
            if value < best_value - 1e-15 * max(1.0, abs(best_value)):
                best, best_value = alpha, value
    return best


def _flat_gradient(loss, params) -> Any:
    import torch

    grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
    flat = [(torch.zeros_like(p) if gr is None else gr).reshape(-1) for p, gr in zip(params, grads, strict=True)]
    return torch.cat(flat)


def _pareto_backward(params, loss_fn, pred, target, mask, groups) -> np.ndarray:
    """Set ``p.grad`` to the min-norm combination of the per-dataset gradients; returns the weights (K,)."""
    import torch

    grads = torch.stack([_flat_gradient(loss_fn(pred[g], target[g], mask[g]), params) for g in groups])
    alpha = min_norm_weights((grads @ grads.T).double().numpy())
    combined = torch.as_tensor(alpha, dtype=grads.dtype) @ grads
    offset = 0
    for p in params:
        p.grad = combined[offset : offset + p.numel()].view_as(p).clone()
        offset += p.numel()
    return alpha


def _dataset_groups(names: Sequence[str]) -> list:
    """Index tensors of the batch positions of each dataset present in the batch, in A, B, C order."""
    import torch

    return [torch.tensor([i for i, n in enumerate(names) if n == d]) for d in sorted(set(names))]


# --------------------------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------------------------
def _augmented_batch(data: dict, idx: np.ndarray, flip: np.ndarray):
    """(image, target, mask) of the batch ``idx``, each item flipped horizontally where ``flip`` is True."""
    import torch

    idx_t = torch.from_numpy(idx)
    image, target, mask = data["image"][idx_t], data["target"][idx_t], data["mask"][idx_t]
    if flip.any():
        f = torch.from_numpy(flip)
        image = torch.where(f[:, None, None, None], image.flip(-1), image)
        target = torch.where(f[:, None, None], target.flip(-1), target)
        mask = torch.where(f[:, None, None], mask.flip(-1), mask)
    return image, target, mask


def _train_one(model, data, loss_name, schedule, flips, lr, progress, label, pareto=False):
    """Train ``model`` in place on the given batch schedule; returns (loss history, seconds)."""
    loss_fn = _loss_fn(loss_name)
    opt = _Adam(model.parameters(), lr=lr)
    steps, history = len(schedule), []
    model.train()
    start = time.perf_counter()
    report_every = max(1, steps // 5)
    for step, (idx, flip) in enumerate(zip(schedule, flips, strict=True)):
        image, target, mask = _augmented_batch(data, idx, flip)
        pred = model(image)
        loss = loss_fn(pred, target, mask)
        opt.zero_grad()
        if pareto:
            groups = _dataset_groups([data["dataset"][i] for i in idx])
            _pareto_backward(opt.params, loss_fn, pred, target, mask, groups)
        else:
            loss.backward()
        opt.step(lr * 0.5 * (1.0 + math.cos(math.pi * step / steps)))  # cosine decay
        history.append(float(loss.detach()))
        if progress and ((step + 1) % report_every == 0 or step + 1 == steps):
            print(f"[{label}] step {step + 1}/{steps}  loss {history[-1]:.4g}  ({time.perf_counter() - start:.1f} s)",
                  file=sys.stderr, flush=True)
    model.eval()
    return history, time.perf_counter() - start


def _check_run_args(steps, n_train, n_test, batch_size, seed, losses, pareto_losses, lr, eval_max_depth_m) -> dict:
    """Validated run settings as a dict (ints, tuples of known loss names)."""
    args = {name: checks.check_int(value, name, minimum=1) for name, value in
            (("steps", steps), ("n_train", n_train), ("n_test", n_test), ("batch_size", batch_size))}
    args["seed"] = checks.check_int(seed, "seed", minimum=0)
    losses, pareto_losses = tuple(losses), tuple(pareto_losses)
    if [n for n in losses if n not in LOSSES] or not losses:
        raise InputError(f"losses must be a non-empty subset of {LOSSES}, got {losses!r}.")
    if [n for n in pareto_losses if n not in LOSSES]:
        raise InputError(f"pareto_losses must be a subset of {LOSSES}, got {pareto_losses!r}.")
    if not (isinstance(lr, (int, float)) and 0 < lr < 1):
        raise InputError(f"lr must be a number between 0 and 1, got {lr!r}.")
    if eval_max_depth_m is not None and not (isinstance(eval_max_depth_m, (int, float)) and eval_max_depth_m > 0):
        raise InputError(f"eval_max_depth_m must be a positive number of metres or None, got {eval_max_depth_m!r}.")
    args["losses"] = losses
    args["pareto_losses"] = tuple(n for n in pareto_losses if n in losses)
    return args


def _render_data(n_train, n_test, size, seed, textures, motorcycle_width) -> dict:
    """Training tensors, held-out test images and depths, and the Motorcycle pair, rendered once per run."""
    from ..synthetic import TextureSet, mixed_datasets

    textures = textures if isinstance(textures, TextureSet) else TextureSet(textures)
    items = mixed_datasets(n_train, size, seed, textures=textures)
    # Held-out scenes: a separate seed stream; only the images and the exact depth are used.
    test_scenes = mixed_datasets(n_test, size, seed, textures=textures, datasets=("A",), stream=1)
    return {
        "train": prepare_training_data(items),
        "n_items": len(items),
        "test_images": [s.image for s in test_scenes],
        "test_depths": [s.depth_m for s in test_scenes],
        "motorcycle": motorcycle_eval_pair(motorcycle_width) if motorcycle_width else None,
    }


def _result_row(label: str, net, rendered: dict, seconds: float, eval_max_depth_m) -> dict:
    """One table row: the metrics of ``net`` on the synthetic test set and (if rendered) the Motorcycle."""
    test = evaluate_model(net, rendered["test_images"], rendered["test_depths"], eval_max_depth_m)
    row = {"loss": label, "description": _description(label), "test_abs_rel": test["abs_rel"],
           "test_delta1": test["delta1"]}
    if rendered["motorcycle"] is not None:
        image, depth = rendered["motorcycle"]
        m = evaluate_model(net, [image], [depth])
        row.update(motorcycle_abs_rel=m["abs_rel"], motorcycle_delta1=m["delta1"])
    row["train_seconds"] = round(seconds, 2)
    row["n_failed"] = test["n_failed"]
    return row


def _train_all(args: dict, rendered: dict, lr: float, progress: bool, eval_max_depth_m) -> tuple:
    """Train one network per run (losses with naive mixing, then pareto_losses).

    Returns:
        ``(rows, history, models, parameter_count)``.
    """
    import torch

    from .tiny_net import TinyDepthNet, count_parameters

    torch.manual_seed(args["seed"])
    model = TinyDepthNet()
    init_state = {k: v.clone() for k, v in model.state_dict().items()}
    schedule, flips = _batch_schedule(rendered["n_items"], args["steps"], args["batch_size"], args["seed"])
    rows, history, models = [], {}, {}
    if args["include_untrained"]:
        rows.append(_result_row("untrained", model, rendered, 0.0, eval_max_depth_m))
    runs = [(n, False) for n in args["losses"]] + [(n, True) for n in args["pareto_losses"]]
    for name, pareto in runs:
        label = name + PARETO_SUFFIX if pareto else name
        net = TinyDepthNet()
        net.load_state_dict(init_state)
        torch.manual_seed(args["seed"])
        hist, seconds = _train_one(net, rendered["train"], name, schedule, flips, lr, progress, label, pareto)
        history[label], models[label] = hist, net
        rows.append(_result_row(label, net, rendered, seconds, eval_max_depth_m))
    return rows, history, models, count_parameters(model)


def _run_config(args: dict, n_items: int, parameters: int, seconds: tuple[float, float]) -> dict:
    """The JSON-serialisable description of a run: settings, versions and timings (seconds)."""
    import torch

    return {
        "steps": args["steps"],
        "n_train_per_dataset": args["n_train"],
        "n_train_total": n_items,
        "n_test": args["n_test"],
        "size": list(args["size"]),
        "batch_size": args["batch_size"],
        "lr": args["lr"],
        "seed": args["seed"],
        "losses": list(args["losses"]),
        "pareto_losses": list(args["pareto_losses"]),
        "motorcycle_width": args["motorcycle_width"],
        "eval_max_depth_m": args["eval_max_depth_m"],
        "parameters": parameters,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "render_seconds": round(seconds[0], 2),
        "total_seconds": round(seconds[1], 2),
    }


def run_experiment(
    steps: int = FULL_CONFIG["steps"],
    n_train: int = FULL_CONFIG["n_train"],
    size: int | tuple[int, int] = FULL_CONFIG["size"],
    seed: int = FULL_CONFIG["seed"],
    losses: Sequence[str] = LOSSES,
    progress: bool = True,
    *,
    n_test: int = FULL_CONFIG["n_test"],
    batch_size: int = FULL_CONFIG["batch_size"],
    lr: float = FULL_CONFIG["lr"],
    motorcycle_width: int | None = 128,
    include_untrained: bool = True,
    threads: int | None = 1,
    textures: Any = None,
    eval_max_depth_m: float | None = 30.0,
    pareto_losses: Sequence[str] = (),
) -> MixingResults:
    """Train the same network on the mixed datasets once per loss (and mixing) and evaluate each after alignment.

    The scenes are rendered once; every run starts from the same initial weights (``torch.manual_seed(seed)``)
    and sees the same batches in the same order, so only the loss or the mixing differs.

    Args:
        steps: optimisation steps per run.
        n_train: training images *per dataset* (the mixture has 3 * n_train images).
        size: (height, width) of the synthetic images in px.
        seed: seed of the data, the initial weights and the batch order.
        losses: subset of ``("naive_l1", "ssi_mse", "ssi_trim_reg")``, each trained with naive mixing.
        progress: print a few progress lines to stderr.
        n_test: held-out synthetic test scenes (rendered from a separate seed stream).
        batch_size: images per step.
        lr: Adam learning rate (cosine-decayed to 0 over ``steps``).
        motorcycle_width: evaluate on the Middlebury Motorcycle resized to this width in px; ``None`` skips it.
        include_untrained: add an ``untrained`` reference row (the initial network).
        threads: torch CPU threads during the run (restored afterwards); ``None`` leaves the setting alone. 1 is
            deliberate: 64 px batches gain little from a second thread, and on shared cores lose a lot.
        textures: textures for the synthetic scenes (``None`` = the sample photos).
        eval_max_depth_m: evaluate synthetic test pixels at most this far (metres; ``None`` = all valid pixels);
            the Motorcycle scene (2-5 m) is always evaluated in full.
        pareto_losses: losses of ``losses`` to train again with Pareto-optimal mixing (rows ``<loss>_pareto``).

    Returns:
        :class:`MixingResults` (``rows``, ``history``, ``models``, ``config``).
    """
    from ..runtime import num_threads

    args = _check_run_args(steps, n_train, n_test, batch_size, seed, losses, pareto_losses, lr, eval_max_depth_m)
    args.update(include_untrained=include_untrained, size=checks.as_size(size), lr=lr,
                motorcycle_width=motorcycle_width, eval_max_depth_m=eval_max_depth_m)
    with num_threads(threads):
        t0 = time.perf_counter()
        rendered = _render_data(args["n_train"], args["n_test"], args["size"], args["seed"], textures, motorcycle_width)
        render_seconds = time.perf_counter() - t0
        if progress:
            print(f"rendered {rendered['n_items']} training and {args['n_test']} test scenes in "
                  f"{render_seconds:.1f} s", file=sys.stderr, flush=True)
        rows, history, models, parameters = _train_all(args, rendered, lr, progress, eval_max_depth_m)
        config = _run_config(args, rendered["n_items"], parameters, (render_seconds, time.perf_counter() - t0))
    return MixingResults(config=config, rows=rows, history=history, models=models)


# --------------------------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------------------------
def _fmt(v, digits=3):
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def _description_lines(c: dict, has_moto: bool) -> list[str]:
    pareto = c.get("pareto_losses") or []
    mixing = (f"; rows ending in {PARETO_SUFFIX} use Pareto-optimal mixing (MGDA, Eq. 13), the others naive "
              "uniform batches" if pareto else "; naive mixing (uniform batches over the union)")
    return [
        (
            f"Dataset mixing: {c['n_train_total']} synthetic training images ({c['n_train_per_dataset']} per "
            f"dataset A/B/C), {c['size'][0]}x{c['size'][1]} px, {c['steps']} steps, batch {c['batch_size']}, Adam "
            f"lr {c['lr']} (cosine), seed {c['seed']}, TinyDepthNet {c['parameters']:,} parameters, torch "
            f"{c['torch']}, {c['threads']} threads, {c['total_seconds']:.0f} s in total."
        ),
        "",
        (
            "Metrics after per-image least-squares scale and shift alignment in disparity space "
            "(depthkit.metrics.evaluate, align='disparity'), averaged over images; synthetic test set = "
            f"{c['n_test']} held-out scenes"
            + (f" (pixels up to {c['eval_max_depth_m']:g} m)" if c.get("eval_max_depth_m") else "")
            + (f"; Motorcycle = Middlebury 2014 left view at {c['motorcycle_width']} px wide" if has_moto else "")
            + mixing + "."
        ),
        "",
    ]


def _table_lines(rows: list, has_moto: bool) -> list[str]:
    header = "| loss | what it does | test AbsRel ↓ | test δ1 ↑ |"
    sep = "|---|---|---:|---:|"
    if has_moto:
        header += " Motorcycle AbsRel ↓ | Motorcycle δ1 ↑ |"
        sep += "---:|---:|"
    lines = [header + " train s |", sep + "---:|"]
    for r in rows:
        line = f"| {r['loss']} | {r['description']} | {_fmt(r['test_abs_rel'])} | {_fmt(r['test_delta1'])} |"
        if has_moto:
            line += f" {_fmt(r.get('motorcycle_abs_rel'))} | {_fmt(r.get('motorcycle_delta1'))} |"
        lines.append(line + f" {r['train_seconds']:.1f} |")
    return lines


def _reproduce_command(c: dict, has_moto: bool) -> str:
    size = c["size"]
    command = (
        f"python -m depthkit.experiments.mixing --steps {c['steps']} --n-train {c['n_train_per_dataset']} "
        f"--n-test {c['n_test']} --size {size[0]} {size[1]} --batch-size {c['batch_size']} --lr {c['lr']} "
        f"--seed {c['seed']} --threads {c['threads']}"
    )
    losses = list(c.get("losses", LOSSES))
    if losses != list(LOSSES):
        command += " --losses " + " ".join(losses)
    pareto = list(c.get("pareto_losses", []))
    if pareto != [n for n in FULL_CONFIG["pareto_losses"] if n in losses]:
        command += " --pareto" + "".join(f" {n}" for n in pareto)
    if c.get("eval_max_depth_m") != 30.0:
        command += f" --eval-max-depth {c.get('eval_max_depth_m') or 0:g}"
    if not has_moto:
        command += " --no-motorcycle"
    return command


def results_to_markdown(results: MixingResults | dict) -> str:
    """A markdown table of the results (one row per run) with lines describing the configuration.

    Args:
        results: a :class:`MixingResults` or its ``to_dict()`` form (e.g. loaded from results.json).

    Returns:
        Markdown text.
    """
    if isinstance(results, MixingResults):
        results = results.to_dict()
    if not isinstance(results, dict) or "rows" not in results or "config" not in results:
        raise InputError("results must be a MixingResults or a dict with 'config' and 'rows' (from results.json).")
    c = results["config"]
    has_moto = any("motorcycle_abs_rel" in r for r in results["rows"])
    lines = _description_lines(c, has_moto) + _table_lines(results["rows"], has_moto)
    lines += ["", f"Reproduce: `{_reproduce_command(c, has_moto)}`"]
    return "\n".join(lines) + "\n"


def plot_history(results: MixingResults | dict, ax: Any = None, smooth: int = 10) -> Any:
    """Plot the training-loss curves of every run (moving average over ``smooth`` steps, log scale).

    Each loss is in its own units, so compare the curves of one loss (naive against Pareto mixing), not
    the levels of different losses.

    Args:
        results: a :class:`MixingResults` or its ``to_dict()`` form.
        ax: a matplotlib Axes to draw into; ``None`` creates a new figure.
        smooth: window of the moving average in steps (1 = raw values).

    Returns:
        The matplotlib Axes.
    """
    import matplotlib.pyplot as plt

    history = (results.to_dict() if isinstance(results, MixingResults) else results).get("history", {})
    smooth = checks.check_positive_int(smooth, "smooth")
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 3.5))
    for label, values in history.items():
        v = np.asarray(values, dtype=float)
        window = min(smooth, len(v))
        curve = np.convolve(v, np.ones(window) / window, mode="valid") if window else v
        ax.plot(np.arange(window, len(v) + 1), curve, label=label, ls="--" if label.endswith(PARETO_SUFFIX) else "-")
    ax.set(xlabel="step", ylabel="training loss (own units)", yscale="log", title="Training curves")
    ax.legend(fontsize=8)
    return ax


def write_results(
    results: MixingResults | dict, out_dir: str | os.PathLike, stem: str = "results"
) -> tuple[Path, Path]:
    """Write ``<stem>.json`` and ``<stem>.md`` into ``out_dir`` (created if needed).

    Returns:
        The two paths (json, md).
    """
    if isinstance(results, MixingResults):
        results = results.to_dict()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / f"{stem}.json", out / f"{stem}.md"
    json_path.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    md_path.write_text(results_to_markdown(results), encoding="utf-8")
    return json_path, md_path


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m depthkit.experiments.mixing [--steps N] [--out DIR] [--docs DIR] ...``."""
    p = argparse.ArgumentParser(prog="python -m depthkit.experiments.mixing", description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=FULL_CONFIG["steps"], help="training steps per loss")
    p.add_argument("--n-train", type=int, default=FULL_CONFIG["n_train"], help="training images per dataset")
    p.add_argument("--n-test", type=int, default=FULL_CONFIG["n_test"], help="held-out synthetic test images")
    p.add_argument("--size", type=int, nargs="+", default=list(FULL_CONFIG["size"]), help="image size H [W] in px")
    p.add_argument("--batch-size", type=int, default=FULL_CONFIG["batch_size"])
    p.add_argument("--lr", type=float, default=FULL_CONFIG["lr"])
    p.add_argument("--seed", type=int, default=FULL_CONFIG["seed"])
    p.add_argument("--losses", nargs="+", default=list(LOSSES), choices=LOSSES)
    p.add_argument("--pareto", nargs="*", default=list(FULL_CONFIG["pareto_losses"]), choices=LOSSES,
                   help="losses (of --losses) to train once more with Pareto-optimal mixing; none if given empty")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 is fastest when cores are shared)")
    p.add_argument("--no-motorcycle", action="store_true", help="skip the Middlebury evaluation")
    p.add_argument("--eval-max-depth", type=float, default=30.0,
                   help="evaluate synthetic test pixels up to this depth in metres (0 = all)")
    p.add_argument("--out", default=os.path.join("results", "mixing"), help="folder for results.json/.md")
    p.add_argument("--docs", default=None, help="also write mixing.json/.md into this folder (e.g. docs/results)")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    from ..errors import DepthkitError

    size = tuple(args.size) if len(args.size) == 2 else (args.size[0], args.size[0])
    try:
        results = run_experiment(
            steps=args.steps, n_train=args.n_train, size=size, seed=args.seed, losses=tuple(args.losses),
            progress=not args.quiet, n_test=args.n_test, batch_size=args.batch_size, lr=args.lr,
            motorcycle_width=None if args.no_motorcycle else 128, threads=args.threads,
            eval_max_depth_m=args.eval_max_depth or None, pareto_losses=tuple(args.pareto),
        )
    except DepthkitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    paths = write_results(results, args.out)
    if args.docs:
        paths += write_results(results, args.docs, stem="mixing")
    print(results_to_markdown(results))
    print("wrote " + ", ".join(str(p) for p in paths), file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
