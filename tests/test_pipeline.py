"""localize() end to end on the offline ImageNet backbone, and its input handling."""
import numpy as np
import pytest
import torch
from PIL import Image

from fca_utils import baselines, localize, statistics
from fca_utils.core.images import to_image_tensor
from fca_utils.core.methods import PRESETS

BACKBONE = "efficientnet_lite0"


def texture(size=256, seed=0):
    """A homogeneous stochastic texture: smoothed noise, in [0, 1], (H, W, 3) float32."""
    rng = np.random.default_rng(seed)
    noise = torch.from_numpy(rng.random((1, 3, size, size), dtype=np.float32))
    smooth = torch.nn.functional.avg_pool2d(noise, 5, stride=1, padding=2, count_include_pad=False)
    img = smooth[0].permute(1, 2, 0).numpy()
    return (img - img.min()) / (img.max() - img.min())


def with_defect(img, box=(100, 140, 60, 100)):
    out = img.copy()
    y0, y1, x0, x1 = box
    yy, xx = np.mgrid[0:out.shape[0], 0:out.shape[1]]
    stripes = 0.5 + 0.5 * np.sin(xx[y0:y1, x0:x1] / 1.5)  # a foreign, structured patch
    out[y0:y1, x0:x1] = stripes[..., None] * np.array([0.9, 0.3, 0.2])
    mask = np.zeros(out.shape[:2], bool)
    mask[y0:y1, x0:x1] = True
    return out.astype(np.float32), mask


@pytest.mark.parametrize("preset", ["paper", "paper320", "paper320_knn", "aota"])
def test_planted_defect_gets_the_top_scores(preset):
    img, mask = with_defect(texture())
    r = localize(img, preset=preset, backbone=BACKBONE)
    assert r.scores.shape == mask.shape and r.scores.dtype == np.float32
    top = r.scores >= np.quantile(r.scores, 0.99)
    assert (top & mask).sum() / top.sum() > 0.9  # the top 1 % of scores lie on the defect
    assert r.image_score == pytest.approx(float(r.scores.max()))
    assert r.meta["preset"] == preset and r.meta["backbone"] == BACKBONE


def test_constant_and_near_constant_images_give_finite_maps():
    for img in (np.full((96, 96), 128, np.uint8), 0.5 + 1e-6 * texture(96)):
        r = localize(img, backbone=BACKBONE)
        assert np.isfinite(r.scores).all()


def test_input_kinds_give_the_same_map(tmp_path):
    rgb = (texture(128) * 255).astype(np.uint8)
    base = localize(rgb, backbone=BACKBONE).scores
    path = tmp_path / "tex.png"
    Image.fromarray(rgb).save(path)
    rgba = np.concatenate([rgb, np.full((128, 128, 1), 255, np.uint8)], axis=2)
    for variant in (path, str(path), Image.fromarray(rgb), rgba, torch.from_numpy(rgb).permute(2, 0, 1) / 255.0):
        np.testing.assert_allclose(localize(variant, backbone=BACKBONE).scores, base, rtol=1e-4, atol=1e-6)


def test_gray_and_16_bit_inputs(tmp_path):
    gray8 = (texture(128)[..., 0] * 255).astype(np.uint8)
    gray16 = gray8.astype(np.uint16) * 257  # same intensities on the 16-bit scale
    a = localize(gray8, backbone=BACKBONE).scores
    b = localize(gray16, backbone=BACKBONE).scores
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    path = tmp_path / "gray16.png"
    Image.fromarray(gray16).save(path)
    np.testing.assert_allclose(localize(path, backbone=BACKBONE).scores, a, rtol=1e-4, atol=1e-6)
    assert to_image_tensor(gray8).shape == (1, 3, 128, 128)


def test_image_smaller_than_the_patch_is_a_clear_error():
    with pytest.raises(ValueError, match="image too small.*at least 72x72"):
        localize(np.zeros((40, 40, 3), np.uint8), preset="paper", backbone=BACKBONE)


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((10, 10, 5), np.uint8), "numpy image must be"),
        (np.full((64, 64), 2.0), r"must lie in \[0, 1\]"),
        (np.zeros((64, 64), np.int64), "unsupported image dtype"),
        (torch.zeros(2, 3, 64, 64), "batch must have size 1"),
        ("missing.png", "not found"),
        ([1, 2, 3], "must be a path"),
    ],
)
def test_bad_images_are_refused_with_a_message(bad, message):
    with pytest.raises((ValueError, TypeError, FileNotFoundError), match=message):
        localize(bad, backbone=BACKBONE)


