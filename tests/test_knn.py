"""k-NN references (section 3.3): the exact search, the approximate one, and how the pipeline picks."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fca_utils.core import kernels, methods, ops, reference

import literal
from fca_utils.core.methods import PRESETS


def uniform_map(c, h, w, seed):
    return torch.rand(c, h, w, generator=torch.Generator().manual_seed(seed))


def smooth_map(c, h, w, seed):
    """A texture-like map: smoothed noise and two periodic patterns mixed into c channels, plus noise."""
    g = torch.Generator().manual_seed(seed)
    fields = F.avg_pool2d(torch.rand(1, 6, h, w, generator=g), 3, 1, 1, count_include_pad=False)[0]
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    periodic = torch.stack([torch.sin(yy * 2.1 + xx * 0.7), torch.cos(xx * 1.3)]).float()
    mix = torch.randn(c, 8, generator=g)
    return torch.einsum("cz,zhw->chw", mix, torch.cat([fields, periodic])) + 0.1 * torch.randn(c, h, w, generator=g)


def recall(found: torch.Tensor, exact: torch.Tensor) -> float:
    """Mean share of each window's exact k nearest that are among the found ones."""
    hits = (found[:, :, None] == exact[:, None, :]).any(dim=1).float()
    return hits.mean().item()


def exact_costs(feats, t, idx):
    """Mean |sorted_i - sorted_j| of window i and each of its neighbours idx[i], straight from torch.sort."""
    sw = torch.from_numpy(literal.sorted_windows(ops.scale_features(feats).double().numpy(), t)).flatten(1)
    return (sw[:, None, :] - sw[idx]).abs().mean(dim=-1)


# Recall of knn_approx (defaults) measured on these maps, seeds 0-2, when written
# (k-th distance / exact k-th distance, mean over windows, in brackets):
#   uniform (16, 24, 24) T=3 k=5:  0.983-0.990 (1.0004)   smooth: 0.958-0.987 (<= 1.0033)
#   uniform (8, 32, 32)  T=3 k=10: 0.984-0.986 (1.0009)   smooth: 0.948-0.988 (<= 1.0055)
#   uniform (32, 28, 28) T=5 k=10: 1.0         (1.0)      smooth: 0.995-0.999 (1.0003)
#   uniform (4, 30, 30)  T=9 k=4:  0.998-1.0   (1.0)
# Asserted with a margin: recall >= 0.9 and k-th distance ratio <= 1.01 per map.
RECALL_CASES = [
    (uniform_map, (16, 24, 24), 3, 5),
    (smooth_map, (16, 24, 24), 3, 5),
    (uniform_map, (8, 32, 32), 3, 10),
    (smooth_map, (8, 32, 32), 3, 10),
    (uniform_map, (32, 28, 28), 5, 10),
    (smooth_map, (32, 28, 28), 5, 10),
    (uniform_map, (4, 30, 30), 9, 4),
]


@pytest.mark.parametrize("make, shape, t, k", RECALL_CASES)
@pytest.mark.parametrize("seed", [0, 1])
def test_approx_recall_of_the_exact_neighbours(make, shape, t, k, seed):
    feats = make(*shape, seed)
    exact = reference.knn(feats, t, k, method="exact")
    approx = reference.knn(feats, t, k, method="approx")
    assert approx.method == "approx" and exact.method == "exact"
    assert approx.indices.shape == exact.indices.shape == (shape[1] * shape[2], k)
    assert recall(approx.indices, exact.indices) >= 0.9
    # a missed neighbour is replaced by one nearly as close: the k-th distances agree within 1 %
    assert (approx.distances[:, -1] / exact.distances[:, -1]).mean().item() <= 1.01


def test_fewer_candidates_lower_the_recall():
    # The recall above is the approximation's, not the maps': starving the candidate search lowers it.
    feats = uniform_map(16, 24, 24, 0)
    exact = reference.knn(feats, 3, 5)
    starved = recall(reference.knn_approx(feats, 3, 5, dims=8, pool=10, shortlist=5).indices, exact.indices)
    assert 0.1 < starved < 0.8  # measured 0.33
    assert recall(reference.knn_approx(feats, 3, 5).indices, exact.indices) > starved + 0.1


