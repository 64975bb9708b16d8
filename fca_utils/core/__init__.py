"""The method itself, and the small utilities under it; it knows no networks and no datasets.

Windows and small tensor operations (:mod:`.ops`, :mod:`.windows`), the references R of
Eq. (1) (:mod:`.reference`: median of Eq. (7), mean, random, all, k-NN), the patch
statistics S (:mod:`.statistics`: Eqs. (2)-(5)) with their numba kernels
(:mod:`.kernels`), the baseline of Aota et al. (:mod:`.baselines`), image conversion
(:mod:`.images`), padding an image with its own texture (:mod:`.padding`), file writing, downloading and progress bars (:mod:`.io`) and the one registry
from a statistic's name to its function, with the paper's presets (:mod:`.methods`).

This layer imports nothing else from ``fca_utils``.
"""
