"""Remembering the features of images already seen.

Features are the expensive part of Eq. (1) on a CPU. Experiments that only change
the statistic ``S`` or the reference ``R`` (the Table 7 ablations, the Figure 9 grid of
Appendix D) wrap their extractor in a :class:`CachedExtractor` and extract the features
of each image once.
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict

import torch

from .base import Extractor

__all__ = ["CachedExtractor"]


class CachedExtractor(Extractor):
    """A feature extractor that remembers the features of every image it has computed.

    Wraps another :class:`~fca_utils.features.Extractor` and returns exactly its output
    (a copy); images are recognised by their shape, dtype and the SHA-1 of their
    values. It keeps the wrapped extractor's ``name``, so maps cached by
    :func:`fca_utils.evaluation.runs.run_method` are shared with runs of the plain extractor.
    Features are stored on the CPU.

    Parameters
    ----------
    inner : Extractor
        The extractor to wrap.
    max_items : int or None
        Keep at most this many feature maps (least recently used dropped first);
        ``None``: no limit.

    Attributes
    ----------
    hits, misses : int
        Calls answered from memory and calls that ran ``inner``.

    Examples
    --------
    >>> import torch
    >>> from fca_utils import features
    >>> f = features.CachedExtractor(features.get_extractor("colors"))
    >>> x = torch.rand(1, 3, 16, 16)
    >>> bool((f(x) == f(x)).all()), f.hits, f.misses
    (True, 1, 1)
    """

    def __init__(self, inner: Extractor, max_items: int | None = None):
        if isinstance(inner, CachedExtractor):
            inner = inner.inner
        if not isinstance(inner, Extractor):
            raise TypeError(f"CachedExtractor wraps a features.Extractor, got {type(inner).__name__}")
        if max_items is not None and max_items < 1:
            raise ValueError(f"max_items must be a positive integer or None, got {max_items}")
        super().__init__(inner.device)
        self.inner = inner
        self.name, self.stride, self.channels = inner.name, inner.stride, inner.channels
        self.min_size, self.description = inner.min_size, inner.description
        self.receptive_field = inner.receptive_field
        self.max_items = max_items
        self.hits = self.misses = 0
        self._store: OrderedDict = OrderedDict()

    @staticmethod
    def _key(image: torch.Tensor) -> tuple:
        data = image.detach().to("cpu").contiguous().numpy()
        return tuple(image.shape), str(image.dtype), hashlib.sha1(data.tobytes()).hexdigest()

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        key = self._key(image)
        if key in self._store:
            self.hits += 1
            self._store.move_to_end(key)
            return self._store[key].to(image.device).clone()
        self.misses += 1
        out = self.inner(image)
        self._store[key] = out.detach().to("cpu").clone()
        if self.max_items is not None:
            while len(self._store) > self.max_items:
                self._store.popitem(last=False)
        return out

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        return self.inner.output_size(height, width)

    def clear(self) -> None:
        """Forget every stored feature map."""
        self._store.clear()

    def __len__(self) -> int:
        return len(self._store)
