"""The numbers the paper reports, transcribed once, as plain data.

Source: Ardelean & Weyrich, "High-Fidelity Zero-Shot Texture Anomaly Localization Using
Feature Correspondence Analysis", WACV 2024. Every value was read from two text
renderings of the PDF (Markdown and LaTeX); the numbers agree everywhere. What the renderings lose is listed under *Rendering differences* below.

Conventions
-----------
- Metrics are floats in percent, exactly as printed (``71.5`` stays ``71.5``).
- Times are seconds, as printed (``134`` becomes ``134.0``).
- A printed "–" is ``None``.
- Dicts keep the paper's row and column order.
- PRO is PRO(0.3): the per-region overlap integrated up to a false positive rate of 0.3,
  normalized (Sec. 4.2). AUROC is pixel-level, AUROCc image-level, F1 the pixel-level
  F1-max at the F1-optimal threshold.

Rendering differences (``paper.md`` vs ``paper_with_latex.txt``)
----------------------------------------------------------------
- Captions exist only in ``paper_with_latex.txt`` (copied into :data:`CAPTIONS`).
- Table 1: the LaTeX header reads "PRO ↑ / AUROC ↑", the Markdown one "PRO / AUROC". The
  caption says the best results are bold; neither rendering keeps the bold.
- Table 3: the LaTeX rendering drops every "†" (rows and caption: "We note with  results")
  and drops MAEDAY's "–" (its row shows two numbers only). The Markdown rendering drops the
  "k" of "k-NN" ("Ours320 + -NN"). Both show the subscript 320 as plain "Ours320".
- Table 4: the Markdown rendering drops the "k" of "k-NN" ("Ours + -NN").
- Table 5: the Markdown rendering loses the whole complexity column and the resolution
  header; the LaTeX rendering keeps both but drops the two "‡" marks (on 199 and 392) and
  the "‡" before the footnote. Complexities are therefore from the LaTeX rendering, the ‡
  from the Markdown one.
- Table 7: the LaTeX rendering loses every ✓ / ✗ / – mark (only the numbers survive);
  the marks are from the Markdown rendering.

Cross-table consistency (same paper, different tables)
------------------------------------------------------
Class means of Table 6 reproduce the Table 3 / 4 entries within rounding (±0.01), except:

- MVTec AD "Ours + KNN": Table 6 averages to PRO 95.556 (AUROC 97.778), Table 3 prints
  "Ours320 + k-NN" as 95.58 (97.77); the PRO differs by more than rounding allows.
- DTD-Synthetic "Aota et al.": Table 6 averages to AUROC 97.911, Table 4 prints 98.00.

Table 6's "Ours + KNN" is the 320×320 k-NN variant ("Ours320 + k-NN" in Tables 3 and 4;
on WFT its means are exactly Table 4's 86.24 / 96.19). Table 7's full row (97.18 / 98.73)
equals Table 3's "Ours", its "HR ✗" row (95.46 / 97.74) Table 3's "Ours320". Table 1's VGG
PROs equal the "Global" row of Table 2 (Hist 73.17, SWW 77.40, FCA 81.08).
"""
from __future__ import annotations

__all__ = [
    "CAPTIONS",
    "TABLE1",
    "TABLE2",
    "TABLE3",
    "TABLE3_FROM_OTHER_PAPERS",
    "TABLE3_MULTI_SHOT",
    "TABLE4",
    "TABLE5",
    "TABLE5_SCALES_POORLY",
    "TABLE6",
    "TABLE7",
    "TABLE7_ABLATIONS",
    "FIGURE9",
    "HYPERPARAMETERS",
]

