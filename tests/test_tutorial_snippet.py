import numpy as np
import pytest

from depthkit.errors import InputError
from depthkit.tutorial_snippet import snippet_predict


def test_snippet_runs_on_multiples_of_32_and_differs_from_official(random_model):
    import depthkit as dk

    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (96, 128, 3), dtype=np.uint8)
    snippet = snippet_predict(img, random_model)
    official = dk.estimate_depth(img, random_model).inverse_depth
    assert snippet.shape == official.shape == (96, 128)
    assert not np.allclose(snippet, official, rtol=0.05, atol=1e-3)


def test_snippet_fails_on_other_sizes(random_model):
    with pytest.raises(InputError, match="multiples of 32"):
        snippet_predict(np.zeros((375, 500, 3), np.uint8), random_model)
