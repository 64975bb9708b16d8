"""Evaluation: the official metrics, dataset runs with cached maps, tables and pictures.

:mod:`.metrics` (AU-PRO, pixel AUROC, F1-max, image AUROC, as in MVTec AD's evaluation
script), :mod:`.runs` (a method over a dataset, every map cached on disk),
:mod:`.tables` (pandas tables: comparison with the paper, files) and :mod:`.viz`
(overlays and comparison grids).
"""