# Captions as printed in paper_with_latex.txt (Markdown rendering has none).
CAPTIONS = {
    1: "Preliminary experiment, comparing our patch statistics method to different "
       "baselines. Compared in terms of two metrics: PRO(0.3) and AUROC. The best results "
       "are highlighted in bold.",
    2: "Analysis of the effect of the Reference Selection method. We report the PRO(0.3) "
       "metric as well as the running time per image. Variants that would be unreasonably "
       "slow to be used in practice were marked with “–”, and only the time was reported.",
    3: "Quantitative comparison on MVTec AD. We note with † results taken from different "
       "papers (may be evaluated slightly differently, as discussed in Section 4.1). The "
       "subscript 320 marks running our method at the lower resolution. PatchCore and RD++ "
       "are included for reference despite being multi-shot methods.",
    4: "Quantitative comparison on DTD-Synthetic, Woven Fabric Textures (WFT), and Aitex.",
    5: "Complexity analysis. D: number of features; T^2: patch area; N: image pixel count; "
       "B: bins per histogram. Inference time is computed at 320×320 and 1024×1024 "
       "resolutions.",
    6: "Metrics breakdown into texture classes.",
    7: "Ablating different components of our pipeline: F - Feature Extractor, R - "
       "Reference, HR - Running the method at high resolution. See text for more details.",
}

# Table 1 (Sec. 3.1/3.2) — preliminary experiment on the MVTec AD textures: images scaled
# to 256×256, feature maps at the same resolution (C ≈ 128, colors C = 3), patch size
# T = 25, global reference. {statistic: {feature: (PRO, AUROC)}}.
# Printed row label of "FCA" is "FCA (ours)".
TABLE1 = {
    "Moments": {
        "Colors": (46.51, 75.62), "RandProj": (40.66, 73.33), "Steerable": (64.21, 80.78),
        "TEM": (53.97, 75.64), "VGG": (61.96, 83.82),
    },
    "Histogram": {
        "Colors": (50.43, 77.80), "RandProj": (53.74, 80.48), "Steerable": (70.64, 84.43),
        "TEM": (68.47, 84.71), "VGG": (73.17, 88.44),
    },
    "SWW": {
        "Colors": (58.62, 83.62), "RandProj": (62.21, 85.89), "Steerable": (73.08, 87.77),
        "TEM": (74.48, 89.36), "VGG": (77.40, 91.44),
    },
    "FCA": {
        "Colors": (63.30, 85.76), "RandProj": (66.28, 87.62), "Steerable": (71.75, 86.99),
        "TEM": (75.33, 90.18), "VGG": (81.08, 92.58),
    },
}

# Table 2 (Sec. 3.3) — reference selection, same preliminary setup (VGG features).
# {reference: {statistic: (PRO or None, seconds per image)}}. "Random (k)": k random
# patches; "All": every patch (pairwise); "Global": one aggregated reference (global
# histogram for Hist, the Eq. (7) median for SWW/FCA). "–" = too slow, only time reported.
TABLE2 = {
    "Random (1)": {"Hist": (60.95, 1.1), "SWW": (59.56, 5.7), "FCA": (62.01, 9.2)},
    "Random (3)": {"Hist": (67.04, 1.1), "SWW": (66.79, 8.2), "FCA": (69.57, 18.7)},
    "Random (10)": {"Hist": (72.99, 1.2), "SWW": (73.23, 17.3), "FCA": (75.91, 52.3)},
    "Random (100)": {"Hist": (74.55, 1.7), "SWW": (75.69, 134.0), "FCA": (78.45, 482.0)},
    "All": {"Hist": (74.01, 380.0), "SWW": (None, 84984.0), "FCA": (None, 314577.0)},
    "Global": {"Hist": (73.17, 1.1), "SWW": (77.40, 5.7), "FCA": (81.08, 9.2)},
}

