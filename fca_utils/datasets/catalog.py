"""The datasets the paper evaluates on, and their evaluation protocols, as data.

Each entry of :data:`DATASETS` says what the dataset is, where it comes from, what a
complete copy contains (used to verify a user's copy) and how the paper evaluates it.
Numbers are cited next to where they are used; nothing here is guessed:

- Protocols: paper Sec. 3.4 ("T = 9 when running at full dataset resolution and T = 3
  ... at 320 x 320"), Sec. 4.1 (datasets), Appendix D.2; border crops from the authors'
  public configuration (``paddings: [100]`` for MVTec AD, ``[50]`` for WFT), about
  10 % of the side for the datasets the authors give no crop for.
- MVTec AD defect types and test counts per texture class: Bergmann et al., IJCV 2021.
- MVTec AD archive SHA-256: the one anomalib verifies downloads against
  (``src/anomalib/data/datamodules/image/mvtecad.py``, ``DOWNLOAD_INFO``).
- WFT: 50 defective test images per texture, 512 x 512 (paper Sec. 4.1); the archive
  URL is the one in the FCA authors' README; no checksum is published.
- Aitex: file naming and the 7 fabrics from the AFID paper (Silvestre-Blanes et al.,
  AUTEX Research Journal 2019); archive URLs from AITEX's download page; no checksum
  is published.
- DTD-Synthetic: the 12 classes of the paper's Table 6; distributed by Aota et al.
  through a Google Drive folder; no checksum is published.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Protocol", "DATASETS", "FEATURE_STRIDE", "data_dir", "default_root"]

FEATURE_STRIDE = 8  # WideResNet-50-2 layer2 (paper Sec. 3.4)


@dataclass(frozen=True)
class Protocol:
    """How the paper runs and evaluates a dataset.

    Attributes
    ----------
    image_size : int or None
        Side the images are resized to before feature extraction; ``None`` runs at
        each image's own resolution.
    patch_size : int or None
        FCA window ``T``. ``None`` chooses it from the feature-map size: the paper's
        T = 9 on the 128 x 128 feature map of a 1024 x 1024 image, scaled to the image's
        feature map and rounded to the nearest odd number, at least 3.
    border : int or float
        Pixels cropped from each side before computing metrics, at the mask's
        resolution (int), or that fraction of the image side (float).
    preset : str
        Name of the :data:`fca_utils.core.methods.PRESETS` entry the protocol uses.
    source : str
        Where in the paper (or the authors' code) the protocol comes from.
    """

    image_size: int | None
    patch_size: int | None
    border: int | float
    preset: str
    source: str

    def patch_size_for(self, height: int, width: int) -> int:
        """The FCA window ``T`` for an image of ``height`` x ``width`` pixels."""
        if self.patch_size is not None:
            return self.patch_size
        side = self.image_size or min(height, width)
        scaled = side / FEATURE_STRIDE * 9 / 128
        return max(3, 2 * int(round((scaled - 1) / 2)) + 1)

    def border_for(self, height: int, width: int) -> int:
        """Border crop in pixels for a mask of ``height`` x ``width`` pixels."""
        if isinstance(self.border, float):
            return int(round(self.border * min(height, width)))
        return int(self.border)


_SEC = "paper Sec. 3.4 and 4.1"

DATASETS: dict[str, dict] = {
    "embedded": {
        "title": "Embedded benchmark (generated, no download)",
        "classes": None,  # fca_utils.datasets.synthetic.CLASS_NAMES
        "protocols": {
            "paper": Protocol(None, None, 0.1, "paper",
                              "full resolution like MVTec AD (Sec. 4.1); T from the feature size "
                              "(Sec. 3.4: 'T should be set depending on the size of the feature maps'); "
                              "border ~10 % of the side"),
        },
    },
    "mvtec": {
        "title": "MVTec AD, texture classes",
        "homepage": "https://www.mvtec.com/company/research/datasets/mvtec-ad",
        "licence": "CC BY-NC-SA 4.0",
        "citation": "Bergmann et al., MVTec AD, CVPR 2019 and IJCV 2021",
        "classes": {
            "carpet": {"defects": ["color", "cut", "hole", "metal_contamination", "thread"],
                       "test_count": 117, "size": (1024, 1024)},
            "grid": {"defects": ["bent", "broken", "glue", "metal_contamination", "thread"],
                     "test_count": 78, "size": (1024, 1024)},
            "leather": {"defects": ["color", "cut", "fold", "glue", "poke"],
                        "test_count": 124, "size": (1024, 1024)},
            "tile": {"defects": ["crack", "glue_strip", "gray_stroke", "oil", "rough"],
                     "test_count": 117, "size": (840, 840)},
            "wood": {"defects": ["color", "combined", "hole", "liquid", "scratch"],
                     "test_count": 79, "size": (1024, 1024)},
        },
        "protocols": {
            "paper": Protocol(None, 9, 100, "paper", f"{_SEC}; paddings [100] of the authors' conf/dataset/mvtec.yaml"),
            "paper320": Protocol(320, 3, 100, "paper320", f"{_SEC}, Table 3 'Ours320'; metrics at mask resolution"),
        },
        "archives": [{
            "filename": "mvtec_anomaly_detection.tar.xz",
            "url": "https://www.mydrive.ch/shares/38536/3830184030e49fe74747669442f0f283/"
                   "download/420938113-1629960298/mvtec_anomaly_detection.tar.xz",
            "sha256": "cf4313b13603bec67abb49ca959488f7eedce2a9f7795ec54446c649ac98cd3d",
            "sha256_source": "anomalib, src/anomalib/data/datamodules/image/mvtecad.py (DOWNLOAD_INFO)",
            "size": "about 4.9 GB (all 15 classes; only the 5 texture classes are extracted)",
        }],
        "manual": (
            "Open https://www.mvtec.com/company/research/datasets/mvtec-ad, accept the licence "
            "(CC BY-NC-SA 4.0) and download the whole dataset, 'mvtec_anomaly_detection.tar.xz'. "
            "Put it at {cache}/mvtec_anomaly_detection.tar.xz (or pass --source PATH to the archive "
            "or to the extracted folder that contains carpet/, grid/, ...), then run again:\n"
            "    python -m fca_utils.datasets prepare mvtec --root {root}"
        ),
    },
    "wft": {
        "title": "Woven Fabric Textures (WFT), MVTec",
        "homepage": "https://www.mvtec.com/company/research/publications",
        "licence": "distributed by MVTec for research; no licence text is stated with the download link "
                   "(check the archive's readme)",
        "citation": "Bergmann et al., Improving unsupervised defect segmentation by applying structural "
                    "similarity to autoencoders, VISIGRAPP 2019",
        "classes": {
            "texture_1": {"defects": None, "defective_count": 50, "size": (512, 512)},
            "texture_2": {"defects": None, "defective_count": 50, "size": (512, 512)},
        },
        "protocols": {
            "paper": Protocol(None, 9, 50, "paper", f"{_SEC}; paddings [50] of the authors' conf/dataset/wft.yaml"),
            "paper320": Protocol(320, 3, 50, "paper320", f"{_SEC}, Table 4 'Ours320'"),
        },
        "archives": [{
            "filename": "textures.zip",
            "url": "https://www.mydrive.ch/shares/46066/8338a11f32bb1b7b215c5381abe54ebf/"
                   "download/420939225-1629955758/textures.zip",
            "sha256": None,
            "sha256_source": "none published; the SHA-256 of your archive is recorded on first preparation",
            "size": "not published",
        }],
        "manual": (
            "Download 'textures.zip' (the link is in the README of github.com/TArdelean/"
            "AnomalyLocalizationFCA, section Data) and put it at {cache}/textures.zip (or pass "
            "--source PATH to the zip or to the extracted folder that contains texture_1/ and "
            "texture_2/), then run again:\n"
            "    python -m fca_utils.datasets prepare wft --root {root}"
        ),
    },
    "dtd_synthetic": {
        "title": "DTD-Synthetic (Aota et al.), resized to 320 x 320",
        "homepage": "https://drive.google.com/drive/folders/10OyPzvI3H6llCZBxKxFlKWt1Pw1tkMK1",
        "licence": "not stated by the authors; derived from the Describable Textures Dataset, which is "
                   "made available for research purposes",
        "citation": "Aota, Tong, Okatani, Zero-shot versus many-shot: unsupervised texture anomaly "
                    "detection, WACV 2023",
        "classes": {name: {"defects": None, "size": (320, 320)} for name in (
            "Blotchy_099", "Marbled_078", "Mesh_114", "Stratified_154", "Woven_068", "Woven_125",
            "Fibrous_183", "Matted_069", "Perforated_037", "Woven_001", "Woven_104", "Woven_127")},
        "resize": 320,
        "protocols": {
            "paper": Protocol(320, 3, 32, "paper320", f"{_SEC}: 'all images are resized to a fixed 320 x 320'; "
                                                       "Table 4; border 10 % of 320"),
        },
        "archives": [],
        "manual": (
            "DTD-Synthetic is shared by Aota et al. as a Google Drive folder (no direct link):\n"
            "    https://drive.google.com/drive/folders/10OyPzvI3H6llCZBxKxFlKWt1Pw1tkMK1\n"
            "Download the DTD-Synthetic dataset from it (the folder with the 12 classes Blotchy_099 ... "
            "Woven_127, each with test/ and ground_truth/; a .zip is fine), then run:\n"
            "    python -m fca_utils.datasets prepare dtd_synthetic --root {root} --source PATH/TO/DTD-Synthetic"
        ),
    },
    "aitex": {
        "title": "AITEX Fabric Image Database (AFID), cut and resized to 320 x 320",
        "homepage": "https://www.aitex.es/afid/",
        "licence": "made freely available by AITEX for research on its download page; no licence file",
        "citation": "Silvestre-Blanes et al., A public fabric database for defect detection methods and "
                    "results, AUTEX Research Journal 19(4), 2019",
        "classes": {f"t_{k:02d}": {"defects": None, "size": (320, 320)} for k in range(7)},
        "resize": 320,
        "protocols": {
            "paper": Protocol(320, 3, 32, "paper320", f"{_SEC}: squares, uncovered and anomaly-free frames "
                                                       "dropped, 320 x 320; Table 4; border 10 % of 320"),
        },
        "archives": [
            {"filename": f"{part}.7z", "url": f"https://www.aitex.es/wp-content/uploads/2019/07/{part}.7z",
             "sha256": None,
             "sha256_source": "none published; the SHA-256 of your archive is recorded on first preparation",
             "size": "not published"}
            for part in ("Defect_images", "Mask_images")
        ],
        "manual": (
            "Download Defect_images.7z and Mask_images.7z from https://www.aitex.es/afid/ "
            "(NODefect_images.7z is not needed: the paper keeps only frames with an anomaly) and "
            "either put them in {cache}/ (extracting .7z needs 'pip install py7zr'), or extract them "
            "yourself ('7z x Defect_images.7z', ...) and pass the folder holding Defect_images/ and "
            "Mask_images/:\n"
            "    python -m fca_utils.datasets prepare aitex --root {root} --source PATH/TO/AITEX"
        ),
    },
}


def data_dir() -> Path:
    """The project's ``data/`` folder (``$FCA_DATA_DIR`` if set).

    In a source checkout this is ``<repository>/data``; for an installed package,
    ``./data`` of the working directory.
    """
    env = os.environ.get("FCA_DATA_DIR")
    if env:
        return Path(env).expanduser()
    checkout = Path(__file__).resolve().parents[2] / "data"  # this file is fca_utils/datasets/catalog.py
    return checkout if checkout.is_dir() else Path.cwd() / "data"


def default_root(name: str) -> Path:
    """Where dataset ``name`` lives unless told otherwise."""
    if name == "embedded":
        return data_dir() / "embedded"
    return data_dir() / "datasets" / name
