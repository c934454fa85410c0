"""Small float64 torch maps shared by the loss and alignment tests."""

import torch


def random_maps(seed, shape=(2, 8, 8)):
    """(prediction, target) of ``shape``: target in [0.5, 1.5), prediction = target + up to 0.3 of noise."""
    gen = torch.Generator().manual_seed(seed)
    target = torch.rand(shape, generator=gen, dtype=torch.float64) + 0.5
    pred = target + 0.3 * torch.rand(shape, generator=gen, dtype=torch.float64)
    return pred, target


def t64(values):
    """A float64 tensor of ``values``."""
    return torch.tensor(values, dtype=torch.float64)
