"""Gaussian-plume kernels: against a numpy reference, published values and physics."""

import math

import numpy as np
import pytest
from plume_reference import ref_footprints, ref_image_sum, ref_plume, ref_sigma_y, ref_sigma_z

from cityflux.transport.kernels import (
    BRIGGS_URBAN,
    NO_TRAVEL,
    PASQUILL_GIFFORD,
    plume_footprints,
    plume_kernel,
    sigma_y,
    sigma_z,
)

# numpy >= 2 has trapezoid; 1.26 (still allowed by pyproject) only trapz
trapezoid = getattr(np, "trapezoid", None) or np.trapz

SCHEMES = [PASQUILL_GIFFORD, BRIGGS_URBAN]
D_CLASS = 3

# Distances covering every ISC3 interval, its exact boundaries and both sides of them.
_BOUNDS_KM = [0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.7, 1, 2, 3, 4, 7, 10, 15, 20, 30, 40, 60]
DISTANCES_M = np.unique(
    np.concatenate(
        [
            np.geomspace(5.0, 200e3, 97),
            1000.0 * np.array(_BOUNDS_KM),
            1000.0 * np.array(_BOUNDS_KM) * (1 + 1e-9),
        ]
    )
)


# --- against the pure-numpy reference -------------------------------------------------


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("cls", range(6))
def test_sigmas_match_reference(cls, scheme):
    got_y = np.array([sigma_y(x, cls, scheme) for x in DISTANCES_M])
    got_z = np.array([sigma_z(x, cls, scheme) for x in DISTANCES_M])
    want_y = np.array([ref_sigma_y(x, cls, scheme) for x in DISTANCES_M])
    want_z = np.array([ref_sigma_z(x, cls, scheme) for x in DISTANCES_M])
    np.testing.assert_allclose(got_y, want_y, rtol=1e-12, atol=0)
    np.testing.assert_allclose(got_z, want_z, rtol=1e-12, atol=0)


def test_invalid_class_or_scheme_gives_nan():
    assert math.isnan(sigma_y(1000.0, 6, PASQUILL_GIFFORD))
    assert math.isnan(sigma_z(1000.0, -1, BRIGGS_URBAN))
    assert math.isnan(sigma_z(1000.0, 2, 7))


def test_plume_kernel_matches_reference_on_random_inputs():
    rng = np.random.default_rng(42)
    n = 600
    x = rng.uniform(-2e3, 60e3, n)
    y = rng.normal(0.0, 1.5e3, n)
    blh = rng.uniform(50.0, 2500.0, n)
    z = rng.uniform(0.0, 1.1, n) * blh  # some receptors above the BL
    src = rng.uniform(0.0, 0.6, n) * blh
    src[::25] = blh[::25] * 1.01  # some sources above the BL
    wind = rng.uniform(0.5, 15.0, n)
    cls = rng.integers(0, 6, n)
    scheme = rng.integers(0, 2, n)
    got = np.array(
        [plume_kernel(*a) for a in zip(x, y, z, src, wind, blh, cls, scheme)]
    )
    want = np.array([ref_plume(*a) for a in zip(x, y, z, src, wind, blh, cls, scheme)])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    # the draw must exercise zeros, the image sum and the well-mixed branch
    sz = np.array([ref_sigma_z(xi, c, s) if xi > 0 else 0 for xi, c, s in zip(x, cls, scheme)])
    assert (want == 0).sum() > 20
    assert ((want > 0) & (sz > 1.6 * blh)).sum() > 20
    assert ((want > 0) & (sz < 1.6 * blh) & (sz > 0.3 * blh)).sum() > 20


# --- published values and the textbook formula ----------------------------------------


def test_isc3_sigmas_against_hand_computed_values():
    # D at 1 km: sigma_z = 32.093 * 1^0.81066; sigma_y = 465.11628 tan(0.017453293 * 8.3330)
    assert sigma_z(1000.0, D_CLASS, PASQUILL_GIFFORD) == pytest.approx(32.093, rel=1e-12)
    assert sigma_y(1000.0, D_CLASS, PASQUILL_GIFFORD) == pytest.approx(68.1267, rel=1e-5)
    # F at 1 km: sigma_z = 13.953; sigma_y = 465.11628 tan(0.017453293 * 4.1667) = 33.884 m
    assert sigma_z(1000.0, 5, PASQUILL_GIFFORD) == pytest.approx(13.953, rel=1e-12)
    assert sigma_y(1000.0, 5, PASQUILL_GIFFORD) == pytest.approx(33.884, rel=1e-5)
    # C at 2 km: sigma_z = 61.141 * 2^0.91465 = 61.141 * 1.88509 = 115.258 m
    assert sigma_z(2000.0, 2, PASQUILL_GIFFORD) == pytest.approx(115.258, rel=1e-5)
    # A at 10 km: 453.85 * 10^2.1166 = 59 000 m, capped at 5000 m
    assert sigma_z(10e3, 0, PASQUILL_GIFFORD) == 5000.0
    # Briggs urban C at 1 km: sigma_y = 0.22 * 1000 / sqrt(1.4), sigma_z = 200 m
    assert sigma_y(1000.0, 2, BRIGGS_URBAN) == pytest.approx(185.934, rel=1e-5)
    assert sigma_z(1000.0, 2, BRIGGS_URBAN) == pytest.approx(200.0, rel=1e-14)


