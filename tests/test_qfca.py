"""Quantized FCA and the PCA preprocessing (arXiv 2510.15602) against literal loops and their definitions."""
import numpy as np
import pytest
import torch

from fca_utils.core import methods, pca, reference, statistics

import literal
from test_statistics import assert_close, random_feats


@pytest.mark.parametrize("backend", ["torch", "numba"])
@pytest.mark.parametrize(
    "t, sigma_p, sigma_s, levels, shape",
    [(3, 1.0, 1.0, 4, (2, 7, 9)), (5, 3.0, None, 2, (3, 9, 8)), (5, 1.5, 1.0, 16, (2, 8, 7)), (7, 6.0, 3.0, 8, (2, 9, 10))],
)
def test_qfca_matches_literal_equation(backend, t, sigma_p, sigma_s, levels, shape):
    feats = random_feats(*shape, seed=30 + t + levels)
    expected = literal.qfca(feats.numpy(), t, sigma_p, sigma_s, levels)
    actual = statistics.qfca(feats, t, sigma_p, sigma_s, levels=levels, backend=backend)
    assert_close(actual, expected)


@pytest.mark.parametrize("backend", ["torch", "numba"])
def test_qfca_with_explicit_and_patch_references_matches_literal(backend):
    feats = random_feats(2, 8, 8, seed=3)
    ref = np.sort(np.random.default_rng(4).random((2, 9)), axis=1)
    expected = literal.qfca(feats.numpy(), 3, 1.0, 1.0, 4, ref=ref)
    actual = statistics.qfca(feats, 3, 1.0, 1.0, levels=4, reference=torch.from_numpy(ref), backend=backend)
    assert_close(actual, expected)
    patches = reference.random(feats, 3, k=3, seed=1)
    windows = [
        np.sort(literal.window(literal.scale(feats.numpy()), y, x, 3).reshape(2, 9), axis=1)
        for y, x in patches.centers.tolist()
    ]
    expected = np.mean([literal.qfca(feats.numpy(), 3, 1.0, 1.0, 4, ref=w) for w in windows], axis=0)
    assert_close(statistics.qfca(feats, 3, 1.0, 1.0, levels=4, reference=patches, backend=backend), expected)


def test_qfca_ties_share_their_error_so_tie_order_does_not_matter():
    """A map of two levels only: every window's samples of one level get the same error."""
    feats = torch.zeros(1, 9, 9, dtype=torch.float64)
    feats[0, 4, 4] = 1.0
    out = statistics.qfca(feats, 3, 1.0, None, levels=2, backend="numba")
    torch.testing.assert_close(out, out.flip(0))
    torch.testing.assert_close(out, out.flip(1))
    torch.testing.assert_close(out, out.T)
    assert_close(out, literal.qfca(feats.numpy(), 3, 1.0, None, 2))


def test_qfca_through_the_registry_and_presets():
    feats = random_feats(3, 10, 11, seed=7)
    direct = statistics.qfca(feats, 5, levels=8)
    torch.testing.assert_close(methods.anomaly_map(feats, "qfca", 5, levels=8), direct)
    preset = methods.Preset("q", None, 5, statistic="qfca", levels=8)
    torch.testing.assert_close(methods.preset_map(feats, preset), direct)
    projected = pca.pca(feats, 2).features
    with_pca = methods.Preset("qp", None, 5, statistic="qfca", levels=8, pca_components=2)
    torch.testing.assert_close(methods.preset_map(feats, with_pca), statistics.qfca(projected, 5, levels=8))
    torch.testing.assert_close(methods.anomaly_map(feats, "fca", 5, pca_components=2), statistics.fca(projected, 5))


@pytest.mark.parametrize("kwargs, message", [
    (dict(levels=1), "levels must be an integer from 2 to 256"),
    (dict(levels=300), "levels must be an integer from 2 to 256"),
    (dict(levels=2.5), "levels must be an integer from 2 to 256"),
    (dict(backend="gpu"), "backend must be one of"),
])
def test_qfca_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        statistics.qfca(random_feats(2, 8, 8, seed=1), 3, **kwargs)


def test_qfca_refuses_per_window_references():
    feats = random_feats(2, 8, 8, seed=1)
    knn = reference.knn(feats, 3, k=2, method="exact")
    with pytest.raises(TypeError, match="does not support per-window k-NN"):
        statistics.qfca(feats, 3, reference=knn)


def spread_feats(c, h, w, seed):
    """float64 features whose channel covariance has well separated eigenvalues (decaying 3 -> 0.1)."""
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.normal(size=(c, c)))[0]
    mixed = basis @ (rng.normal(size=(c, h * w)) * np.geomspace(3, 0.1, c)[:, None])
    return torch.from_numpy(mixed.reshape(c, h, w) + 1.0)


