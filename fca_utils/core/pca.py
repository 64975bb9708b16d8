"""Principal component analysis of a feature map's channels, QFCA's preprocessing.

Ardelean, Rueckbeil and Weyrich ("Quantized FCA", arXiv 2510.15602) project the
features on their principal components before the patch statistics comparison; only
the abstract was reachable here, so the details below are ours: the PCA is computed
per image, over its H*W pixels as samples and its C channels as variables, centred
(no whitening), and keeps the leading ``components`` directions.

Deterministic by construction: the leading eigenpairs of the C x C covariance come from
one of two library solvers, each on one BLAS thread and with no random state (ARPACK
starts from a fixed vector); components are ordered by decreasing variance, and each
component's sign is fixed so that its loading of largest magnitude is positive. The
total variance is the covariance's trace.

- When few components are kept (``16 * components <= C``, e.g. 16 or 32 of 512), ARPACK's
  implicitly restarted Lanczos iteration (:func:`scipy.sparse.linalg.eigsh`, as
  scikit-learn's ``PCA(svd_solver="arpack")``) from a fixed start vector, to machine
  precision. It needs a few dozen products with the covariance instead of its full
  tridiagonal reduction. A Lanczos iteration can miss the second copy of an eigenvalue
  that is repeated exactly among the leading ones; covariances of real feature maps
  have no such exact ties.
- Otherwise, or if ARPACK does not converge, LAPACK's ``?syevr`` through
  :func:`scipy.linalg.eigh`, computing only the kept eigenpairs (``subset_by_index``).
  With more components kept, or a flat spectrum, ARPACK needs more iterations and
  gains nothing (``benchmarks/bench_qfca.py`` measures the PCA).

The covariance and its eigen-decomposition are computed in the features' precision,
float64 for float64 features and float32 otherwise, as scikit-learn's ``PCA`` keeps
float32 data in float32. Float32 values carry about 7 digits (fewer when the backbone
ran in bfloat16), and the float32 fit moves half the bytes of a float64 one. Its
directions agree with the float64 fit's to a few 1e-6 (``tests/test_qfca.py`` allows
1e-5), and its reconstruction error keeps a float32 rounding of about 1e-6 even when
every component is kept. Nothing here is hand-written beyond the sign convention.
"""
from __future__ import annotations

from dataclasses import dataclass

import functools
import math

import numpy as np
import scipy.linalg
import scipy.sparse.linalg
import torch
from threadpoolctl import ThreadpoolController

from .ops import as_feature_map

__all__ = ["PCAResult", "pca", "leading_eigenpairs", "DEFAULT_MAX_SAMPLES", "LANCZOS_RATIO"]

#: Pixels (at most about) the principal directions are fitted on; see :func:`pca`.
DEFAULT_MAX_SAMPLES = 2048
#: ARPACK finds the leading eigenpairs when ``LANCZOS_RATIO * components <= C`` (module docstring).
LANCZOS_RATIO = 16


@functools.cache
def _blas_libraries() -> ThreadpoolController:
    """The BLAS and OpenMP libraries of this process, looked up once (the search reads the process's memory map).

    scipy's BLAS is loaded with :mod:`scipy.linalg`, imported above, so it is among them.
    """
    return ThreadpoolController()


