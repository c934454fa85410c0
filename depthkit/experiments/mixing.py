"""The dataset-mixing experiment: why MiDaS trains with scale- and shift-invariant losses.

Three synthetic datasets (:func:`depthkit.synthetic.mixed_datasets`) show the same kind of scenes but annotate
them incompatibly: (A) metric depth in metres, (B) disparity with an unknown scale for the whole dataset,
(C) relative inverse depth with an unknown scale and shift per image. The same small network
(:class:`~depthkit.experiments.tiny_net.TinyDepthNet`) is trained on the mixture three times - same
pre-rendered data, same initial weights, same batches, same number of steps; only the loss differs:

* ``naive_l1`` - L1 between the prediction and each target taken literally in disparity space (1/m for A,
  the scaled disparity for B, the affine relative inverse depth for C): the annotations contradict each other.
* ``ssi_mse`` - :func:`depthkit.losses.ssi_mse_loss`, least-squares scale and shift alignment per image.
* ``ssi_trim_reg`` - :func:`depthkit.losses.midas_loss`, L_ssitrim + 0.5 L_reg (the MiDaS loss).

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
import json
import math
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError

__all__ = [
    "LOSSES",
    "LOSS_DESCRIPTIONS",
    "FULL_CONFIG",
    "QUICK_CONFIG",
    "MixingResults",
    "naive_l1_loss",
    "prepare_training_data",
    "evaluate_model",
    "predict",
    "motorcycle_eval_pair",
    "run_experiment",
    "results_to_markdown",
    "write_results",
    "main",
]

LOSSES = ("naive_l1", "ssi_mse", "ssi_trim_reg")
LOSS_DESCRIPTIONS = {
    "untrained": "initial weights, no training (reference)",
    "naive_l1": "L1 on the raw targets in each dataset's own units",
    "ssi_mse": "scale-and-shift-invariant MSE (L_ssimse)",
    "ssi_trim_reg": "MiDaS loss: L_ssitrim + 0.5 L_reg",
}

#: The configuration whose table is committed in docs/results/mixing.md (a few minutes on 2 cores).
FULL_CONFIG = dict(steps=600, n_train=96, n_test=48, size=(64, 64), batch_size=8, lr=2e-3, seed=0)
#: A configuration that trains all three networks in well under a minute (for notebooks and demos).
QUICK_CONFIG = dict(steps=60, n_train=24, n_test=12, size=(64, 64), batch_size=4, lr=3e-3, seed=0)


@dataclass
class MixingResults:
    """Outcome of :func:`run_experiment`.

    Attributes:
        config: the settings of the run (steps, n_train, size, seed, ...), JSON-serialisable.
        rows: one dict per configuration with keys ``loss``, ``description``, ``test_abs_rel``, ``test_delta1``,
            ``motorcycle_abs_rel``, ``motorcycle_delta1``, ``train_seconds``; metrics are means over images
            after per-image disparity alignment. ``untrained`` (if requested) is the initial network.
        history: loss name -> list of training-loss values, one per step (each in its loss's own units).
        models: loss name -> the trained :class:`~depthkit.experiments.tiny_net.TinyDepthNet` (not serialised).
    """

    config: dict
    rows: list
    history: dict = field(default_factory=dict)
    models: dict = field(default_factory=dict, repr=False)

    def row(self, loss: str) -> dict:
        """The result row of one loss name (e.g. ``"ssi_mse"``)."""
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
def naive_l1_loss(pred, target, mask):
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


def prepare_training_data(items) -> dict:
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
    targets, masks = zip(*(to_disparity_space(s.target, s.mask, s.kind) for s in items))
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


def predict(model, image: np.ndarray) -> np.ndarray:
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

    if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or not 8 <= width <= 741:
        raise InputError(f"width must be an integer between 8 and 741 px, got {width!r}.")
    stereo = motorcycle()
    h0, w0 = stereo.shape
    height = max(8, round(h0 * width / w0))
    image = cv2.resize(stereo.left, (width, height), interpolation=cv2.INTER_AREA)
    depth = cv2.resize(stereo.depth_m, (width, height), interpolation=cv2.INTER_NEAREST)
    return image, depth.astype(np.float32)


def evaluate_model(model, images, depths, max_depth_m: float | None = None) -> dict:
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
    for image, depth in zip(images, depths):
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


# --------------------------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------------------------
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
            for p, m, v in zip(self.params, self.m, self.v):
                if p.grad is None:
                    continue
                m.mul_(self.b1).add_(p.grad, alpha=1.0 - self.b1)
                v.mul_(self.b2).addcmul_(p.grad, p.grad, value=1.0 - self.b2)
                denom = (v / c2).sqrt_().add_(self.eps)
                p.addcdiv_(m, denom, value=-lr / c1)


def _train_one(model, data, loss_name, schedule, flips, lr, progress, label):
    import torch

    loss_fn = _loss_fn(loss_name)
    opt = _Adam(model.parameters(), lr=lr)
    steps = len(schedule)
    history = []
    model.train()
    start = time.perf_counter()
    report_every = max(1, steps // 5)
    for step, (idx, flip) in enumerate(zip(schedule, flips)):
        idx_t = torch.from_numpy(idx)
        image, target, mask = data["image"][idx_t], data["target"][idx_t], data["mask"][idx_t]
        if flip.any():
            f = torch.from_numpy(flip)
            image = torch.where(f[:, None, None, None], image.flip(-1), image)
            target = torch.where(f[:, None, None], target.flip(-1), target)
            mask = torch.where(f[:, None, None], mask.flip(-1), mask)
        loss = loss_fn(model(image), target, mask)
        opt.zero_grad()
        loss.backward()
        opt.step(lr * 0.5 * (1.0 + math.cos(math.pi * step / steps)))  # cosine decay
        history.append(float(loss.detach()))
        if progress and ((step + 1) % report_every == 0 or step + 1 == steps):
            print(f"[{label}] step {step + 1}/{steps}  loss {history[-1]:.4g}  ({time.perf_counter() - start:.1f} s)",
                  file=sys.stderr, flush=True)
    model.eval()
    return history, time.perf_counter() - start


def _check_int(name, value, low):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise InputError(f"{name} must be an integer >= {low}, got {value!r}.")
    return int(value)


def run_experiment(
    steps: int = FULL_CONFIG["steps"],
    n_train: int = FULL_CONFIG["n_train"],
    size=FULL_CONFIG["size"],
    seed: int = FULL_CONFIG["seed"],
    losses=LOSSES,
    progress: bool = True,
    *,
    n_test: int = FULL_CONFIG["n_test"],
    batch_size: int = FULL_CONFIG["batch_size"],
    lr: float = FULL_CONFIG["lr"],
    motorcycle_width: int | None = 128,
    include_untrained: bool = True,
    threads: int | None = 1,
    textures=None,
    eval_max_depth_m: float | None = 30.0,
) -> MixingResults:
    """Train the same network on the mixed datasets once per loss and evaluate each after alignment.

    The training scenes are rendered once and reused; every run starts from the same initial weights
    (``torch.manual_seed(seed)``) and sees the same batches in the same order, so only the loss differs.

    Args:
        steps: optimisation steps per loss.
        n_train: training images *per dataset* (the mixture has 3 * n_train images).
        size: (height, width) of the synthetic images in px.
        seed: seed of the data, the initial weights and the batch order.
        losses: subset of ``("naive_l1", "ssi_mse", "ssi_trim_reg")``.
        progress: print a few progress lines to stderr.
        n_test: held-out synthetic test scenes (rendered from a separate seed stream).
        batch_size: images per step.
        lr: Adam learning rate (cosine-decayed to 0 over ``steps``).
        motorcycle_width: evaluate on the Middlebury Motorcycle resized to this width in px; ``None`` skips it.
        include_untrained: add an ``untrained`` reference row (the initial network).
        threads: torch CPU threads during the run (restored afterwards); ``None`` leaves the setting alone. The
            default 1 is deliberate: these 64 px batches gain little from a second thread, and when the two
            cores are shared with other work, two spinning threads made training several times slower here.
        textures: textures for the synthetic scenes (``None`` = the sample photos).
        eval_max_depth_m: on the synthetic test set, evaluate only pixels at most this far (metres; ``None`` =
            all valid pixels). The Motorcycle scene (2-5 m) is always evaluated in full.

    Returns:
        :class:`MixingResults` (``rows``, ``history``, ``models``, ``config``).
    """
    import torch

    from ..synthetic import TextureSet, _as_size, mixed_datasets
    from .tiny_net import TinyDepthNet, count_parameters

    steps = _check_int("steps", steps, 1)
    n_train = _check_int("n_train", n_train, 1)
    n_test = _check_int("n_test", n_test, 1)
    batch_size = _check_int("batch_size", batch_size, 1)
    seed = _check_int("seed", seed, 0)
    size = _as_size(size)
    losses = tuple(losses)
    unknown = [name for name in losses if name not in LOSSES]
    if unknown or not losses:
        raise InputError(f"losses must be a non-empty subset of {LOSSES}, got {losses!r}.")
    if not (isinstance(lr, (int, float)) and 0 < lr < 1):
        raise InputError(f"lr must be a number between 0 and 1, got {lr!r}.")
    if eval_max_depth_m is not None and not (isinstance(eval_max_depth_m, (int, float)) and eval_max_depth_m > 0):
        raise InputError(f"eval_max_depth_m must be a positive number of metres or None, got {eval_max_depth_m!r}.")

    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(_check_int("threads", threads, 1))
    try:
        t0 = time.perf_counter()
        textures = textures if isinstance(textures, TextureSet) else TextureSet(textures)
        items = mixed_datasets(n_train, size, seed, textures=textures)
        data = prepare_training_data(items)
        # Held-out scenes: a separate seed stream; only the images and the exact depth are used.
        test_scenes = mixed_datasets(n_test, size, seed, textures=textures, datasets=("A",), stream=1)
        test_images = [s.image for s in test_scenes]
        test_depths = [s.depth_m for s in test_scenes]
        moto = motorcycle_eval_pair(motorcycle_width) if motorcycle_width else None
        render_seconds = time.perf_counter() - t0
        if progress:
            print(f"rendered {len(items)} training and {n_test} test scenes in {render_seconds:.1f} s",
                  file=sys.stderr, flush=True)

        torch.manual_seed(seed)
        model = TinyDepthNet()
        init_state = {k: v.clone() for k, v in model.state_dict().items()}
        schedule, flips = _batch_schedule(len(items), steps, batch_size, seed)

        def row_for(name, net, seconds):
            test = evaluate_model(net, test_images, test_depths, eval_max_depth_m)
            row = {"loss": name, "description": LOSS_DESCRIPTIONS[name], "test_abs_rel": test["abs_rel"],
                   "test_delta1": test["delta1"]}
            if moto is not None:
                m = evaluate_model(net, [moto[0]], [moto[1]])
                row.update(motorcycle_abs_rel=m["abs_rel"], motorcycle_delta1=m["delta1"])
            row["train_seconds"] = round(seconds, 2)
            row["n_failed"] = test["n_failed"]
            return row

        rows, history, models = [], {}, {}
        if include_untrained:
            rows.append(row_for("untrained", model, 0.0))
        for name in losses:
            net = TinyDepthNet()
            net.load_state_dict(init_state)
            torch.manual_seed(seed)
            hist, seconds = _train_one(net, data, name, schedule, flips, lr, progress, name)
            history[name] = hist
            models[name] = net
            rows.append(row_for(name, net, seconds))
        config = {
            "steps": steps,
            "n_train_per_dataset": n_train,
            "n_train_total": len(items),
            "n_test": n_test,
            "size": list(size),
            "batch_size": batch_size,
            "lr": lr,
            "seed": seed,
            "losses": list(losses),
            "motorcycle_width": motorcycle_width,
            "eval_max_depth_m": eval_max_depth_m,
            "parameters": count_parameters(model),
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "python": platform.python_version(),
            "render_seconds": round(render_seconds, 2),
            "total_seconds": round(time.perf_counter() - t0, 2),
        }
        return MixingResults(config=config, rows=rows, history=history, models=models)
    finally:
        torch.set_num_threads(old_threads)


# --------------------------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------------------------
def _fmt(v, digits=3):
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def results_to_markdown(results) -> str:
    """A markdown table of the results (one row per loss) with a line describing the configuration.

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
    lines = [
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
            + (f"; Motorcycle = Middlebury 2014 left view at {c['motorcycle_width']} px wide." if has_moto else ".")
        ),
        "",
    ]
    header = "| loss | what it does | test AbsRel ↓ | test δ1 ↑ |"
    sep = "|---|---|---:|---:|"
    if has_moto:
        header += " Motorcycle AbsRel ↓ | Motorcycle δ1 ↑ |"
        sep += "---:|---:|"
    header += " train s |"
    sep += "---:|"
    lines += [header, sep]
    for r in results["rows"]:
        line = f"| {r['loss']} | {r['description']} | {_fmt(r['test_abs_rel'])} | {_fmt(r['test_delta1'])} |"
        if has_moto:
            line += f" {_fmt(r.get('motorcycle_abs_rel'))} | {_fmt(r.get('motorcycle_delta1'))} |"
        line += f" {r['train_seconds']:.1f} |"
        lines.append(line)
    size = c["size"]
    command = (
        f"python -m depthkit.experiments.mixing --steps {c['steps']} --n-train {c['n_train_per_dataset']} "
        f"--n-test {c['n_test']} --size {size[0]} {size[1]} --batch-size {c['batch_size']} --lr {c['lr']} "
        f"--seed {c['seed']} --threads {c['threads']}"
    )
    if list(c.get("losses", LOSSES)) != list(LOSSES):
        command += " --losses " + " ".join(c["losses"])
    if c.get("eval_max_depth_m") != 30.0:
        command += f" --eval-max-depth {c.get('eval_max_depth_m') or 0:g}"
    if not has_moto:
        command += " --no-motorcycle"
    lines += ["", f"Reproduce: `{command}`"]
    return "\n".join(lines) + "\n"


def write_results(results, out_dir, stem: str = "results") -> tuple[Path, Path]:
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


def main(argv=None) -> int:
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
            eval_max_depth_m=args.eval_max_depth or None,
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
