"""The numba kernels of fca_utils.core.kernels give the straightforward PyTorch results (Eqs. (4), (5))."""
import numba
import numpy as np
import pytest
import torch

from fca_utils.core import kernels, ops, reference, statistics

import literal

RTOL = 1e-5


def random_feats(c, h, w, seed, dtype=torch.float32):
    return torch.from_numpy(np.random.default_rng(seed).random((c, h, w))).to(dtype)


def relu_like_feats(c, h, w, seed):
    """Features with many exact ties: about half the values are 0, the rest on a coarse grid."""
    rng = np.random.default_rng(seed)
    f = np.maximum(rng.normal(size=(c, h, w)), 0.0)
    return torch.from_numpy(np.round(f * 4) / 4).float()


def assert_same_map(actual: torch.Tensor, expected: torch.Tensor, rtol=RTOL):
    assert actual.shape == expected.shape
    assert actual.dtype == expected.dtype
    diff = (actual.double() - expected.double()).abs().max().item()
    scale = max(expected.double().abs().max().item(), 1e-30)
    assert diff <= rtol * scale, f"max relative difference {diff / scale:.3g} > {rtol}"


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    "t, sigma_p, sigma_s, shape",
    [
        (3, 3.0, 1.0, (4, 13, 21)),
        (3, 1.0, None, (1, 13, 21)),
        (5, 3.0, 1.0, (6, 21, 13)),
        (5, 1.5, 2.0, (1, 11, 17)),
        (9, 3.0, 1.0, (3, 13, 21)),
        (9, 6.0, 3.0, (2, 20, 14)),
        (9, 2.0, None, (2, 12, 16)),
    ],
)
def test_fca_equals_torch(t, sigma_p, sigma_s, shape, dtype):
    feats = random_feats(*shape, seed=t + shape[0], dtype=dtype)
    expected = statistics.fca(feats, t, sigma_p, sigma_s, backend="torch")
    assert_same_map(statistics.fca(feats, t, sigma_p, sigma_s, backend="numba"), expected)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("t, sigma, shape", [(3, 1.0, (4, 13, 21)), (5, 3.0, (1, 21, 13)), (9, 3.0, (3, 13, 21))])
def test_sww_equals_torch(t, sigma, shape, dtype):
    feats = random_feats(*shape, seed=50 + t, dtype=dtype)
    expected = statistics.sww(feats, t, sigma, backend="torch")
    assert_same_map(statistics.sww(feats, t, sigma, backend="numba"), expected)


@pytest.mark.parametrize("t", [3, 9])
def test_512_channels(t):
    feats = random_feats(512, 16, 12, seed=7)
    assert_same_map(statistics.fca(feats, t, backend="numba"), statistics.fca(feats, t, backend="torch"))
    assert_same_map(statistics.sww(feats, t, backend="numba"), statistics.sww(feats, t, backend="torch"))


@pytest.mark.parametrize("t", [3, 5, 9])
def test_ties_are_ranked_like_the_stable_sort(t):
    # Exact ties (ReLU zeros, quantized values, and reflect padding at the borders).
    feats = relu_like_feats(8, 15, 18, seed=t)
    assert_same_map(statistics.fca(feats, t, backend="numba"), statistics.fca(feats, t, backend="torch"))
    assert_same_map(statistics.sww(feats, t, backend="numba"), statistics.sww(feats, t, backend="torch"))


def test_signed_zero_is_a_tie():
    feats = relu_like_feats(3, 12, 12, seed=1)
    feats[:, ::2] *= -1.0  # -0.0 where the value is 0
    kw = dict(patch_size=5, scale=False)
    assert_same_map(statistics.fca(feats, **kw, backend="numba"), statistics.fca(feats, **kw, backend="torch"))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_explicit_and_multiple_references(dtype):
    feats = random_feats(5, 14, 17, seed=3, dtype=dtype)
    single = reference.median(feats, 5)  # (C, T*T)
    several = torch.sort(torch.rand(3, 5, 25, dtype=torch.float64), dim=-1).values  # (K, C, T*T)
    patches = reference.random(feats, 5, k=4, seed=1)
    for ref in (single, several, patches):
        for stat in (statistics.fca, statistics.sww):
            assert_same_map(stat(feats, 5, reference=ref, backend="numba"), stat(feats, 5, reference=ref, backend="torch"))


