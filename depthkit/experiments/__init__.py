"""Small, reproducible training experiments that run on a laptop CPU in minutes.

* :mod:`depthkit.experiments.tiny_net` - :class:`~depthkit.experiments.tiny_net.TinyDepthNet`, a compact
  encoder-decoder CNN (about 0.47 M parameters) that predicts non-negative inverse depth.
* :mod:`depthkit.experiments.mixing` - the dataset-mixing experiment: train that network on three synthetic
  datasets with incompatible annotations (metric depth, depth up to a scale per image, disparity up to a scale
  and shift per image; arXiv:1907.01341 Table 1) with a naive L1 loss, the scale- and shift-invariant MSE and
  the MiDaS loss, with naive or Pareto-optimal mixing, and compare them after alignment.

Nothing heavy is imported here; import the submodules explicitly::

    from depthkit.experiments import mixing
    results = mixing.run_experiment(**mixing.QUICK_CONFIG)
"""

__all__ = ["mixing", "tiny_net"]
