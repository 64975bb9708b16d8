"""fca_utils.paper.by_hand: the pictures and the pixel explorer of notebook 01 (FCA by hand).

The per-window contributions are checked against the literal Eq. (5) of tests/literal.py and
against fca_utils.statistics.fca; the explorer is driven through its widget objects.
"""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from fca_utils import statistics  # noqa: E402
from fca_utils.paper import by_hand  # noqa: E402

import literal  # noqa: E402


def window_errors(feats: np.ndarray, t: int, sigma_s):
    """(H, W, T, T) error map of every window, smoothed, built from tests/literal.py's pieces."""
    f = literal.scale(feats)
    ref = literal.median_reference(f, t)
    _, h, w = f.shape
    out = np.empty((h, w, t, t))
    for y in range(h):
        for x in range(w):
            m = literal.pixel_errors(literal.window(f, y, x, t), ref)
            out[y, x] = m if sigma_s is None else literal.smooth_window(m, sigma_s)
    return out


@pytest.mark.parametrize("t, sigma_p, sigma_s", [(3, 3.0, 1.0), (5, 1.5, None)])
def test_contributions_sum_to_the_fca_score(t, sigma_p, sigma_s):
    feats = np.random.default_rng(1).random((2, 7, 8))
    errors = window_errors(feats, t, sigma_s)
    weights = literal.gauss2d(t, sigma_p)
    summed = np.array([[np.nansum(by_hand.contributions(errors, weights, y, x)) for x in range(8)] for y in range(7)])
    np.testing.assert_allclose(summed, literal.fca(feats, t, sigma_p, sigma_s), rtol=0, atol=1e-12)
    lib = statistics.fca(torch.from_numpy(feats), patch_size=t, sigma_p=sigma_p, sigma_s=sigma_s).numpy()
    np.testing.assert_allclose(summed, lib, rtol=0, atol=1e-12)


def test_contributions_index_the_pixel_inside_each_window():
    t, p = 3, 1
    errors = np.zeros((5, 6, t, t))
    errors[2, 3, p + 1, p - 1] = 2.0   # window centred (2, 3) holds pixel (3, 2) at offset (+1, -1)
    c = by_hand.contributions(errors, np.ones((t, t)), 3, 2)
    assert c[p - 1, p + 1] == 2.0 and np.nansum(c) == 2.0   # that window's centre is at (-1, +1) from the pixel


@pytest.mark.parametrize("y, x, windows", [(0, 0, 4), (0, 3, 6), (2, 2, 9), (4, 5, 4)])
def test_a_pixel_lies_in_windows_centred_on_the_map_only(y, x, windows):
    c = by_hand.contributions(np.ones((5, 6, 3, 3)), np.ones((3, 3)), y, x)
    assert int(np.isfinite(c).sum()) == windows


def test_contributions_reject_bad_input():
    with pytest.raises(ValueError, match=r"\(H, W, T, T\)"):
        by_hand.contributions(np.ones((5, 6, 3)), np.ones((3, 3)), 0, 0)
    with pytest.raises(ValueError, match="weights must be"):
        by_hand.contributions(np.ones((5, 6, 3, 3)), np.ones((5, 5)), 0, 0)
    with pytest.raises(ValueError, match="outside"):
        by_hand.contributions(np.ones((5, 6, 3, 3)), np.ones((3, 3)), 5, 0)


def test_crop_around_centres_on_the_defect_and_stays_inside():
    img = np.arange(100 * 120).reshape(100, 120)
    mask = np.zeros((100, 120), bool)
    mask[40:50, 60:70] = True
    crop, m, (top, left) = by_hand.crop_around(img, mask, 20)
    assert (top, left) == (34, 54) and crop.shape == (20, 20) and m.sum() == 100
    assert crop[0, 0] == img[34, 54]
    mask[:] = False
    mask[98, 1] = True
    assert by_hand.crop_around(img, mask, 20)[2] == (80, 0)
    assert by_hand.crop_around(img, np.zeros_like(mask), 20)[2] == (40, 50)
    with pytest.raises(ValueError, match="side must be"):
        by_hand.crop_around(img, mask, 101)
    with pytest.raises(ValueError, match="same height and width"):
        by_hand.crop_around(img[:50], mask, 10)