def test_all_patches_reference():
    feats = random_feats(2, 10, 9, seed=4)
    ref = reference.all_patches(feats, 3)
    assert_same_map(statistics.fca(feats, 3, reference=ref, backend="numba"), statistics.fca(feats, 3, reference=ref, backend="torch"))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("t, shape", [(3, (4, 13, 21)), (5, (3, 16, 12)), (9, (2, 9, 9)), (9, (3, 20, 30))])
def test_median_reference_equals_reference_median(t, shape, dtype):
    feats = relu_like_feats(*shape, seed=t).to(dtype)
    scaled = ops.scale_features(feats)
    x = kernels.kernel_input(scaled)
    expected = reference.median(scaled, t, scale=False).numpy()
    assert np.array_equal(kernels.median_reference(x, t), expected)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    "t, k, shape, method",
    [(3, 2, (3, 10, 10), "exact"), (3, 4, (5, 13, 21), "approx"), (5, 3, (4, 16, 12), "exact"), (9, 2, (2, 21, 20), "exact")],
)
def test_nearest_reference_equals_torch(t, k, shape, method, dtype):
    # A different reference set for every window (k-NN, section 3.3): the numba kernel
    # compares each window with the sorted windows its own indices point to.
    feats = random_feats(*shape, seed=20 + t, dtype=dtype)
    ref = reference.knn(feats, t, k=k, method=method, exclude_overlapping=t < 9)
    assert ref.method == method
    kw = dict(reference=ref)
    assert_same_map(statistics.fca(feats, t, **kw, backend="numba"), statistics.fca(feats, t, **kw, backend="torch"))
    assert_same_map(statistics.sww(feats, t, **kw, backend="numba"), statistics.sww(feats, t, **kw, backend="torch"))
    no_smoothing = dict(sigma_p=1.5, sigma_s=None, **kw)
    assert_same_map(statistics.fca(feats, t, **no_smoothing, backend="numba"), statistics.fca(feats, t, **no_smoothing, backend="torch"))


@pytest.mark.parametrize("t", [3, 5])
def test_nearest_reference_with_ties(t):
    # ReLU zeros and quantized values: ranks of equal values follow the stable sort, and
    # the sorted values the references are read from are the same either way.
    feats = relu_like_feats(6, 14, 17, seed=30 + t)
    ref = reference.knn(feats, t, k=3)
    for stat in (statistics.fca, statistics.sww):
        assert_same_map(stat(feats, t, reference=ref, backend="numba"), stat(feats, t, reference=ref, backend="torch"))


def test_nearest_reference_any_indices_and_tiles():
    # Indices need not come from a search: any window may serve, repeats included.
    feats = random_feats(3, 11, 13, seed=12, dtype=torch.float64)
    idx = torch.from_numpy(np.random.default_rng(0).integers(0, 11 * 13, (11 * 13, 5)))
    ref = reference.NearestReference(idx, 3, (11, 13))
    expected = statistics.fca(feats, 3, reference=ref, backend="torch")
    for tile_rows in (None, 1, 4):
        assert_same_map(statistics.fca(feats, 3, reference=ref, tile_rows=tile_rows), expected, rtol=1e-12)
    assert_same_map(statistics.sww(feats, 3, reference=ref, tile_rows=3), statistics.sww(feats, 3, reference=ref, backend="torch"), rtol=1e-12)


def test_nearest_reference_is_checked():
    feats = random_feats(2, 10, 10, seed=13)
    ref = reference.knn(feats, 3, k=2)
    with pytest.raises(ValueError, match="patch_size"):
        statistics.fca(feats, 5, reference=ref)
    with pytest.raises(ValueError, match="built for a"):
        statistics.fca(feats[:, :9], 3, reference=ref)
    bad = reference.NearestReference(ref.indices + 100, 3, (10, 10))
    with pytest.raises(ValueError, match=r"must lie in \[0, 100\)"):
        statistics.sww(feats, 3, reference=bad)
    short = reference.NearestReference(ref.indices[:50], 3, (10, 10))
    with pytest.raises(ValueError, match=r"\(H\*W, k\)"):
        statistics.fca(feats, 3, reference=short)