@pytest.mark.parametrize("t, exclude", [(3, True), (5, False), (9, True)])
def test_approx_distances_are_the_exact_costs(t, exclude):
    feats = smooth_map(6, 25, 27, seed=t)
    ref = reference.knn_approx(feats, t, 6, exclude_overlapping=exclude)
    torch.testing.assert_close(ref.distances.double(), exact_costs(feats, t, ref.indices), rtol=1e-5, atol=1e-8)
    assert (ref.distances[:, 1:] >= ref.distances[:, :-1]).all()  # nearest first
    assert ref.distances.dtype == feats.dtype


def test_full_candidate_pool_is_the_exact_search():
    # Without the overlap rule every window has all N - 1 others as candidates; a pool and
    # shortlist that large leave nothing to approximate.
    feats = uniform_map(5, 14, 15, seed=3)
    n = 14 * 15
    exact = reference.knn(feats, 5, 7, exclude_overlapping=False)
    approx = reference.knn_approx(feats, 5, 7, exclude_overlapping=False, pool=n - 1, shortlist=n - 1)
    assert torch.equal(approx.indices, exact.indices)
    torch.testing.assert_close(approx.distances, exact.distances, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("method", ["exact", "approx"])
def test_overlapping_windows_are_excluded(method):
    h, w, t = 18, 21, 5
    ref = reference.knn(uniform_map(3, h, w, 4), t, 8, method=method)
    ys, xs = torch.arange(h * w) // w, torch.arange(h * w) % w
    dy = (ys[:, None] - ys[ref.indices]).abs()
    dx = (xs[:, None] - xs[ref.indices]).abs()
    assert ((dy >= t) | (dx >= t)).all()  # no neighbour shares a pixel with its window
    assert (ref.indices.sort(dim=1).values.diff(dim=1) > 0).all()  # k distinct neighbours


@pytest.mark.parametrize("method", ["exact", "approx"])
def test_without_exclusion_only_the_window_itself_is_left_out(method):
    ref = reference.knn(smooth_map(4, 16, 16, 5), 3, 4, method=method, exclude_overlapping=False)
    assert (ref.indices != torch.arange(256)[:, None]).all()
    ys, xs = torch.arange(256) // 16, torch.arange(256) % 16
    near = ((ys[:, None] - ys[ref.indices]).abs() < 3) & ((xs[:, None] - xs[ref.indices]).abs() < 3)
    assert near.any()  # overlapping windows, the most alike on a smooth map, are allowed


def test_approx_is_deterministic_and_leaves_the_global_rng_alone():
    feats = uniform_map(6, 20, 20, 6)
    state = torch.random.get_rng_state()
    a = reference.knn_approx(feats, 3, 4)
    assert torch.equal(torch.random.get_rng_state(), state)
    b = reference.knn_approx(feats, 3, 4)
    assert torch.equal(a.indices, b.indices) and torch.equal(a.distances, b.distances)


def test_float64_and_batched_input():
    feats = smooth_map(4, 16, 18, 7).double()
    ref = reference.knn_approx(feats[None], 3, 3)
    assert ref.distances.dtype == torch.float64 and ref.shape == (16, 18) and ref.patch_size == 3
    torch.testing.assert_close(ref.distances, exact_costs(feats, 3, ref.indices), rtol=1e-10, atol=1e-12)


def test_auto_method_is_exact_while_affordable():
    assert reference.knn_method((152, 40, 40), 3) == "exact"  # paper320_knn
    assert reference.knn_method((512, 40, 40), 3) == "exact"
    assert reference.knn_method((152, 64, 64), 5) == "approx"
    assert reference.knn_method((512, 128, 128), 9) == "approx"  # paper at 1024^2
    assert reference.knn_method((512, 128, 128), 9, "exact") == "exact"
    assert reference.knn_method((4, 10, 10), 3, budget=0) == "approx"
    assert reference.knn(uniform_map(3, 12, 12, 0), 3, 2, method="auto").method == "exact"


def test_pipeline_switches_to_the_approximate_search(monkeypatch):
    def make(feats, preset):
        return methods.make_reference(feats, preset.reference, preset.patch_size, knn_k=preset.knn_k,
                                      knn_method=preset.knn_method)

    feats = smooth_map(8, 20, 20, 8)
    preset = PRESETS["paper320_knn"]
    assert preset.knn_method == "auto"
    assert make(feats, preset).method == "exact"
    monkeypatch.setattr(reference, "KNN_EXACT_BUDGET", 20**4 * 8 * 9 - 1)  # just below this map's exact cost
    ref = make(feats, preset)
    assert ref.method == "approx" and ref.k == preset.knn_k
    from dataclasses import replace

    assert make(feats, replace(preset, knn_method="exact")).method == "exact"


def test_exact_search_refuses_large_maps_and_points_to_approx():
    with pytest.raises(ValueError, match="method='approx'"):
        reference.knn(torch.rand(2, 20, 20), 3, 2, max_patches=399)
    with pytest.raises(ValueError, match="max_patches"):
        reference.knn_approx(torch.rand(2, 20, 20), 3, 2, max_patches=399)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(k=0), "k must be a positive integer"),
        (dict(k=2.5), "k must be a positive integer"),
        (dict(k=True), "k must be a positive integer"),
        (dict(k=200), "larger than the"),
        (dict(dims=0), "dims must be a positive integer"),
        (dict(pool=3.5), "pool must be a positive integer"),
        (dict(k=5, shortlist=4), "k <= shortlist <= pool"),
        (dict(pool=8, shortlist=9), "k <= shortlist <= pool"),
        (dict(bins=0), "bins must be a positive integer"),
        (dict(patch_size=4), "odd"),
    ],
)
def test_approx_checks_its_input(kwargs, message):
    kwargs = {"patch_size": 3, "k": 2, **kwargs}
    with pytest.raises(ValueError, match=message):
        reference.knn_approx(torch.rand(2, 12, 12), **kwargs)