def test_unknown_preset_is_refused():
    with pytest.raises(ValueError, match="unknown preset"):
        localize(np.zeros((64, 64), np.uint8), preset="nope", backbone=BACKBONE)


def test_presets_follow_the_paper():
    assert PRESETS["paper"].image_size is None and PRESETS["paper"].patch_size == 9
    assert PRESETS["paper320"].image_size == 320 and PRESETS["paper320"].patch_size == 3
    assert (PRESETS["paper"].sigma_p, PRESETS["paper"].sigma_s) == (3.0, 1.0)
    assert PRESETS["paper320_knn"].reference == "knn"


def test_presets_follow_the_authors_code_where_the_paper_is_silent():
    for preset in PRESETS.values():
        assert preset.antialias is False  # op_utils.load_image_tensor: plain bilinear F.interpolate
        assert (preset.sigma, preset.bins) == (6.0, 10)  # conf/sc/{moments,hist,sww}.yaml


def test_resizing_is_plain_bilinear_unless_antialias_is_asked():
    """paper320 on a 640 px image: the colors features are the image resized by F.interpolate (bilinear,
    no antialiasing), as the authors' op_utils.load_image_tensor does; antialias=True is an option."""
    img = (texture(640) * 255).astype(np.uint8)
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
    plain = torch.nn.functional.interpolate(x, size=(320, 320), mode="bilinear", align_corners=False)[0]
    r = localize(img, preset="paper320", backbone="colors")
    expected = statistics.fca(plain, 3, 3.0, 1.0).numpy()
    np.testing.assert_allclose(r.feature_scores, expected, rtol=1e-5, atol=1e-7)
    assert r.meta["params"]["antialias"] is False
    smooth = localize(img, preset="paper320", backbone="colors", antialias=True)
    assert smooth.meta["params"]["antialias"] is True
    assert not np.allclose(smooth.feature_scores, expected, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("fn", [statistics.fca, statistics.sww, statistics.histogram, statistics.moments, baselines.aota])
@pytest.mark.parametrize("channels", [1, 512])
def test_statistics_keep_dtype_device_and_accept_any_channel_count(fn, channels):
    for dtype in (torch.float32, torch.float64):
        feats = torch.rand(channels, 11, 13, dtype=dtype)
        kwargs = {"k": 5} if fn is baselines.aota else {}
        out = fn(feats, 3, **kwargs)
        assert out.shape == (11, 13) and out.dtype == dtype and out.device == feats.device
        assert torch.isfinite(out).all()
        batched = fn(feats[None], 3, **kwargs)
        torch.testing.assert_close(batched, out)


def test_feature_map_smaller_than_patch_is_a_clear_error():
    with pytest.raises(ValueError, match="patch_size 9 is larger than the feature map"):
        statistics.fca(torch.rand(4, 5, 20), 9)
    with pytest.raises(ValueError, match="odd"):
        statistics.fca(torch.rand(4, 20, 20), 4)


def test_aota_matches_brute_force():
    feats = torch.rand(3, 6, 7, dtype=torch.float64)
    local = torch.nn.functional.avg_pool2d(
        torch.nn.functional.pad(feats[None], (1, 1, 1, 1), mode="reflect"), 3, stride=1
    )[0].reshape(3, -1).T
    k = 4
    expected = torch.stack([((local - v) ** 2).sum(1).sort().values[:k].mean() for v in local]).view(6, 7)
    torch.testing.assert_close(baselines.aota(feats, 3, sigma=1e6, k=k), expected)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("statistic", ["fca", "qfca"])
def test_localize_on_cuda_equals_the_cpu(statistic):
    """The whole CUDA path (backbone, PyTorch statistic) against the CPU one (numba kernels)."""
    img, _ = with_defect(texture())
    gpu = localize(img, preset="paper", backbone=BACKBONE, device="cuda", statistic=statistic)
    cpu = localize(img, preset="paper", backbone=BACKBONE, device="cpu", statistic=statistic)
    assert gpu.scores.shape == cpu.scores.shape
    assert np.abs(gpu.scores - cpu.scores).max() <= 1e-3 * np.abs(cpu.scores).max()


def test_paper_presets_run_the_backbone_unpadded_and_own_pads_periodically():
    for name, preset in PRESETS.items():
        if name == "own":
            assert (preset.pad, preset.pad_mode) == ("auto", "periodic")
            assert {"pad", "pad_mode"} <= set(preset.params())
        else:  # as the authors run the backbone; parameters (and cache keys) as before padding existed
            assert preset.pad == 0 and not {"pad", "pad_mode"} & set(preset.params())
    img = texture(96)
    assert localize(img, preset="paper", backbone=BACKBONE).meta["pad"] == 0


def test_circular_padding_gives_the_features_of_the_periodic_continuation():
    from fca_utils import features
    from fca_utils.pipeline import padded_features

    extractor = features.get_extractor(BACKBONE)
    rng = np.random.default_rng(0)
    period = torch.from_numpy(rng.random((1, 3, 32, 32), dtype=np.float32))
    img = period.repeat(1, 1, 6, 6)  # 192 x 192, periodic
    half = extractor.receptive_field // 2
    feats = padded_features(extractor, img, "auto", "circular")
    # the same texture continued far enough that the centre's cells see no zero padding
    tiles = -(-half // 192)
    big = img.repeat(1, 1, 2 * tiles + 1, 2 * tiles + 1)
    cells = tiles * 192 // extractor.stride
    h, w = extractor.output_size(192, 192)
    expected = extractor(big)[0][:, cells : cells + h, cells : cells + w]
    assert feats.shape == expected.shape
    torch.testing.assert_close(feats, expected, rtol=1e-4, atol=1e-4 * float(expected.abs().max()))
    reflected = padded_features(extractor, img, "auto", "reflect")
    assert not torch.allclose(reflected, expected, rtol=1e-2, atol=1e-2 * float(expected.abs().max()))


def test_unknown_pad_mode_is_refused():
    from dataclasses import replace

    with pytest.raises(ValueError, match="unknown pad_mode 'wrap'; expected one of"):
        localize(texture(96), preset=replace(PRESETS["own"], pad_mode="wrap"), backbone=BACKBONE)


def test_periodic_padding_continues_a_texture_whose_period_does_not_divide_the_side():
    """The features of an image whose period (40 px) does not divide its side (352 px), padded
    with ``pad_mode="periodic"``, are those of the same texture continued indefinitely; wrapping
    the image around (circular) puts a seam in the frame and gives other features."""
    from fca_utils import features
    from fca_utils.pipeline import padded_features

    extractor = features.get_extractor(BACKBONE)
    tile = torch.from_numpy(np.random.default_rng(0).random((3, 40, 40), dtype=np.float32))

    def texture_over(start, size):
        idx = torch.arange(start, start + size) % 40
        return tile[:, idx][:, :, idx][None]

    img = texture_over(0, 352)
    margin = 224  # a multiple of 32 beyond half the receptive field, so that the grids align
    big = texture_over(-margin, 352 + 2 * margin)
    cells = margin // extractor.stride
    h, w = extractor.output_size(352, 352)
    expected = extractor(big)[0][:, cells : cells + h, cells : cells + w]
    scale = float(expected.abs().max())
    periodic = padded_features(extractor, img, "auto", "periodic")
    torch.testing.assert_close(periodic, expected, rtol=1e-4, atol=1e-4 * scale)
    circular = padded_features(extractor, img, "auto", "circular")
    assert not torch.allclose(circular, expected, rtol=1e-2, atol=1e-2 * scale)
    # with a margin for the statistic: the frame's cells are the continued texture's too
    wide = padded_features(extractor, img, "auto", "periodic", margin=4)
    around = extractor(big)[0][:, cells - 4 : cells + h + 4, cells - 4 : cells + w + 4]
    torch.testing.assert_close(wide, around, rtol=1e-4, atol=1e-4 * scale)


def test_the_statistic_sees_the_frame_only_where_it_continues_the_texture():
    from fca_utils import features
    from fca_utils.pipeline import padded_features

    extractor = features.get_extractor(BACKBONE)
    noise = torch.rand(1, 3, 272, 272, generator=torch.Generator().manual_seed(0))  # no period: circular frame
    h, w = extractor.output_size(272, 272)
    assert padded_features(extractor, noise, "auto", "periodic", margin=4).shape[-2:] == (h, w)
    assert padded_features(extractor, noise, "auto", "circular", margin=4).shape[-2:] == (h, w)
    img = torch.from_numpy(texture(272))[None].permute(0, 3, 1, 2)
    r = localize(img[0], backbone=BACKBONE)  # own: periodic; the smoothed noise has no period either
    assert r.meta["statistic_margin"] == 0 and r.scores.shape == (272, 272)