def literal_band_ranks(x: np.ndarray, ry: np.ndarray, rx: np.ndarray) -> np.ndarray:
    """Rank of each padded sample of the band among its channel's, by (value, row, column), with Python's sort."""
    out = np.empty((x.shape[0], len(ry), len(rx)), np.int64)
    for c in range(x.shape[0]):
        samples = [(float(x[c, sy, sx]), i, j) for i, sy in enumerate(ry) for j, sx in enumerate(rx)]
        for r, (_, i, j) in enumerate(sorted(samples)):
            out[c, i, j] = r
    return out


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_band_keys_rank_by_value_then_position(dtype):
    feats = relu_like_feats(3, 9, 11, seed=4).to(dtype)
    feats[:, ::3] *= -1.0  # -0.0 ties with 0.0
    x = kernels.kernel_input(feats)
    pad = np.abs(np.arange(-2, 11 + 2))
    rx = np.where(pad > 10, 20 - pad, pad)
    ry = np.array([1, 0, 1, 2, 3])  # a band: reflected first row, then rows 0 .. 3
    got = kernels.band_keys(kernels.order_keys(x), ry, rx)
    assert got.dtype == np.int16
    assert np.array_equal(got, literal_band_ranks(x, ry, rx))


def test_wide_band_keys_are_int32_and_sorted_windows_stay_exact():
    # 182 x 192 padded samples: beyond int16's 32767.
    feats = relu_like_feats(1, 180, 190, seed=2)
    x = kernels.kernel_input(feats)
    ry, rx = np.abs(np.arange(-1, 181)), np.abs(np.arange(-1, 191))
    ry[-1], rx[-1] = 178, 188
    got = kernels.band_keys(kernels.order_keys(x), ry, rx)
    assert got.dtype == np.int32
    assert np.array_equal(got, literal_band_ranks(x, ry, rx))
    expected = literal.sorted_windows(ops.scale_features(feats).numpy(), 3)
    assert np.array_equal(kernels.sorted_windows(feats, 3), np.transpose(expected, (1, 0, 2)))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("t", [3, 5, 9])
def test_sorted_windows_equal_torch_sort(t, dtype):
    feats = relu_like_feats(4, 12, 15, seed=t).to(dtype)
    expected = torch.from_numpy(literal.sorted_windows(ops.scale_features(feats).numpy(), t))
    got = kernels.sorted_windows(feats, t)
    assert got.dtype == (np.float32 if dtype == torch.float32 else np.float64)
    assert np.array_equal(got, expected.permute(1, 0, 2).numpy())


def test_pair_costs_and_run_sums():
    sw = np.random.default_rng(1).random((7, 40, 9)).astype(np.float32)  # 7 channels: parts of unequal size
    queries = np.array([0, 5, 39])
    cand = np.array([[1, 2, 3, 4, 5, 6], [0, 0, 7, 39, 8, 9], [39, 1, 2, 3, 4, 38]])
    expected = np.abs(sw[:, queries][:, :, None] - sw[:, cand]).sum(axis=(0, 3))
    np.testing.assert_allclose(kernels.pair_costs(sw, queries, cand), expected, rtol=1e-6)
    np.testing.assert_allclose(kernels.pair_costs(sw, queries[:1], cand[:1, :3]), expected[:1, :3], rtol=1e-6)
    runs = kernels.run_sums(sw, [0, 2, 7])
    np.testing.assert_allclose(runs, np.stack([sw[..., :2].sum(-1), sw[..., 2:7].sum(-1), sw[..., 7:].sum(-1)], -1), rtol=1e-6)
    with pytest.raises(ValueError, match="window indices"):
        kernels.pair_costs(sw, queries, cand + 1)
    with pytest.raises(ValueError, match="starts must"):
        kernels.run_sums(sw, [1, 3])


@pytest.mark.parametrize("block", [1, 2, 3, 5])
@pytest.mark.parametrize("threads", sorted({1, numba.config.NUMBA_NUM_THREADS}))
def test_same_bits_however_the_rows_are_split(block, threads, monkeypatch):
    # Parts of window rows per thread and blocks of sample rows change only the order in
    # which windows are visited; every window's channels are still added in order.
    feats = relu_like_feats(5, 23, 19, seed=7)
    expected = {t: (statistics.fca(feats, t), statistics.sww(feats, t)) for t in (3, 5)}
    monkeypatch.setattr(kernels, "BLOCK_ROWS", block)
    numba.set_num_threads(threads)
    try:
        for t, (fca_map, sww_map) in expected.items():
            assert torch.equal(statistics.fca(feats, t), fca_map)
            assert torch.equal(statistics.sww(feats, t), sww_map)
    finally:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)