def test_bad_method_and_inputs():
    with pytest.raises(ValueError, match="method must be one of"):
        reference.knn(torch.rand(2, 12, 12), 3, 2, method="fast")
    with pytest.raises(TypeError, match="torch.Tensor"):
        reference.knn_approx(np.zeros((2, 12, 12)), 3, 2)
    with pytest.raises(ValueError, match="NaN"):
        reference.knn_approx(torch.full((2, 12, 12), float("nan")), 3, 2)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_approx_on_a_cuda_tensor():
    feats = smooth_map(8, 20, 20, 9)
    ref = reference.knn_approx(feats.cuda(), 3, 4)
    assert ref.indices.device.type == "cuda" and ref.distances.device.type == "cuda"
    cpu = reference.knn_approx(feats, 3, 4)
    assert torch.equal(ref.indices.cpu(), cpu.indices)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_knn_within_a_small_memory_budget_gives_identical_results(dtype):
    """Sorted windows built a channel (or a few) at a time: the same bits as all channels at once."""
    torch.manual_seed(0)
    feats = torch.rand(19, 17, 15, dtype=dtype)
    t, k = 5, 3
    whole = 10**12  # every channel in one chunk: the unchunked computation
    tiny = 1  # one channel per chunk
    a = reference.knn_approx(feats, t, k=k, sorted_bytes=whole)
    b = reference.knn_approx(feats, t, k=k, sorted_bytes=tiny)
    assert torch.equal(a.indices, b.indices) and torch.equal(a.distances, b.distances)
    scaled = ops.scale_features(feats)
    for fn, args in ((kernels.fca, (3.0, 1.0)), (kernels.sww, (2.0,))):
        full = fn(scaled, t, *args, None, a.indices, sorted_bytes=whole)
        for budget in (tiny, 3 * 17 * 15 * t * t * feats.element_size()):
            assert torch.equal(full, fn(scaled, t, *args, None, a.indices, sorted_bytes=budget))
    sw = kernels.sorted_windows(scaled, t, scale=False)
    queries = np.arange(17 * 15)
    cand = np.random.default_rng(1).integers(0, 17 * 15, (len(queries), 6))
    expected = kernels.pair_costs(sw, queries, cand)
    for budget in (tiny, whole):
        assert np.array_equal(kernels.pair_costs_chunked(scaled, t, queries, cand, sorted_bytes=budget), expected)
    with pytest.raises(ValueError, match="sorted_bytes must be a positive number of bytes"):
        kernels.pair_costs_chunked(scaled, t, queries, cand, sorted_bytes=0)