def test_plume_equals_textbook_formula_without_lid():
    sy, sz = 68.1267410799, 32.093  # D class at 1 km, from the values above
    wind, huge_blh = 4.0, 1e7
    for y, z, src in [(0.0, 0.0, 0.0), (40.0, 2.0, 30.0), (-100.0, 50.0, 10.0), (10.0, 0.0, 80.0)]:
        want = (
            1.0
            / (2 * math.pi * wind * sy * sz)
            * (math.exp(-((z - src) ** 2) / (2 * sz**2)) + math.exp(-((z + src) ** 2) / (2 * sz**2)))
            * math.exp(-(y**2) / (2 * sy**2))
        )
        got = plume_kernel(1000.0, y, z, src, wind, huge_blh, D_CLASS, PASQUILL_GIFFORD)
        assert got == pytest.approx(want, rel=1e-10)
    # ground source, ground receptor, on the centreline: 1 / (pi U sigma_y sigma_z)
    got = plume_kernel(1000.0, 0.0, 0.0, 0.0, wind, huge_blh, D_CLASS, PASQUILL_GIFFORD)
    assert got == pytest.approx(1.0 / (math.pi * wind * sy * sz), rel=1e-10)


def test_plume_zero_outside_its_domain():
    args = dict(crosswind_m=0.0, wind_speed=3.0, blh_m=500.0, stability_class=3, scheme=0)
    assert plume_kernel(downwind_m=0.0, receptor_height_m=2.0, source_height_m=0.0, **args) == 0.0
    assert plume_kernel(downwind_m=-500.0, receptor_height_m=2.0, source_height_m=0.0, **args) == 0.0
    assert plume_kernel(downwind_m=500.0, receptor_height_m=2.0, source_height_m=500.0, **args) == 0.0
    assert plume_kernel(downwind_m=500.0, receptor_height_m=600.0, source_height_m=0.0, **args) == 0.0
    assert plume_kernel(downwind_m=500.0, receptor_height_m=2.0, source_height_m=10.0, **args) > 0.0


# --- physical properties --------------------------------------------------------------


def test_crosswind_integral():
    """int G dy = V / (sqrt(2 pi) U sigma_z) at fixed x, with ground and lid reflections."""
    x, z, src, wind, blh, cls = 3000.0, 120.0, 40.0, 2.5, 300.0, 3
    sy = sigma_y(x, cls, BRIGGS_URBAN)
    sz = sigma_z(x, cls, BRIGGS_URBAN)
    assert 0.3 * blh < sz < 1.6 * blh  # lid reflections matter, image branch in use
    y = np.linspace(-12 * sy, 12 * sy, 4001)
    g = np.array([plume_kernel(x, yi, z, src, wind, blh, cls, BRIGGS_URBAN) for yi in y])
    integral = trapezoid(g, y)
    want = ref_image_sum(z, src, sz, blh) / (math.sqrt(2 * math.pi) * wind * sz)
    assert integral == pytest.approx(want, rel=1e-8)


@pytest.mark.parametrize("x", [2500.0, 20000.0])  # image branch, well-mixed branch
def test_flux_through_a_downwind_plane_is_conserved(x):
    """int_0^h int U G dy dz = 1: all emitted mass crosses the plane, none leaks out."""
    src, wind, blh, cls = 30.0, 3.0, 400.0, 2
    sy = sigma_y(x, cls, BRIGGS_URBAN)
    sz = sigma_z(x, cls, BRIGGS_URBAN)
    assert (sz > 1.6 * blh) == (x > 10000.0)
    n_z = 200
    z = (np.arange(n_z) + 0.5) * blh / n_z  # midpoints: G'(z) = 0 at both walls
    y = np.linspace(-10 * sy, 10 * sy, 401)
    g = np.array([[plume_kernel(x, yi, zi, src, wind, blh, cls, BRIGGS_URBAN) for yi in y] for zi in z])
    flux = wind * np.sum(trapezoid(g, y, axis=1)) * blh / n_z
    # brief: within 1e-3; midpoint/trapezoid sums of Gaussians are spectrally accurate here
    assert flux == pytest.approx(1.0, abs=1e-6)