def test_windows_above_255_samples_count_in_uint16():
    # T = 17: ranks up to 288 no longer fit the uint8 counts of smaller windows.
    feats = relu_like_feats(2, 21, 19, seed=9)
    assert_same_map(statistics.fca(feats, 17, backend="numba"), statistics.fca(feats, 17, backend="torch"))
    assert_same_map(statistics.sww(feats, 17, backend="numba"), statistics.sww(feats, 17, backend="torch"))


@pytest.mark.parametrize("tile_rows", [1, 4, 7])
def test_tiled_equals_untiled(tile_rows):
    feats = random_feats(6, 23, 19, seed=6, dtype=torch.float64)
    whole = statistics.fca(feats, 5)
    assert torch.allclose(statistics.fca(feats, 5, tile_rows=tile_rows), whole, rtol=1e-12, atol=0)
    assert torch.allclose(statistics.sww(feats, 5, tile_rows=tile_rows), statistics.sww(feats, 5), rtol=1e-12, atol=0)


def test_default_tiles_split_a_wide_map(monkeypatch):
    monkeypatch.setattr(kernels, "TILE_BYTES", 3 * 8 * 40 * 9)  # three window rows per tile
    feats = random_feats(2, 11, 40, seed=8)
    assert_same_map(statistics.fca(feats, 3), statistics.fca(feats, 3, backend="torch"))


def test_chunked_preparation_equals_whole(monkeypatch):
    monkeypatch.setattr(ops, "CHUNK_VALUES", 1)  # scale one channel at a time
    feats = random_feats(5, 12, 14, seed=11)
    scaled, _ = ops.prepare_features(feats, 5, scale=True)
    assert torch.equal(scaled, ops.scale_features(feats))
    assert_same_map(statistics.fca(feats, 5), statistics.fca(feats, 5, backend="torch"))


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64])
def test_dtype_device_and_shape_are_preserved(dtype):
    feats = random_feats(3, 9, 11, seed=9).to(dtype)
    for out in (statistics.fca(feats[None], 3, backend="numba"), statistics.sww(feats, 3, backend="numba")):
        assert out.shape == (9, 11)
        assert out.dtype == dtype
        assert out.device == feats.device


def test_constant_input_gives_zero():
    feats = torch.full((4, 12, 10), 0.7)
    for out in (statistics.fca(feats, 5), statistics.sww(feats, 5)):
        assert torch.isfinite(out).all()
        assert out.abs().max() == 0


@pytest.mark.parametrize("t, sigma", [(3, 1.0), (5, 2.0), (9, 1.0)])
def test_smoothing_matrix_is_the_reflect_padded_blur(t, sigma):
    e = torch.rand(t, t, dtype=torch.float64)
    a = torch.from_numpy(kernels.smoothing_matrix(t, sigma))
    blurred = ops.gaussian_blur(e, statistics.SMOOTH_KERNEL, sigma)
    assert torch.allclose(a @ e @ a.T, blurred, rtol=1e-12, atol=1e-15)


def test_auto_uses_numba_on_cpu(monkeypatch):
    calls = []
    monkeypatch.setattr(kernels, "fca", lambda *a, **k: calls.append("fca") or torch.zeros(1))
    monkeypatch.setattr(kernels, "sww", lambda *a, **k: calls.append("sww") or torch.zeros(1))
    feats = random_feats(2, 8, 8, seed=0)
    statistics.fca(feats, 3)
    statistics.sww(feats, 3)
    statistics.fca(feats, 3, backend="torch")
    assert calls == ["fca", "sww"]


def test_backend_is_checked():
    feats = random_feats(2, 8, 8, seed=0)
    with pytest.raises(ValueError, match="backend must be one of"):
        statistics.fca(feats, 3, backend="cuda")
    with pytest.raises(ValueError, match="runs on the CPU"):
        statistics.sww(torch.empty(2, 8, 8, device="meta"), 3, backend="numba")
    assert not kernels.use_numba("auto", torch.empty(2, 8, 8, device="meta"))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("t", [3, 9])
def test_cuda_equals_cpu(t):
    feats = relu_like_feats(64, 24, 20, seed=t)  # with ties: both sorts are stable
    ref = reference.random(feats, t, k=2, seed=0)
    for kw in (dict(), dict(reference=ref)):
        gpu = statistics.fca(feats.cuda(), t, **kw)
        assert gpu.device.type == "cuda"
        assert_same_map(gpu.cpu(), statistics.fca(feats, t, **kw))
        assert_same_map(statistics.sww(feats.cuda(), t, **kw).cpu(), statistics.sww(feats, t, **kw))