# Table 3 (Sec. 4.3) — MVTec AD textures (carpet, grid, leather, tile, wood).
# {method: (PRO, AUROC, AUROCc)}. Printed labels carry citations ("RD++ all [51]") and
# "†"; keys here drop both. Ours320 = 320×320 input, T = 3; Ours = full resolution, T = 9.
TABLE3 = {
    "PatchCore all": (93.64, 97.52, 98.96),
    "RD++ all": (96.06, 98.06, 99.80),
    "Saliency": (22.92, 58.41, 46.92),
    "Bellini et al.": (50.75, 76.06, 36.90),
    "MAEDAY": (None, 75.20, 88.90),
    "WinCLIP": (71.5, 89.06, 99.64),
    "SAA+": (64.79, 77.82, 93.86),
    "April-GAN": (92.57, 96.51, 97.61),
    "Aota et al.": (93.82, 97.47, 99.67),
    "Ours320": (95.46, 97.74, 99.21),
    "Ours320 + k-NN": (95.58, 97.77, 99.17),
    "Ours": (97.18, 98.73, 99.58),
}
# "†" in Table 3: numbers taken from the papers that introduced the method (Appendix E).
TABLE3_FROM_OTHER_PAPERS = frozenset({"PatchCore all", "RD++ all", "MAEDAY", "WinCLIP"})
# Multi-shot methods ("all" = trained on all normal training images), shown for reference.
TABLE3_MULTI_SHOT = frozenset({"PatchCore all", "RD++ all"})

# Table 4 (Sec. 4.3) — {dataset: {method: (PRO, AUROC, F1)}}. DTD-Synthetic and Aitex are
# resized to 320×320, so there "Ours" is already the 320 variant; WFT is run at 512×512.
TABLE4 = {
    "DTD-Synthetic": {
        "April-GAN": (88.50, 95.32, 52.40),
        "Aota et al.": (94.32, 98.00, 65.96),
        "Ours": (94.71, 98.03, 69.87),
        "Ours + k-NN": (95.93, 98.51, 71.79),
    },
    "WFT": {
        "April-GAN": (84.97, 94.90, 71.51),
        "Aota et al.": (84.59, 96.11, 72.07),
        "Ours320": (73.54, 93.09, 65.86),
        "Ours320 + k-NN": (86.24, 96.19, 72.76),
        "Ours": (89.57, 98.26, 79.13),
    },
    "Aitex": {
        "April-GAN": (72.62, 85.90, 35.23),
        "Aota et al.": (87.11, 96.70, 61.09),
        "Ours": (91.07, 97.51, 62.39),
        "Ours + k-NN": (91.24, 97.52, 62.62),
    },
}

# Table 5 (Sec. 5) — complexity (D: features, T^2: patch area, N: pixel count, B: bins)
# and inference time per image in seconds at 320×320 and 1024×1024 (RTX A5000, Sec. 3.4).
TABLE5 = {
    "Moments": {"complexity": "O(NTD)", "seconds_320": 0.04, "seconds_1024": 0.05},
    "Histogram": {"complexity": "O(NTBD)", "seconds_320": 0.06, "seconds_1024": 0.08},
    "Aota et al.": {"complexity": "O(NTD+N^2D)", "seconds_320": 1.10, "seconds_1024": 199.0},
    "Ours": {"complexity": "O(NT^2 log(T) D)", "seconds_320": 0.71, "seconds_1024": 1.07},
    "Ours + k-NN": {
        "complexity": "O(N^2 T^2 log(T) D)", "seconds_320": 3.97, "seconds_1024": 392.0,
    },
}
# "‡" on the 1024×1024 times: "Aota et al. and Ours + k-NN scale poorly with large image sizes."
TABLE5_SCALES_POORLY = frozenset({"Aota et al.", "Ours + k-NN"})

# Table 6 (Appendix A) — per-class breakdown. {dataset: {class: {method: (PRO, AUROC, F1)}}}.
# "Ours + KNN" is the 320×320 k-NN variant (see module docstring); printed dataset labels
# carry citations ("MVTec AD [10]", "DTD-Synthetic [4]", "WFT [12]", "Aitex [47]").
_T6_METHODS = ("Ours", "Ours + KNN", "Aota et al.")