def test_image_sum_and_well_mixed_branches_agree_at_switch():
    # Briggs urban C: sigma_z = 0.2 x, so sigma_z = 1.6 h exactly at x = 8 h.
    blh = 500.0
    x_switch = 8 * blh
    for z, src in [(0.0, 0.0), (10.0, 20.0), (250.0, 100.0), (480.0, 5.0)]:
        below = plume_kernel(x_switch * (1 - 1e-9), 0.0, z, src, 3.0, blh, 2, BRIGGS_URBAN)
        above = plume_kernel(x_switch * (1 + 1e-9), 0.0, z, src, 3.0, blh, 2, BRIGGS_URBAN)
        assert below == pytest.approx(above, rel=1e-4)
        # the identity behind it: image sum -> sqrt(2 pi) sigma_z / h
        sz = 1.6 * blh
        assert ref_image_sum(z, src, sz, blh) == pytest.approx(math.sqrt(2 * math.pi) * sz / blh, rel=1e-4)


# --- footprints -----------------------------------------------------------------------


def _grid(nx, ny, dx, dy, x0=0.0, y0=0.0):
    xc, yc = np.meshgrid(x0 + (np.arange(nx) + 0.5) * dx, y0 + (np.arange(ny) + 0.5) * dy, indexing="ij")
    n = nx * ny
    return dict(
        x=xc.ravel(),
        y=yc.ravel(),
        area=np.full(n, dx * dy),
        half_dx=np.full(n, dx / 2),
        half_dy=np.full(n, dy / 2),
        height=np.zeros(n),
    )


def _run(cells, rec, scheme, min_wind=0.5, max_travel=1e9, near_factor=1.5, n_sub=4, fill=np.nan):
    shape = (len(rec["x"]), len(cells["x"]))
    foot = np.full(shape, fill)
    travel = np.full(shape, fill)
    plume_footprints(
        cells["x"], cells["y"], cells["area"], cells["half_dx"], cells["half_dy"], cells["height"],
        rec["x"], rec["y"], rec["z"], rec["u"], rec["v"], rec["blh"], rec["cls"], rec["n_air"],
        scheme, min_wind, max_travel, near_factor, n_sub, foot, travel,
    )  # fmt: skip
    return foot, travel


def _random_case(seed):
    rng = np.random.default_rng(seed)
    cells = _grid(12, 10, 500.0, 400.0)
    cells["height"] = rng.choice([0.0, 0.0, 10.0, 45.0, 300.0], size=120)
    n = 7
    rec = dict(
        x=rng.uniform(-1000.0, 7000.0, n),
        y=rng.uniform(-500.0, 4500.0, n),
        z=np.array([3.0, 10.0, 50.0, 120.0, 2.0, 30.0, 800.0]),
        u=rng.normal(0.0, 4.0, n),
        v=rng.normal(0.0, 4.0, n),
        blh=np.array([200.0, 1500.0, 700.0, 400.0, 250.0, 1000.0, 600.0]),
        cls=np.array([0, 1, 2, 3, 4, 5, 3], dtype=np.int64),
        n_air=rng.uniform(38.0, 43.0, n),
    )
    rec["x"][:3] = [2600.0 + 37.1, 1234.5, 4800.3]  # inside the grid: near-field sampling
    rec["y"][:3] = [1800.0 + 11.3, 2222.2, 3900.7]
    rec["u"][1], rec["v"][1] = 0.2, -0.25  # below min_wind_speed
    rec["u"][4], rec["v"][4] = 0.0, 0.0  # calm: no direction
    return cells, rec


@pytest.mark.parametrize("scheme", SCHEMES)
def test_footprints_match_reference(scheme):
    cells, rec = _random_case(7)
    kw = dict(min_wind_speed=0.5, max_travel_time_s=1500.0, near_factor=1.5, n_sub_near=4)
    foot, travel = _run(cells, rec, scheme, 0.5, 1500.0, near_factor=1.5, n_sub=4)
    want_foot, want_travel = ref_footprints(cells, rec, scheme, **kw)
    np.testing.assert_allclose(foot, want_foot, rtol=1e-10, atol=0)
    np.testing.assert_allclose(travel, want_travel, rtol=1e-12, atol=0)
    # the case must exercise near-field sampling, the travel cut-off and the sentinels
    assert (foot > 0).sum() > 100
    assert np.all(foot[4] == 0) and np.all(travel[4] == NO_TRAVEL)  # calm hour
    assert np.all(foot[6] == 0)  # receptor above the boundary layer
    # coarse sampling differs in the near field, so sub-sampling was used there
    coarse, _ = _run(cells, rec, scheme, 0.5, 1500.0, near_factor=0.0)
    assert not np.allclose(coarse[:3], foot[:3], rtol=1e-3)