def leading_eigenpairs(cov: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` largest eigenvalues of the symmetric matrix ``cov``, ascending, and their unit eigenvectors (columns).

    ARPACK when ``LANCZOS_RATIO * k <= C``, else (or when ARPACK fails) LAPACK; see the
    module docstring. Computed in ``cov``'s precision, on one BLAS thread.
    """
    c = cov.shape[0]
    with _blas_libraries().limit(limits=1, user_api="blas"):
        if LANCZOS_RATIO * k <= c:
            start = np.random.default_rng(0).standard_normal(c).astype(cov.dtype)  # fixed: deterministic
            try:
                values, vectors = scipy.sparse.linalg.eigsh(cov, k=k, which="LA", v0=start)
            except scipy.sparse.linalg.ArpackError:  # includes ArpackNoConvergence
                pass
            else:
                order = np.argsort(values, kind="stable")
                return values[order], vectors[:, order]
        return scipy.linalg.eigh(cov, subset_by_index=[c - k, c - 1])


@dataclass(frozen=True)
class PCAResult:
    """The projected map and what was kept.

    Attributes
    ----------
    features : (components, H, W) tensor of the input's dtype: the centred map's
        coordinates along the principal directions
    directions : (components, C) float64 CPU tensor of unit principal directions
    mean : (C,) float64 CPU tensor, the per-channel mean removed first
    explained : (components,) float64 share of the total variance of each kept direction
    reconstruction_error : float, ``||X - X_hat||^2 / ||X - mean||^2`` of the map rebuilt from
        the kept components, over the pixels the directions were fitted on (every pixel when
        ``H * W <= max_samples``): the share of the variance in the dropped eigenvalues,
        0 when nothing is lost
    """

    features: torch.Tensor
    directions: torch.Tensor
    mean: torch.Tensor
    explained: torch.Tensor
    reconstruction_error: float


def pca(feats, components: int, *, max_samples: int = DEFAULT_MAX_SAMPLES) -> PCAResult:
    """Project a ``(C, H, W)`` feature map on its ``components`` leading principal directions.

    Parameters
    ----------
    feats : (C, H, W) tensor (a leading batch of 1 is accepted)
    components : number of directions kept, 1 to C
    max_samples : the directions are fitted on at most about this many pixels, a regular
        grid of every ``s``-th row and column (``s`` the smallest stride that fits); the
        projection and the reconstruction error use every pixel

    Returns
    -------
    :class:`PCAResult`

    Examples
    --------
    >>> import torch
    >>> f = torch.rand(6, 10, 10)
    >>> r = pca(f, 6)
    >>> r.features.shape, r.reconstruction_error < 1e-5  # float32 rounding: every component is kept
    (torch.Size([6, 10, 10]), True)
    """
    feats = as_feature_map(feats)
    c, h, w = feats.shape
    if isinstance(components, bool) or int(components) != components or not 1 <= components <= c:
        raise ValueError(f"components must be an integer from 1 to the number of channels ({c}), got {components!r}")
    if isinstance(max_samples, bool) or int(max_samples) != max_samples or max_samples < 1:
        raise ValueError(f"max_samples must be a positive integer, got {max_samples!r}")
    k = int(components)
    stride = max(1, math.ceil(math.sqrt(h * w / max_samples)))
    x = feats.detach().reshape(c, h * w)
    dtype = x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32
    x = x.to(dtype)
    # the fit runs on the CPU, in the features' precision, whatever their device: a few thousand pixels
    sample = feats.detach()[:, ::stride, ::stride].reshape(c, -1).to("cpu", dtype)
    mean = sample.mean(dim=1)
    centred = sample - mean[:, None]
    cov = centred @ centred.T / max(centred.shape[1] - 1, 1)
    values, vectors = leading_eigenpairs(cov.numpy(), k)  # ascending
    values = torch.from_numpy(values).flip(0).double().clamp(min=0)
    top = torch.from_numpy(vectors).flip(1).T.double().contiguous()  # (k, C)
    lead = top.abs().argmax(dim=1)
    top *= torch.sign(top[torch.arange(k), lead])[:, None]
    mean = mean.double()
    shift = (top @ mean).to(x.device, dtype)[:, None]
    proj = top.to(x.device, dtype) @ x - shift  # (k, N), in the features' precision, on their device
    # on the fitted pixels, the variance the kept directions miss is that of the dropped eigenvalues
    total = float(torch.trace(cov.double()))
    explained = values / total if total > 0 else torch.zeros(k, dtype=torch.float64)
    error = max(0.0, 1.0 - float(explained.sum())) if total > 0 else 0.0
    return PCAResult(proj.reshape(k, h, w).to(feats.dtype), top, mean, explained, error)