def _t6(rows):
    return {c: dict(zip(_T6_METHODS, (v[0:3], v[3:6], v[6:9]))) for c, v in rows.items()}


TABLE6 = {
    "MVTec AD": _t6({
        "carpet": (95.44, 98.30, 72.58, 96.92, 98.81, 71.53, 96.13, 98.83, 69.97),
        "grid": (98.07, 99.46, 61.62, 97.77, 99.27, 52.41, 97.01, 99.12, 51.89),
        "leather": (98.90, 99.45, 66.06, 98.92, 99.52, 60.26, 98.13, 99.47, 58.74),
        "tile": (96.33, 98.22, 82.16, 88.95, 94.31, 65.55, 84.29, 93.41, 63.74),
        "wood": (97.18, 98.22, 76.34, 95.22, 96.98, 62.42, 93.56, 96.54, 58.68),
    }),
    "DTD-Synthetic": _t6({
        "Blotchy_099": (98.67, 99.55, 78.92, 98.73, 99.57, 79.50, 97.60, 99.19, 69.56),
        "Marbled_078": (97.97, 99.33, 76.25, 98.05, 99.37, 76.60, 96.51, 98.80, 66.11),
        "Mesh_114": (94.44, 97.63, 65.46, 95.91, 98.16, 66.95, 95.14, 97.75, 64.16),
        "Stratified_154": (98.78, 99.15, 66.67, 98.81, 99.19, 66.80, 98.53, 99.25, 64.48),
        "Woven_068": (97.24, 98.86, 70.51, 97.31, 98.92, 70.72, 95.34, 98.29, 65.61),
        "Woven_125": (98.51, 99.52, 77.03, 98.66, 99.56, 77.59, 97.00, 98.99, 67.50),
        "Fibrous_183": (96.95, 98.96, 72.82, 97.21, 99.06, 73.29, 94.42, 98.20, 65.42),
        "Matted_069": (89.43, 99.33, 76.15, 88.89, 99.37, 76.60, 89.34, 99.17, 68.64),
        "Perforated_037": (94.55, 96.60, 64.66, 96.62, 97.76, 68.78, 95.74, 97.05, 67.41),
        "Woven_001": (94.73, 98.93, 66.17, 97.79, 99.59, 68.96, 96.51, 99.42, 63.59),
        "Woven_104": (89.98, 96.84, 64.93, 90.40, 96.96, 66.05, 89.78, 96.60, 65.28),
        "Woven_127": (85.26, 91.63, 58.88, 92.82, 94.62, 69.58, 85.96, 92.22, 63.81),
    }),
    "WFT": _t6({
        "texture_1": (92.38, 97.98, 80.34, 85.36, 94.25, 68.46, 89.01, 95.94, 73.12),
        "texture_2": (86.77, 98.56, 77.91, 87.12, 98.13, 77.05, 80.16, 96.28, 71.02),
    }),
    "Aitex": _t6({
        "t_00": (78.00, 95.08, 49.41, 75.19, 94.08, 49.56, 62.91, 90.21, 45.33),
        "t_01": (76.85, 91.28, 69.62, 80.08, 92.34, 73.47, 70.71, 91.31, 71.04),
        "t_02": (96.34, 99.32, 56.30, 96.57, 99.33, 56.93, 92.92, 99.02, 53.45),
        "t_03": (88.77, 97.94, 68.04, 89.44, 97.97, 67.75, 87.43, 97.59, 65.83),
        "t_04": (99.39, 99.79, 72.44, 99.39, 99.79, 72.23, 97.89, 99.75, 72.04),
        "t_05": (98.15, 99.17, 49.34, 98.04, 99.11, 47.66, 97.95, 99.05, 43.41),
        "t_06": (99.97, 99.99, 71.60, 99.97, 99.99, 70.73, 99.98, 99.99, 76.54),
    }),
}