@pytest.mark.parametrize("c, k", [(5, 3), (48, 3)])  # LAPACK, then ARPACK (16 k <= C)
def test_pca_is_the_literal_projection_with_its_sign_convention_and_reconstruction_error(c, k):
    feats = random_feats(c, 12, 10, seed=11) if c < 16 else spread_feats(c, 12, 10, seed=11)
    result = pca.pca(feats, k)
    x = feats.numpy().reshape(c, -1)
    mean = x.mean(axis=1)
    cov = np.zeros((c, c))
    for i in range(x.shape[1]):  # literal covariance, pixel by pixel
        d = x[:, i] - mean
        cov += np.outer(d, d)
    cov /= x.shape[1] - 1
    values, vectors = np.linalg.eigh(cov)
    order = np.argsort(values)[::-1][:k]
    for j, col in enumerate(order):
        v = vectors[:, col]
        v = v * np.sign(v[np.argmax(np.abs(v))])
        np.testing.assert_allclose(result.directions[j].numpy(), v, atol=1e-10)
        np.testing.assert_allclose(result.features[j].numpy().reshape(-1), v @ (x - mean[:, None]), atol=1e-10)
        assert result.directions[j].abs().argmax() == result.directions[j].argmax()
    rebuilt = result.directions.numpy().T @ result.features.numpy().reshape(k, -1) + mean[:, None]
    expected = ((x - rebuilt) ** 2).sum() / ((x - mean[:, None]) ** 2).sum()
    assert result.reconstruction_error == pytest.approx(expected, rel=1e-9)
    np.testing.assert_allclose(result.explained.numpy(), values[order] / values.sum(), rtol=1e-9)
    assert pca.pca(feats, c).reconstruction_error == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("dtype, atol", [(np.float64, 1e-10), (np.float32, 1e-5)])
def test_leading_eigenpairs_by_arpack_equal_lapacks_and_lapack_takes_over_when_arpack_fails(monkeypatch, dtype, atol):
    feats = spread_feats(64, 20, 20, seed=3).numpy().reshape(64, -1)
    cov = np.cov(feats).astype(dtype)
    values, vectors = np.linalg.eigh(cov.astype(np.float64))
    calls = []
    eigsh = pca.scipy.sparse.linalg.eigsh

    def counted(*args, **kwargs):
        calls.append(kwargs["k"])
        return eigsh(*args, **kwargs)

    monkeypatch.setattr(pca.scipy.sparse.linalg, "eigsh", counted)
    for k in (4, 5):  # 16 * 4 <= 64: ARPACK; 16 * 5 > 64: LAPACK
        got_values, got_vectors = pca.leading_eigenpairs(cov, k)
        assert got_values.dtype == dtype and got_vectors.shape == (64, k)
        np.testing.assert_allclose(got_values, values[-k:], rtol=atol)
        np.testing.assert_allclose(np.abs((got_vectors * vectors[:, -k:]).sum(axis=0)), 1.0, atol=atol)
    assert calls == [4]

    def fails(*args, **kwargs):
        raise pca.scipy.sparse.linalg.ArpackNoConvergence("no convergence", np.zeros(0), np.zeros((64, 0)))

    monkeypatch.setattr(pca.scipy.sparse.linalg, "eigsh", fails)
    fallback = pca.leading_eigenpairs(cov, 4)
    np.testing.assert_array_equal(fallback[0], pca.scipy.linalg.eigh(cov, subset_by_index=[60, 63])[0])


@pytest.mark.parametrize("c", [12, 64])  # LAPACK, ARPACK
def test_pca_of_float32_features_agrees_with_the_float64_fit_to_float32_precision(c):
    f64 = spread_feats(c, 30, 30, seed=5)
    a, b = pca.pca(f64.float(), 4), pca.pca(f64, 4)
    assert a.features.dtype == torch.float32 and b.features.dtype == torch.float64
    assert a.directions.dtype == torch.float64 and a.mean.dtype == torch.float64
    # float32 keeps about 7 digits: the module docstring's "a few 1e-6"
    np.testing.assert_allclose(a.directions.numpy(), b.directions.numpy(), atol=1e-5)
    scale = b.features.abs().max().item()
    np.testing.assert_allclose(a.features.double().numpy(), b.features.numpy(), atol=1e-5 * scale)
    np.testing.assert_allclose(a.explained.numpy(), b.explained.numpy(), atol=1e-6)
    assert a.reconstruction_error == pytest.approx(b.reconstruction_error, abs=1e-6)
    assert pca.pca(f64.float(), c).reconstruction_error < 1e-5


def test_pca_is_deterministic_and_checks_its_arguments():
    feats = torch.rand(16, 80, 90, generator=torch.Generator().manual_seed(0))
    a, b = pca.pca(feats, 4, max_samples=500), pca.pca(feats.clone(), 4, max_samples=500)
    assert torch.equal(a.features, b.features) and a.reconstruction_error == b.reconstruction_error
    assert 0.0 < a.reconstruction_error < 1.0
    wide = spread_feats(64, 40, 40, seed=8).float()  # ARPACK's path
    a, b = pca.pca(wide, 4), pca.pca(wide.clone(), 4)
    assert torch.equal(a.features, b.features) and a.reconstruction_error == b.reconstruction_error
    for bad in (0, 17, 2.5, True):
        with pytest.raises(ValueError, match="components must be an integer"):
            pca.pca(feats, bad)
    with pytest.raises(ValueError, match="max_samples must be a positive integer"):
        pca.pca(feats, 2, max_samples=0)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_qfca_and_pca_on_cuda_equal_the_cpu():
    feats = random_feats(4, 20, 18, seed=2)
    cpu = statistics.qfca(feats, 5, levels=8, backend="numba")
    gpu = statistics.qfca(feats.cuda(), 5, levels=8)  # backend "auto": the PyTorch version on CUDA
    assert gpu.device.type == "cuda"
    assert_close(gpu.cpu(), cpu.numpy())
    torch.testing.assert_close(pca.pca(feats.cuda(), 2).features.cpu(), pca.pca(feats, 2).features)
