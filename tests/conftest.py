"""Test-wide settings and shared data.

Never download anything (tests run offline, as CI does): ``FCA_OFFLINE`` is set
before any test imports ``fca_utils``.
"""
import os

os.environ["FCA_OFFLINE"] = "1"

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from fca_utils.datasets import open_dataset  # noqa: E402
from fca_utils.datasets.layout import write_image, write_mask  # noqa: E402


def striped_texture(rng, size):
    """Vertical stripes with noise: a homogeneous texture for a planted defect, uint8 RGB."""
    x = np.arange(size)
    stripes = 0.5 + 0.3 * np.sin(2 * np.pi * x / 6)[None, :]
    image = np.clip(stripes + 0.05 * rng.standard_normal((size, size)), 0, 1)
    return (np.repeat(image[..., None], 3, axis=2) * 255).astype(np.uint8)


@pytest.fixture
def spot_dataset(tmp_path):
    """Factory of small datasets in MVTec layout: classes "a" and "b" of striped textures,
    good images and images with a bright square (defect type "spot").

    ``make(size, n_good, n_spot, first, step, side)``: square ``i`` has its top-left corner
    at ``first + i * step`` (as ``(y, x)``) and ``side`` pixels.
    """
    def make(size, n_good, n_spot, first, step, side):
        rng = np.random.default_rng(0)
        root = tmp_path / "tiny"
        for cls in ("a", "b"):
            for i in range(n_good):
                write_image(root / cls / "test" / "good" / f"{i:03d}.png", striped_texture(rng, size))
            for i in range(n_spot):
                image, mask = striped_texture(rng, size), np.zeros((size, size), bool)
                y, x = first[0] + step[0] * i, first[1] + step[1] * i
                mask[y:y + side, x:x + side] = True
                image[mask] = 250
                write_image(root / cls / "test" / "spot" / f"{i:03d}.png", image)
                write_mask(root / cls / "ground_truth" / "spot" / f"{i:03d}_mask.png", mask)
        return open_dataset(root)

    return make
