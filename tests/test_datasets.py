"""Dataset adapters, preparation, and anomaly-map files (fca_utils.datasets and helpers).

Every dataset is faked in its exact layout; nothing touches the network: downloads come
from ``file://`` URLs, and tests that could download otherwise replace ``prepare.fetch``
(:func:`fca_utils.core.io.download`) or ``urllib.request.urlopen``.
"""
from __future__ import annotations

import hashlib
import re
import tarfile
import threading
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fca_utils import datasets
from fca_utils.core import io
from fca_utils.datasets import aitex, download, prepare
from fca_utils.datasets.__main__ import main as datasets_main
from fca_utils.datasets import catalog as registry
from fca_utils.datasets.layout import DatasetLayoutError

RNG = np.random.default_rng(0)


def _png(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def _texture(h: int, w: int, gray: bool = False) -> np.ndarray:
    shape = (h, w) if gray else (h, w, 3)
    return RNG.integers(60, 200, shape, dtype=np.uint8)


def _mask(h: int, w: int) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    m[h // 4:h // 2, w // 4:w // 2] = 255
    return m


def make_class(root: Path, cls: str, defects: dict[str, int], good: int = 1, size=(16, 16),
               mask_name: str = "{stem}_mask.png", gray: bool = False) -> None:
    """A class folder in MVTec AD layout with tiny images."""
    h, w = size
    for k in range(good):
        _png(root / cls / "test" / "good" / f"{k:03d}.png", _texture(h, w, gray))
    for defect, n in defects.items():
        for k in range(n):
            stem = f"{k:03d}"
            _png(root / cls / "test" / defect / f"{stem}.png", _texture(h, w, gray))
            _png(root / cls / "ground_truth" / defect / mask_name.format(stem=stem), _mask(h, w))
    _png(root / cls / "train" / "good" / "000.png", _texture(h, w, gray))


# ---------------------------------------------------------------- MVTec layout reader


def test_any_mvtec_layout_folder_opens_by_path(tmp_path):
    make_class(tmp_path, "felt", {"cut": 2, "stain": 1}, good=2, size=(24, 32))
    make_class(tmp_path, "mesh", {"bad": 1}, mask_name="{stem}.png", gray=True)  # DTD / WFT-style mask names
    ds = datasets.open_dataset(tmp_path)
    assert ds.classes == ["felt", "mesh"]
    assert ds.count("felt") == 5 and ds.count("felt", "good") == 2
    assert ds.defect_types("felt") == ["cut", "good", "stain"]
    samples = list(ds.samples("felt"))
    assert [s.defect_type for s in samples] == ["cut", "cut", "good", "good", "stain"]
    cut = samples[0]
    assert cut.image.dtype == np.uint8 and cut.image.shape == (24, 32, 3)
    assert cut.mask.dtype == bool and cut.mask.sum() == 6 * 8
    assert cut.path == tmp_path / "felt" / "test" / "cut" / "000.png" and cut.stem == "000"
    assert not samples[2].mask.any()
    gray = next(ds.samples("mesh", "bad"))
    assert gray.image.shape == (16, 16, 3) and gray.mask.any()
    assert ds.protocol.patch_size_for(1024, 1024) == 9 and ds.protocol.border_for(200, 200) == 20


@pytest.mark.parametrize("breakage, culprit", [
    (lambda r: (r / "felt/ground_truth/cut/001_mask.png").unlink(), "001_mask.png"),
    (lambda r: (r / "felt/test/cut/notes.txt").write_text("x"), "notes.txt"),
    (lambda r: _png(r / "felt/ground_truth/cut/007_mask.png", _mask(16, 16)), "007_mask.png"),
    (lambda r: _png(r / "felt/ground_truth/cut/000_mask.png", _mask(8, 16)), "000_mask.png"),
    (lambda r: _png(r / "felt/test/cut/000.png", _texture(16, 20)), "000_mask.png"),
    (lambda r: __import__("shutil").rmtree(r / "felt/ground_truth/cut"), "ground_truth/cut"),
    (lambda r: (r / "felt/test/cut/000.png").write_bytes(b"not a png"), "000.png"),
    (lambda r: (r / "felt/extra").mkdir(), "extra"),
])
def test_broken_trees_name_the_file(tmp_path, breakage, culprit):
    make_class(tmp_path, "felt", {"cut": 2})
    breakage(tmp_path)
    with pytest.raises(DatasetLayoutError, match=culprit.replace("/", ".")):
        datasets.open_dataset(tmp_path)


def test_unknown_and_missing_datasets(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset"):
        datasets.open_dataset("imagenet")
    with pytest.raises(datasets.DatasetNotFoundError, match="prepare wft"):
        datasets.open_dataset("wft", root=tmp_path / "nowhere")


# ---------------------------------------------------------------- protocols


def test_protocols_follow_the_paper():
    mvtec = datasets.protocol("mvtec")
    assert (mvtec.image_size, mvtec.patch_size, mvtec.border_for(1024, 1024), mvtec.preset) == (None, 9, 100, "paper")
    assert datasets.protocol("mvtec", "paper320").patch_size == 3
    wft = datasets.protocol("wft")
    assert (wft.image_size, wft.patch_size, wft.border_for(512, 512)) == (None, 9, 50)
    for name in ("dtd_synthetic", "aitex"):
        p = datasets.protocol(name)
        assert (p.image_size, p.patch_size, p.border_for(320, 320), p.preset) == (320, 3, 32, "paper320")
    emb = datasets.protocol("embedded")
    assert [emb.patch_size_for(s, s) for s in (256, 320, 384, 512, 1024)] == [3, 3, 3, 5, 9]
    assert emb.border_for(512, 512) == 51
    with pytest.raises(ValueError, match="no protocol"):
        datasets.protocol("aitex", "paper320_knn")


# ---------------------------------------------------------------- MVTec AD


@pytest.fixture
def small_mvtec(monkeypatch):
    """The MVTec AD registry with 16 x 16 images, so a complete fake copy is quick to write."""
    for spec in registry.DATASETS["mvtec"]["classes"].values():
        monkeypatch.setitem(spec, "size", (16, 16))
    return registry.DATASETS["mvtec"]


def make_mvtec(root: Path) -> None:
    """A complete fake MVTec AD texture set: the real defect folders and test counts."""
    for cls, spec in registry.DATASETS["mvtec"]["classes"].items():
        defects = {d: 1 for d in spec["defects"]}
        make_class(root, cls, defects, good=spec["test_count"] - len(defects))
    (root / "license.txt").write_text("CC BY-NC-SA 4.0")


def _tar_xz(folder: Path, archive: Path) -> bytes:
    with tarfile.open(archive, "w:xz") as tf:
        for path in sorted(folder.rglob("*")):
            tf.add(path, arcname=path.relative_to(folder).as_posix(), recursive=False)
    return archive.read_bytes()


def _no_network(url, *args, **kwargs):
    raise AssertionError(f"the test tried to reach {url}")


class _Answer:
    """A server's answer to the reachability check of :func:`fca_utils.core.io.download`."""

    def close(self):
        pass


def test_mvtec_counts_and_defect_folders_are_verified(tmp_path, small_mvtec):
    make_mvtec(tmp_path)
    entries = datasets.verify("mvtec", tmp_path)
    assert {cls: len(e) for cls, e in entries.items()} == {"carpet": 117, "grid": 78, "leather": 124, "tile": 117,
                                                           "wood": 79}
    (tmp_path / "grid" / "test" / "good" / "003.png").unlink()
    with pytest.raises(DatasetLayoutError, match="grid.test has 77 test images, expected 78"):
        datasets.verify("mvtec", tmp_path)
    _png(tmp_path / "grid" / "test" / "good" / "003.png", _texture(16, 16))
    make_class(tmp_path, "wood", {"burn": 1}, good=0)
    with pytest.raises(DatasetLayoutError, match="unexpected defect folder: .*burn"):
        datasets.verify("mvtec", tmp_path)


def test_mvtec_wrong_image_size_is_named(tmp_path, small_mvtec):
    make_mvtec(tmp_path)
    _png(tmp_path / "tile" / "test" / "good" / "000.png", _texture(16, 12))
    with pytest.raises(DatasetLayoutError, match=r"wrong image size: .*tile.test.good.000.png is 12x16"):
        datasets.open_dataset("mvtec", root=tmp_path)


def test_mvtec_is_downloaded_verified_and_extracted(tmp_path, small_mvtec, monkeypatch):
    make_mvtec(tmp_path / "src")
    server = tmp_path / "server" / "mvtec_anomaly_detection.tar.xz"
    monkeypatch.setitem(small_mvtec["archives"][0], "url", server.as_uri())
    root, cache = tmp_path / "mvtec", tmp_path / "cache"
    with pytest.raises(prepare.ManualDownloadRequired, match="automatic download failed.*No such file"):
        prepare.prepare("mvtec", root=root, cache=cache, log=lambda m: None)  # not on the server yet
    assert not cache.exists() or not list(cache.iterdir())  # nothing half-written left behind
    server.parent.mkdir()
    data = _tar_xz(tmp_path / "src", server)
    monkeypatch.setitem(small_mvtec["archives"][0], "sha256", hashlib.sha256(data).hexdigest())
    prepare.prepare("mvtec", root=root, cache=cache, log=lambda m: None)
    assert sorted(p.name for p in cache.iterdir()) == ["mvtec_anomaly_detection.tar.xz"]
    assert (cache / "mvtec_anomaly_detection.tar.xz").read_bytes() == data
    ds = datasets.open_dataset("mvtec", root=root)
    assert ds.count("carpet") == 117 and not (root / "carpet" / "train").exists()
    messages = []
    monkeypatch.setattr(prepare, "fetch", _no_network)
    prepare.prepare("mvtec", root=root, cache=cache, log=messages.append)
    assert "already prepared" in messages[-1]


def test_mvtec_archive_with_a_wrong_checksum_is_refused(tmp_path, small_mvtec, monkeypatch):
    make_mvtec(tmp_path / "src")
    archive = tmp_path / "mvtec_anomaly_detection.tar.xz"
    _tar_xz(tmp_path / "src", archive)
    monkeypatch.setattr(prepare, "fetch", _no_network)
    with pytest.raises(download.ChecksumError, match="SHA-256 of .*mvtec_anomaly_detection.tar.xz is"):
        prepare.prepare("mvtec", root=tmp_path / "mvtec", source=archive, log=lambda m: None)
    prepare.prepare("mvtec", root=tmp_path / "mvtec", source=archive, ignore_checksum=True, log=lambda m: None)
    assert datasets.open_dataset("mvtec", root=tmp_path / "mvtec").count("wood") == 79


def test_mvtec_download_failure_prints_what_to_fetch(tmp_path, monkeypatch, capsys):
    def offline(request, timeout=None):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    code = datasets_main(["prepare", "mvtec", "--root", str(tmp_path / "mvtec"), "--cache", str(tmp_path / "c")])
    out = capsys.readouterr().out
    assert code == 2
    assert "https://www.mvtec.com/company/research/datasets/mvtec-ad" in out
    assert f"{tmp_path / 'c'}/mvtec_anomaly_detection.tar.xz" in out and "no route to host" in out


# ---------------------------------------------------------------- WFT


def test_wft_zip_is_prepared_and_its_checksum_recorded(tmp_path, monkeypatch):
    for spec in registry.DATASETS["wft"]["classes"].values():
        monkeypatch.setitem(spec, "size", (16, 16))
    src = tmp_path / "src" / "textures"
    for cls in ("texture_1", "texture_2"):
        make_class(src, cls, {"defective": 50}, good=0, gray=True)
    archive = tmp_path / "textures.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(src.rglob("*.png")):
            zf.write(path, path.relative_to(tmp_path / "src").as_posix())
    monkeypatch.setattr(prepare, "fetch", _no_network)
    root = prepare.prepare("wft", root=tmp_path / "wft", source=archive, log=lambda m: None)
    record = (root / prepare.RECORD).read_text()
    assert hashlib.sha256(archive.read_bytes()).hexdigest() in record
    ds = datasets.open_dataset("wft", root=root)
    assert ds.classes == ["texture_1", "texture_2"] and ds.count("texture_2", "defective") == 50
    assert ds.protocol.border == 50
    (root / "texture_1" / "test" / "defective" / "007.png").unlink()
    (root / "texture_1" / "ground_truth" / "defective" / "007_mask.png").unlink()
    with pytest.raises(DatasetLayoutError, match="texture_1.test has 49 defective test images, expected 50"):
        datasets.verify("wft", root)


# ---------------------------------------------------------------- DTD-Synthetic

DTD_CLASSES = list(registry.DATASETS["dtd_synthetic"]["classes"])


def make_dtd(root: Path) -> None:
    for i, cls in enumerate(DTD_CLASSES):
        side = 36 + 4 * i  # the originals range from 180 to 384 pixels
        name = "{stem}_mask.png" if i % 2 else "{stem}.png"
        make_class(root, cls, {"bad": 2}, good=1, size=(side, side), mask_name=name)


def test_dtd_synthetic_prepare_prints_instructions_without_network(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(prepare, "fetch", _no_network)
    code = datasets_main(["prepare", "dtd_synthetic", "--root", str(tmp_path / "dtd")])
    out = capsys.readouterr().out
    assert code == 2
    assert "https://drive.google.com/drive/folders/10OyPzvI3H6llCZBxKxFlKWt1Pw1tkMK1" in out
    assert f"--root {tmp_path / 'dtd'} --source" in out
    assert not (tmp_path / "dtd").exists()


def test_dtd_synthetic_is_resized_to_320(tmp_path, monkeypatch):
    monkeypatch.setattr(prepare, "fetch", _no_network)
    make_dtd(tmp_path / "download" / "DTD-Synthetic")
    code = datasets_main(["prepare", "dtd_synthetic", "--root", str(tmp_path / "dtd"),
                          "--source", str(tmp_path / "download")])
    assert code == 0
    ds = datasets.open_dataset("dtd_synthetic", root=tmp_path / "dtd")
    assert ds.classes == DTD_CLASSES and ds.protocol.image_size == 320
    for cls in ds.classes:
        assert ds.count(cls) == 3 and not (tmp_path / "dtd" / cls / "train").exists()
        for s in ds.samples(cls):
            assert s.image.shape == (320, 320, 3) and s.mask.shape == (320, 320)
    mask = np.asarray(Image.open(tmp_path / "dtd" / "Mesh_114" / "ground_truth" / "bad" / "000_mask.png"))
    assert set(np.unique(mask)) == {0, 255}  # nearest neighbour keeps masks binary
    assert 0.05 < (mask > 0).mean() < 0.08  # the quarter-by-quarter square of the original


def test_dtd_synthetic_incomplete_download_names_the_missing_class(tmp_path):
    make_dtd(tmp_path / "download")
    import shutil

    shutil.rmtree(tmp_path / "download" / "Woven_127")
    with pytest.raises(DatasetLayoutError, match="Woven_127"):
        prepare.prepare("dtd_synthetic", root=tmp_path / "dtd", source=tmp_path / "download", log=lambda m: None)


# ---------------------------------------------------------------- Aitex


def _aitex_image(width: int = 4096, dark_left: int = 300, dark_right: int = 200) -> np.ndarray:
    """Fabric with black, uncovered ends, like the roll ends in Aitex images."""
    image = RNG.integers(70, 190, (256, width), dtype=np.uint8)
    image[:, :dark_left] = RNG.integers(0, 12, (256, dark_left), dtype=np.uint8)
    if dark_right:
        image[:, width - dark_right:] = RNG.integers(0, 12, (256, dark_right), dtype=np.uint8)
    return image


def _defect(mask: np.ndarray, frame: int, col: int = 100, width: int = 20) -> None:
    mask[100:130, frame * 256 + col:frame * 256 + col + width] = 255


def make_aitex(raw: Path) -> None:
    """A fake AFID download: one defective image per fabric, plus the archive's quirks."""
    for k, fabric in enumerate(aitex.FABRICS):
        stem = f"{k + 1:04d}_002_{fabric}"
        _png(raw / "Defect_images" / f"{stem}.png", _aitex_image())
        mask = np.zeros((256, 4096), np.uint8)
        _defect(mask, 5)
        if fabric == "00":
            _defect(mask, 0)                  # frame 0 is partly black: dropped
            _defect(mask, 15)                 # frame 15 is partly black: dropped
            _defect(mask, 7, col=246)         # a defect across frames 7 and 8: both kept
        if fabric == "03":                    # two defects, two mask files, as 0044_019_04 in AFID
            second = np.zeros_like(mask)
            _defect(second, 9)
            _png(raw / "Mask_images" / f"{stem}_mask1.png", mask)
            _png(raw / "Mask_images" / f"{stem}_mask2.png", second)
            continue
        _png(raw / "Mask_images" / f"{stem}_mask.png", mask)
    # the one narrower image (3796 wide, as 0094_027_05): frame 14 is not a full square
    narrow = _aitex_image(width=3796, dark_right=0)
    mask = np.zeros((256, 3796), np.uint8)
    _defect(mask, 13)
    mask[100:130, 14 * 256 + 50:14 * 256 + 80] = 255
    _png(raw / "Defect_images" / "0094_027_05.png", narrow)
    _png(raw / "Mask_images" / "0094_027_05_mask.png", mask)
    _png(raw / "Defect_images" / "0100_025_08.png", _aitex_image())  # no mask in the archive
    _png(raw / "NODefect_images" / "2306881-210020u" / "0001_000_00.png", _aitex_image())


def test_aitex_frames_are_cut_filtered_and_resized(tmp_path, monkeypatch):
    monkeypatch.setattr(prepare, "fetch", _no_network)
    make_aitex(tmp_path / "AITEX")
    messages = []
    root = prepare.prepare("aitex", root=tmp_path / "aitex", source=tmp_path / "AITEX", log=messages.append)
    kept = sorted(p.relative_to(root).as_posix() for p in root.rglob("test/*/*.png"))
    expected = sorted(
        [f"t_00/test/broken_end/0001_{k:02d}.png" for k in (5, 7, 8)]
        + [f"t_{f}/test/broken_end/{k + 1:04d}_05.png" for k, f in enumerate(aitex.FABRICS) if f != "00"]
        + ["t_03/test/broken_end/0004_09.png", "t_05/test/knots/0094_13.png"])
    assert kept == expected
    ds = datasets.open_dataset("aitex", root=root)
    for cls in ds.classes:
        for s in ds.samples(cls):
            assert s.image.shape == (320, 320, 3) and s.mask.any()
    assert any("0100_025_08" in m for m in messages)


def test_frame_coverage_rule():
    fabric = RNG.integers(70, 190, (256, 256), dtype=np.uint8)
    assert aitex.frame_is_covered(fabric)
    thin = fabric.copy()
    thin[:, 40:42] = 0  # a thin dark defect line is still fabric
    assert aitex.frame_is_covered(thin)
    edge = fabric.copy()
    edge[:, :30] = 5  # the roll's black end
    assert not aitex.frame_is_covered(edge)
    white = fabric.copy()
    white[:, 200:] = 255  # white padding
    assert not aitex.frame_is_covered(white)


@pytest.mark.parametrize("breakage, culprit", [
    (lambda r: (r / "Mask_images/0002_002_01_mask.png").unlink(), "0002_002_01_mask.png"),
    (lambda r: (r / "Defect_images/readme.txt").write_text("x"), "readme.txt"),
    (lambda r: _png(r / "Mask_images/0002_002_01_mask.png", np.zeros((256, 4000), np.uint8)), "0002_002_01_mask.png"),
    (lambda r: _png(r / "Mask_images/0555_002_01_mask.png", np.zeros((256, 4096), np.uint8)), "0555_002_01_mask.png"),
    (lambda r: (r / "Defect_images/0002_002_01.png").rename(r / "Defect_images/0002_002_09.png"), "0002_002_09.png"),
])
def test_broken_aitex_download_names_the_file(tmp_path, breakage, culprit):
    make_aitex(tmp_path / "AITEX")
    breakage(tmp_path / "AITEX")
    with pytest.raises(DatasetLayoutError, match=culprit):
        prepare.prepare("aitex", root=tmp_path / "aitex", source=tmp_path / "AITEX", log=lambda m: None)


# ---------------------------------------------------------------- downloads


def test_download_from_a_file_url_checks_the_sha256(tmp_path):
    source = tmp_path / "server" / "file.bin"
    source.parent.mkdir()
    data = RNG.integers(0, 256, 300_000, dtype=np.uint8).tobytes()
    source.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    out = tmp_path / "out"
    assert io.download(source.as_uri(), out / "file.bin", sha256=digest, progress=False) == out / "file.bin"
    assert (out / "file.bin").read_bytes() == data
    io.download(source.as_uri(), out / "prefix.bin", hash_prefix=digest[:8], progress=False)
    assert (out / "prefix.bin").read_bytes() == data
    with pytest.raises(io.ChecksumError, match=f"file.bin is {digest}, expected 0{{64}}.*file2.bin"):
        io.download(source.as_uri(), out / "file2.bin", sha256="0" * 64, progress=False)
    with pytest.raises(io.ChecksumError, match=f"is {digest}, expected 0badcafe"):
        io.download(source.as_uri(), out / "file3.bin", hash_prefix="0badcafe", progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["file.bin", "prefix.bin"]  # no file left behind


def test_download_errors_name_the_url_and_the_reason(tmp_path, monkeypatch):
    missing = (tmp_path / "server" / "missing.bin").as_uri()
    with pytest.raises(io.DownloadError, match=f"cannot download {re.escape(missing)}: .*No such file"):
        io.download(missing, tmp_path / "out" / "missing.bin", progress=False)
    assert not (tmp_path / "out").exists()

    def no_route(request, timeout=None):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(urllib.request, "urlopen", no_route)
    with pytest.raises(io.DownloadError, match="cannot download https://example.org/f.bin: no route to host"):
        io.download("https://example.org/f.bin", tmp_path / "f.bin", progress=False)

    release = threading.Event()
    monkeypatch.setattr(urllib.request, "urlopen", lambda request, timeout=None: release.wait(10) and _Answer())
    start = time.monotonic()
    with pytest.raises(io.DownloadError, match="example.org/f.bin: no answer within 0.2 s"):
        io.download("https://example.org/f.bin", tmp_path / "f.bin", progress=False, timeout=0.2)
    assert time.monotonic() - start < 5  # a silent network is given up on quickly
    release.set()


@pytest.mark.parametrize("failure, reason", [
    (urllib.error.HTTPError("https://example.org/f.bin", 404, "Not Found", {}, None), "HTTP 404 Not Found"),
    (ConnectionResetError("connection reset by peer"), "ConnectionResetError: connection reset by peer"),
])
def test_failed_transfer_raises_download_error(tmp_path, monkeypatch, failure, reason):
    import torch.hub

    def transfer(url, dst, hash_prefix=None, progress=True):
        raise failure

    monkeypatch.setattr(urllib.request, "urlopen", lambda request, timeout=None: _Answer())
    monkeypatch.setattr(torch.hub, "download_url_to_file", transfer)
    with pytest.raises(io.DownloadError, match=f"downloading https://example.org/f.bin failed: {reason}"):
        io.download("https://example.org/f.bin", tmp_path / "f.bin", progress=False)
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------- anomaly maps


def test_anomaly_map_roundtrip_is_exact_float32(tmp_path):
    scores = RNG.normal(size=(37, 53))
    path = datasets.map_path(tmp_path / "out", "carpet", "color", "004")
    assert path == tmp_path / "out" / "carpet" / "test" / "color" / "004.tiff"
    datasets.write_anomaly_map(path, scores)
    back = datasets.read_anomaly_map(path)
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back, scores.astype(np.float32))
    assert datasets.anomaly_map_is_valid(path, (37, 53))
    assert not datasets.anomaly_map_is_valid(path, (53, 37))
    assert [p.name for p in path.parent.iterdir()] == ["004.tiff"]  # no temporary file left


def test_truncated_or_bad_anomaly_maps_are_detected(tmp_path):
    path = datasets.write_anomaly_map(tmp_path / "a.tiff", np.ones((64, 64)))
    path.write_bytes(path.read_bytes()[:-100])
    assert not datasets.anomaly_map_is_valid(path)
    with pytest.raises(datasets.AnomalyMapError, match="corrupt or partial anomaly map: .*a.tiff"):
        datasets.read_anomaly_map(path)
    assert not datasets.anomaly_map_is_valid(tmp_path / "missing.tiff")
    nan = datasets.write_anomaly_map(tmp_path / "nan.tiff", np.full((4, 4), np.nan))
    assert not datasets.anomaly_map_is_valid(nan)
    with pytest.raises(ValueError, match="2-D"):
        datasets.write_anomaly_map(tmp_path / "b.tiff", np.ones((2, 3, 4)))
