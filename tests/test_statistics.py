"""The vectorized statistics equal literal loops over Eqs. (2)-(5) and (7)."""
import numpy as np
import pytest
import torch

from fca_utils.core import reference, statistics

import literal


def random_feats(c, h, w, seed):
    return torch.from_numpy(np.random.default_rng(seed).random((c, h, w))).double()


def assert_close(actual: torch.Tensor, expected: np.ndarray, rtol=1e-9):
    actual = actual.detach().cpu().numpy()
    assert actual.shape == expected.shape
    scale = max(np.abs(expected).max(), 1e-12)
    assert np.abs(actual - expected).max() <= rtol * scale, np.abs(actual - expected).max() / scale


@pytest.mark.parametrize(
    "t, sigma_p, sigma_s, shape",
    [(3, 1.0, 1.0, (2, 7, 9)), (5, 3.0, 1.0, (3, 9, 8)), (5, 1.5, None, (2, 8, 7)), (7, 6.0, 3.0, (2, 9, 10))],
)
def test_fca_matches_literal_equation(t, sigma_p, sigma_s, shape):
    feats = random_feats(*shape, seed=t)
    expected = literal.fca(feats.numpy(), t, sigma_p, sigma_s)
    actual = statistics.fca(feats, patch_size=t, sigma_p=sigma_p, sigma_s=sigma_s, backend="torch")
    assert_close(actual, expected)


@pytest.mark.parametrize("t, sigma, shape", [(3, 1.0, (2, 7, 9)), (5, 3.0, (3, 9, 8)), (7, 2.0, (1, 8, 11))])
def test_sww_matches_literal_equation(t, sigma, shape):
    feats = random_feats(*shape, seed=10 + t)
    expected = literal.sww(feats.numpy(), t, sigma)
    actual = statistics.sww(feats, patch_size=t, sigma=sigma, backend="torch")
    assert_close(actual, expected)


def test_fca_with_explicit_reference_matches_literal():
    feats = random_feats(2, 8, 8, seed=3)
    ref = np.sort(np.random.default_rng(4).random((2, 9)), axis=1)
    expected = literal.fca(feats.numpy(), 3, 1.0, 1.0, ref=ref)
    actual = statistics.fca(feats, 3, 1.0, 1.0, reference=torch.from_numpy(ref), backend="torch")
    assert_close(actual, expected)


@pytest.mark.parametrize("t, bins, sigma, shape", [(3, 10, 1.0, (2, 6, 7)), (5, 4, 2.0, (3, 8, 6)), (7, 10, 6.0, (1, 9, 9))])
def test_histogram_matches_literal_equation(t, bins, sigma, shape):
    feats = random_feats(*shape, seed=20 + t)
    expected = literal.histogram(feats.numpy(), t, bins, sigma)
    assert_close(statistics.histogram(feats, patch_size=t, bins=bins, sigma=sigma), expected)


def test_histogram_and_moments_with_patch_references_match_literal_equation():
    """Random / all windows as R (Table 2): distances to each chosen window's local descriptor, averaged."""
    feats = random_feats(2, 7, 8, seed=21)
    for ref in (reference.random(feats, 3, k=4, seed=2), reference.all_patches(feats, 3)):
        centers = ref.centers.tolist()
        assert_close(statistics.histogram(feats, patch_size=3, bins=5, sigma=1.0, reference=ref),
                     literal.histogram(feats.numpy(), 3, 5, 1.0, centers=centers))
        assert_close(statistics.moments(feats, patch_size=3, powers=(1, 2), sigma=1.0, reference=ref),
                     literal.moments(feats.numpy(), 3, (1, 2), 1.0, centers=centers))


@pytest.mark.parametrize("t, powers, sigma", [(3, (1,), 1.0), (5, (1, 2, 3, 4), 3.0), (7, (1, 2), 6.0)])
def test_moments_matches_literal_equation(t, powers, sigma):
    feats = random_feats(3, 8, 9, seed=30 + t)
    expected = literal.moments(feats.numpy(), t, powers, sigma)
    assert_close(statistics.moments(feats, patch_size=t, powers=powers, sigma=sigma), expected)


@pytest.mark.parametrize("t, shape", [(3, (3, 10, 11)), (5, (2, 16, 12)), (3, (1, 3, 3))])
def test_median_reference_is_the_median_of_each_order_statistic(t, shape):
    feats = random_feats(*shape, seed=40 + t)
    expected = literal.median_reference(literal.scale(feats.numpy()), t)
    assert_close(reference.median(feats, t), expected)
    assert torch.all(reference.median(feats, t).diff(dim=1) >= 0)


def test_sww_with_uniform_weights_is_the_wasserstein_distance():
    # With sigma -> infinity the weights are uniform and Eq. (4) is W1(window, reference).
    feats = random_feats(2, 9, 9, seed=5)
    scaled = literal.scale(feats.numpy())
    ref = literal.median_reference(scaled, 3)
    win = literal.window(scaled, 4, 4, 3).reshape(2, 9)
    w1 = np.mean([np.abs(np.sort(win[c]) - ref[c]).mean() for c in range(2)])
    s = statistics.sww(feats, 3, sigma=1e6, backend="torch")
    assert s[4, 4].item() == pytest.approx(w1, rel=1e-6)


def test_patch_reference_uses_the_chosen_windows():
    feats = random_feats(2, 10, 10, seed=6)
    ref = reference.random(feats, 3, k=3, seed=1)
    windows = [
        np.sort(literal.window(literal.scale(feats.numpy()), y, x, 3).reshape(2, 9), axis=1)
        for y, x in ref.centers.tolist()
    ]
    expected = np.mean([literal.fca(feats.numpy(), 3, 1.0, 1.0, ref=w) for w in windows], axis=0)
    assert_close(statistics.fca(feats, 3, 1.0, 1.0, reference=ref, backend="torch"), expected)


def test_default_spatial_sigmas_are_the_authors_configuration():
    """conf/sc/sww.yaml, moments.yaml, hist.yaml: sigma 6.0 (hist.yaml: 10 bins); conf/sc/fca.yaml: 3.0 / 1.0."""
    feats = random_feats(3, 12, 13, seed=5)
    torch.testing.assert_close(statistics.sww(feats, 5), statistics.sww(feats, 5, sigma=6.0))
    assert not torch.allclose(statistics.sww(feats, 5), statistics.sww(feats, 5, sigma=3.0))
    torch.testing.assert_close(statistics.moments(feats, 5), statistics.moments(feats, 5, sigma=6.0))
    torch.testing.assert_close(statistics.histogram(feats, 5), statistics.histogram(feats, 5, bins=10, sigma=6.0))
    torch.testing.assert_close(statistics.fca(feats, 5), statistics.fca(feats, 5, sigma_p=3.0, sigma_s=1.0))