# Table 7 (Appendix D.1) — direct ablation on MVTec AD. True = ✓ (component as in the
# final method), False = ✗ (ablated), None = – (not applicable).
#   F   ✗: WideResNet-50 with random weights instead of ImageNet pretraining.
#   R   ✗: reference = average of all feature patches instead of the Wasserstein-optimal
#          (median, Eq. 7) feature set.
#   HR  ✗: run at 320×320 instead of full resolution 1024×1024.
#   FCA ✗: EMD between per-patch feature histograms instead of FCA; the reference is then
#          the global histogram, so R is "–".
TABLE7 = [
    {"F": False, "R": True, "HR": True, "FCA": True, "PRO": 70.24, "AUROC": 87.99},
    {"F": True, "R": False, "HR": True, "FCA": True, "PRO": 69.62, "AUROC": 78.58},
    {"F": True, "R": True, "HR": False, "FCA": True, "PRO": 95.46, "AUROC": 97.74},
    {"F": True, "R": None, "HR": True, "FCA": False, "PRO": 95.35, "AUROC": 98.00},
    {"F": True, "R": True, "HR": True, "FCA": True, "PRO": 97.18, "AUROC": 98.73},
]
TABLE7_ABLATIONS = {
    "F": "WideResNet-50 with randomly initialized weights (no ImageNet pretraining)",
    "R": "mean of all feature patches instead of the Wasserstein-optimal median (Eq. 7)",
    "HR": "320×320 instead of full resolution (1024×1024)",
    "FCA": "EMD between patch feature histograms, global histogram as reference",
}

# Figure 9 (Appendix D.2) — sensitivity on MVTec AD at 1024×1024. The values are only
# plotted; neither rendering gives numbers, nor the σ_p / σ_s ranges that were swept.
FIGURE9 = {
    "values": None,
    "dataset": "MVTec AD",
    "resolution": 1024,
    "T": (7, 9, 11),
    "sigma_p": None,  # varied; range not stated in the text
    "sigma_s": None,  # varied; range not stated in the text
    "default": {"T": 9, "sigma_p": 3.0, "sigma_s": 1.0},  # "Ours default" in the caption
    "note": "Robust to σ_p and σ_s; clearly worse at T = 7 (smaller receptive field, "
            "more false positives). T should cover the texture's period.",
}

# Settings stated in the paper, with where they are stated.
HYPERPARAMETERS = {
    "final": {  # Sec. 3.4, Appendix D.2
        "sigma_p": 3.0,
        "sigma_s": 1.0,
        "T_full_resolution": 9,
        "T_320": 3,  # "for consistency with Aota et al." at 320×320
        "low_resolution": 320,
        "backbone": "WideResNet-50 (ImageNet), second convolutional block, 512 channels, stride 8",
        "reference": "median over sorted patches (Eq. 7)",
        "source": "Sec. 3.4; Appendix D.2",
    },
    "preliminary": {  # Tables 1 and 2
        "image_size": 256,
        "T": 25,
        "sigma": 6.0,  # Gaussian spatial smoothing for every statistic
        "fca_sigma_p": 6.0,
        "fca_sigma_s": 3.0,
        "channels": 128,  # C ≈ 128 (colors: C = 3)
        "random_kernel_size": 5,  # RandProj: normalized random 5×5 kernels
        "vgg_receptive_field": 5,  # first two conv layers of VGG19
        "source": "Sec. 3.1; Appendix E",
    },
    "histogram": {
        "bins": 10,
        "feature_range": (0.0, 1.0),
        "source": "Appendix E",
    },
    "sww_fca_feature_range": {"feature_range": (0.0, 1.0), "source": "Appendix E"},
    "evaluation": {
        "pro_fpr_limit": 0.3,
        "border_ignored_in_visualizations": 0.10,  # "≈ 10 %", Appendix B.2
        "source": "Sec. 4.2; Appendix B.2",
    },
}
