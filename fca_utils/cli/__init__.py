"""Command lines: ``fca-localize`` (:mod:`.localize`) and ``python -m fca_utils.reproduce``
(:mod:`.reproduce`, the notebook series under papermill, with the kernel manager of
:mod:`.kernel`)."""
