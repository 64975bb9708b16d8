"""Padding an image with its own texture (fca_utils.core.padding, preset own's frame)."""
import numpy as np
import pytest
import torch

from fca_utils.core.padding import best_shift, continuation_shift, periodic_pad, shift_correlation


def literal_correlation(gray: np.ndarray, axis: int) -> np.ndarray:
    """Pearson's correlation of the overlapping parts, one lag at a time."""
    g = gray if axis == 1 else gray.T
    n = g.shape[1]
    out = np.zeros(n)
    for s in range(n):
        a, b = g[:, : n - s].ravel(), g[:, s:].ravel()
        if a.std() > 0 and b.std() > 0:
            out[s] = np.corrcoef(a, b)[0, 1]
    return out


@pytest.mark.parametrize("axis", [0, 1])
def test_shift_correlation_equals_the_literal_one(axis):
    gray = np.random.default_rng(axis).random((7, 11))
    gray[:, 3] += 2  # a structure, so that some lags correlate
    got = shift_correlation(torch.from_numpy(gray), axis).numpy()
    np.testing.assert_allclose(got, literal_correlation(gray, axis), atol=1e-9)


def periodic_image(height, width, py, px, seed=0):
    tile = torch.from_numpy(np.random.default_rng(seed).random((3, py, px))).float()
    y, x = torch.arange(height) % py, torch.arange(width) % px
    return tile[:, y][:, :, x][None], tile


def test_a_periodic_texture_is_continued_without_a_seam():
    img, tile = periodic_image(150, 170, 23, 37)  # neither period divides its side
    pad = 40
    out, (ty, tx) = periodic_pad(img, pad)
    assert ty % 23 == 0 and tx % 37 == 0 and (ty, tx) != (150, 170)
    y, x = (torch.arange(150 + 2 * pad) - pad) % 23, (torch.arange(170 + 2 * pad) - pad) % 37
    assert torch.equal(out, tile[:, y][:, :, x][None])  # the texture's own continuation, exactly
    assert not torch.equal(out, torch.nn.functional.pad(img, (pad,) * 4, mode="circular"))


def test_a_texture_without_a_period_is_padded_circularly():
    img = torch.rand(1, 3, 64, 80, generator=torch.Generator().manual_seed(1))
    out, shifts = periodic_pad(img, 24)
    assert shifts == (64, 80)
    assert torch.equal(out, torch.nn.functional.pad(img, (24,) * 4, mode="circular"))


def test_given_shifts_frame_the_image_with_those_translations():
    img = torch.rand(1, 3, 64, 80, generator=torch.Generator().manual_seed(2))
    pad, (ty, tx) = 24, (30, 45)
    out, shifts = periodic_pad(img, pad, shifts=(ty, tx))
    assert shifts == (ty, tx)

    def source(i, n, shift):  # the pixel of the image that the padded line i shows, literally
        i -= pad
        return i + shift if i < 0 else i - shift if i >= n else i

    literal = torch.stack([torch.stack([img[0, :, source(y, 64, ty), source(x, 80, tx)]
                                        for x in range(80 + 2 * pad)], dim=-1) for y in range(64 + 2 * pad)], dim=-2)
    assert torch.equal(out[0], literal)
    assert torch.equal(periodic_pad(img, pad, shifts=(64, 80))[0],
                       torch.nn.functional.pad(img, (pad,) * 4, mode="circular"))
    with pytest.raises(ValueError, match=r"shifts \(ty, tx\) must lie from pad \(24\)"):
        periodic_pad(img, pad, shifts=(20, 45))


def test_constant_image_and_edge_cases():
    img = torch.full((1, 3, 40, 50), 0.3)
    out, shifts = periodic_pad(img, 16)
    assert shifts == (40, 50) and out.shape == (1, 3, 72, 82) and bool((out == 0.3).all())
    assert periodic_pad(img, 0)[0] is img
    with pytest.raises(ValueError, match="pad must be from 0 to the smaller image side"):
        periodic_pad(img, 41)


def test_a_shift_shorter_than_the_padding_falls_back_to_the_side():
    gray = periodic_image(64, 64, 8, 20)[0][0].mean(0)
    assert continuation_shift(gray, 1, pad=10) % 20 == 0  # whole periods
    assert continuation_shift(gray, 1, pad=30) == 40  # the one whole period from 30 to 56
    # shifts from 57 on leave less than 1/8 of the side to compare: circular
    assert continuation_shift(gray, 1, pad=57) == 64


def test_only_a_peak_of_the_correlation_counts_as_a_period():
    n = 100
    rising = torch.linspace(0.0, 0.9, n, dtype=torch.float64)  # still rising at the end of the range
    assert best_shift(rising, 20, 80) == n
    peaked = rising.clone()
    peaked[40] = 0.95  # a peak inside the range
    assert best_shift(peaked, 20, 80) == 40
    assert best_shift(peaked, 20, 80, min_correlation=0.96) == n  # too weak a match
    flat = torch.full((n,), 0.8, dtype=torch.float64)  # every shift matches (a texture constant along the axis)
    assert best_shift(flat, 20, 80) == 20
