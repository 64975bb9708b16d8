"""How Figures 5 and 8 pick their images and what they say about them (fca_utils.paper.qualitative)."""
import numpy as np
import pandas as pd
import pytest

from fca_utils.evaluation import metrics
from fca_utils.paper import qualitative


def test_per_image_pro_is_the_class_metric_on_one_image():
    rng = np.random.default_rng(0)
    mask = np.zeros((40, 40), bool)
    mask[10:18, 12:20] = True
    mask[30:33, 5:9] = True
    scores = rng.random((40, 40)) + 0.8 * mask
    assert qualitative.per_image_pro(scores, mask, border=4) == metrics.au_pro([scores], [mask], 0.3, border=4)
    perfect = mask.astype(np.float32)
    assert qualitative.per_image_pro(perfect, mask) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="defective"):
        qualitative.per_image_pro(scores, np.zeros_like(mask))


def test_median_key_takes_the_lower_median_and_breaks_ties_by_name():
    assert qualitative.median_key({"a": 3.0, "b": 1.0, "c": 2.0}) == "c"
    assert qualitative.median_key({"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0}) == "b"
    assert qualitative.median_key({"z": 5.0, "y": 5.0, "x": 5.0}) == "y"
    assert qualitative.median_key({"only": 0.1}) == "only"
    with pytest.raises(ValueError):
        qualitative.median_key({})


def test_threshold_errors_counts_false_positives_near_and_far_and_misses():
    mask = np.zeros((100, 100), bool)
    mask[40:50, 40:50] = True                 # 100 px defect
    scores = np.zeros((100, 100), np.float32)
    scores[40:50, 40:45] = 1.0                # half the defect found: 50 px
    scores[40:50, 50:52] = 1.0                # 20 px right next to it (within 5 px)
    scores[80:85, 80:86] = 1.0                # 30 px far away
    e = qualitative.threshold_errors(scores, mask, 0.5, near=0.05)
    assert e["marked"] == pytest.approx(1.0)
    assert e["false positive"] == pytest.approx(50.0)
    assert e["near defect"] == pytest.approx(40.0)
    assert e["missed"] == pytest.approx(50.0)
    nothing = qualitative.threshold_errors(np.zeros((100, 100)), mask, 0.5)
    assert np.isnan(nothing["false positive"]) and nothing["missed"] == 100.0


def test_takeaway_names_low_pro_rows_and_where_the_false_positives_are():
    t = pd.DataFrame({"defective": [4, 4, 2], "Ours PRO": [40.0, 90.0, 70.0], "Aota et al. PRO": [30.0, 95.0, 60.0],
                      "Ours false positive": [70.0, 10.0, 60.0], "Ours near defect": [20.0, 90.0, 80.0],
                      "Ours missed": [60.0, 5.0, 10.0], "Aota et al. false positive": [80.0, 20.0, 10.0],
                      "Aota et al. near defect": [95.0, 50.0, 0.0], "Aota et al. missed": [10.0, 10.0, 10.0]},
                     index=["a/x/000", "b/y/001", "c/z/000"])
    text = qualitative.figure58_takeaway(t)
    assert "1 of 3 images (a/x/000) below 50 PRO" in text
    assert "higher per-image PRO than Aota et al. in 2 of 3 images (a/x/000, c/z/000)" in text
    ours = next(line for line in text.splitlines() if line.startswith("* Ours at"))
    assert "normal pixels in 2 of 3 images (a/x/000, c/z/000)" in ours
    assert "next to the defect (an outline wider than the annotation) in 1 of 2 (c/z/000)" in ours
    assert "away from it (detections on normal texture) in 1 of 2 (a/x/000)" in ours
    assert "misses more than half of the defect in 1 of 3 images (a/x/000)" in ours


def test_protocol_caption_names_dataset_protocol_images_and_backbone():
    from types import SimpleNamespace

    from fca_utils.datasets.catalog import Protocol

    ds = SimpleNamespace(name="embedded", protocol=Protocol(None, None, 0.1, "paper", "x"))
    assert (qualitative.protocol_caption(ds, "resnet", "6 test images per class")
            == "embedded; protocol: full resolution, T from the feature size, 10 % border; 6 test images per class; "
               "backbone resnet")
    ds = SimpleNamespace(name="aitex", protocol=Protocol(320, 3, 16, "paper320", "x"))
    assert qualitative.protocol_caption(ds, "wrn") == "aitex; protocol: 320², T = 3, 16 px border; backbone wrn"