def test_as_rgb():
    f = np.random.default_rng(0).random((5, 4, 6))
    rgb = by_hand.as_rgb(f)
    assert rgb.shape == (4, 6, 3) and rgb.min() == 0 and rgb.max() == 1
    gray = by_hand.as_rgb(f[:1])
    assert np.array_equal(gray[..., 0], gray[..., 2])
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        by_hand.as_rgb(f[0])


def test_show_matrix_writes_every_finite_value():
    fig, ax = plt.subplots()
    v = np.array([[0.5, np.nan], [0.25, 1.0]])
    by_hand.show_matrix(ax, v, fmt="{:.2f}", mark=(1, 0))
    assert sorted(t.get_text() for t in ax.texts) == ["0.25", "0.50", "1.00"]
    assert len(ax.patches) == 1
    plt.close(fig)


def test_draw_tiles_counts_whole_tiles():
    fig, ax = plt.subplots()
    assert by_hand.draw_tiles(ax, np.zeros((17, 12)), 5) == 3 * 2
    with pytest.raises(ValueError, match="no 5x5 tile"):
        by_hand.draw_tiles(ax, np.zeros((4, 12)), 5)
    plt.close(fig)


def test_contributions_figure_titles_are_the_contributions():
    rng = np.random.default_rng(2)
    errors, weights = rng.random((6, 7, 3, 3)), literal.gauss2d(3, 1.0)
    fig = by_hand.contributions_figure(errors, weights, 0, 4, picture=rng.random((6, 7)))
    titles = [ax.get_title() for ax in fig.axes if ax.images and ax.get_title() and "\n" not in ax.get_title()
              and not ax.get_title().startswith("pixel")]
    c = by_hand.contributions(errors, weights, 0, 4)
    assert sorted(titles) == sorted(f"{v:.4f}" for v in c[np.isfinite(c)])
    plt.close(fig)


def test_the_explorer_redraws_for_the_chosen_pixel():
    pytest.importorskip("ipywidgets")   # the "notebooks" extra
    rng = np.random.default_rng(3)
    errors, weights = rng.random((6, 7, 3, 3)), literal.gauss2d(3, 1.0)
    container, controls = by_hand.pixel_explorer(errors, weights, rng.random((6, 7, 3)), y=2, x=2)
    assert controls["y"].max == 5 and controls["x"].max == 6 and controls["output"] in container.children
    first = controls["summary"].value
    assert "<b>9</b> windows" in first
    assert f"{np.nansum(by_hand.contributions(errors, weights, 2, 2)):.6f}" in first
    controls["x"].value = 0
    controls["y"].value = 0
    second = controls["summary"].value
    assert second != first and "(y=0, x=0)" in second and "<b>4</b> windows" in second
    assert f"{np.nansum(by_hand.contributions(errors, weights, 0, 0)):.6f}" in second
    plt.close("all")


def test_sww_vs_fca_counts_and_rejects_bad_input():
    mask = np.zeros((9, 9), bool)
    mask[4, 4] = True
    sww = np.zeros((9, 9))
    sww[3:6, 3:6] = 1.0          # SWW: the defect on every window centre near it
    fca = np.full((9, 9), 0.1)
    fca[4, 4] = 2.0              # FCA: the defect on its pixel
    d = by_hand.sww_vs_fca(sww, fca, mask, 5)
    assert (d["defect"], d["ring"], d["fca_higher_in_defect"], d["sww_higher_in_ring"]) == (1, 24, 1, 8)
    assert d["fca_share"] == pytest.approx(100 * 2.0 / (2.0 + 80 * 0.1))
    assert d["sww_share"] == pytest.approx(100 / 9)
    text = by_hand.sww_vs_fca_takeaway(d, "toy", 5)
    assert "at 1 of 1 pixels" in text and "at 8 of 24" in text and "FCA keeps more" in text
    with pytest.raises(ValueError, match="one shape"):
        by_hand.sww_vs_fca(sww, fca[:5], mask, 5)
    with pytest.raises(ValueError, match="some pixels"):
        by_hand.sww_vs_fca(sww, fca, np.zeros((9, 9), bool), 5)