def test_footprint_travel_time_cutoff_and_values():
    cells = _grid(40, 1, 250.0, 250.0, x0=-10000.0, y0=-125.0)
    rec = dict(
        x=np.array([0.0]), y=np.array([0.0]), z=np.array([5.0]), u=np.array([2.0]), v=np.array([0.0]),
        blh=np.array([800.0]), cls=np.array([3], dtype=np.int64), n_air=np.array([41.0]),
    )  # fmt: skip
    foot, travel = _run(cells, rec, PASQUILL_GIFFORD, max_travel=3000.0, near_factor=0.0)
    upwind = -cells["x"]  # wind along +x, receptor at the origin
    kept = (upwind > 0) & (upwind / 2.0 <= 3000.0)
    assert np.all(foot[0, kept] > 0) and np.all(foot[0, ~kept] == 0)
    np.testing.assert_allclose(travel[0, kept], upwind[kept] / 2.0, rtol=1e-14)
    assert np.all(travel[0, ~kept] == NO_TRAVEL)


def test_footprints_are_rotation_invariant():
    """Turning cells, receptors and winds together leaves every footprint unchanged."""
    cells, rec = _random_case(11)
    rec["u"][4] = 1.0  # no calm hour here
    base, base_t = _run(cells, rec, BRIGGS_URBAN, near_factor=0.0)
    angle = 0.7
    c, s = math.cos(angle), math.sin(angle)
    rot_cells = dict(cells, x=c * cells["x"] - s * cells["y"], y=s * cells["x"] + c * cells["y"])
    rot_rec = dict(
        rec,
        x=c * rec["x"] - s * rec["y"], y=s * rec["x"] + c * rec["y"],
        u=c * rec["u"] - s * rec["v"], v=s * rec["u"] + c * rec["v"],
    )  # fmt: skip
    turned, turned_t = _run(rot_cells, rot_rec, BRIGGS_URBAN, near_factor=0.0)
    np.testing.assert_allclose(turned, base, rtol=1e-8, atol=1e-12 * base.max())
    np.testing.assert_array_equal(turned_t > 0, base_t > 0)


def test_uniform_flux_tends_to_box_model():
    """A uniform flux F upwind of a receptor in the well-mixed regime gives the box value.

    Box model: air crossing a fetch L of uniform flux F in a layer of depth h at speed U
    picks up c = F L / (U h) (mol m-3), a mole fraction F L / (U h n_air). The well-mixed
    plume is exactly that once integrated crosswind: int G dy = 1 / (U h). We place the
    source strip from 4 to 20 km upwind, where sigma_z (Briggs urban C: 0.2 x) exceeds
    1.6 h for h = 400 m, so only the well-mixed branch is involved and the residual comes
    from the discrete sum over 500 m cells (midpoint rule on Gaussians with sigma_y >=
    550 m, very accurate) and the crosswind truncation at +-15 km (> 10 sigma_y). A
    ground receptor next to the sources would see more than the box value (the near-field
    plume is not yet mixed through h); that is why the near field is left out here.
    The brief's tolerance is ~10 %; the agreement is at rounding level (~1e-12), so we
    assert 1e-6.
    """
    dx = 500.0
    cells = _grid(32, 60, dx, dx, x0=-20000.0, y0=-15000.0)
    cells = {k: v[cells["x"] < -4000.0] for k, v in cells.items()}
    fetch = 16000.0
    assert cells["x"].min() - dx / 2 == -20000.0 and cells["x"].max() + dx / 2 == -4000.0
    wind, blh, n_air, flux = 3.0, 400.0, 41.6, 2.5  # flux in umol m-2 s-1
    rec = dict(
        x=np.array([0.0]), y=np.array([0.0]), z=np.array([10.0]), u=np.array([wind]), v=np.array([0.0]),
        blh=np.array([blh]), cls=np.array([2], dtype=np.int64), n_air=np.array([n_air]),
    )  # fmt: skip
    foot, _ = _run(cells, rec, BRIGGS_URBAN)
    ppm = np.sum(foot * flux)  # ppm per (umol m-2 s-1) times umol m-2 s-1
    box_ppm = flux * fetch / (wind * blh * n_air)  # umol -> mol and mol/mol -> ppm cancel
    assert ppm == pytest.approx(box_ppm, rel=1e-6)


def test_footprints_validate_their_inputs():
    cells, rec = _random_case(3)
    with pytest.raises(ValueError, match="scheme"):
        _run(cells, rec, 5)
    with pytest.raises(ValueError, match="min_wind_speed"):
        _run(cells, rec, 0, min_wind=0.0)
    with pytest.raises(ValueError, match="n_sub_near"):
        _run(cells, rec, 0, n_sub=0)
    bad = dict(rec, cls=rec["cls"] + 3)
    with pytest.raises(ValueError, match="stability_class"):
        _run(cells, bad, 0)
    short = dict(rec, blh=rec["blh"][:-1])
    with pytest.raises(ValueError, match="n_receptors"):
        _run(cells, short, 0)
