"""Temporal profiles: annual totals kept exactly, local time, hour middles, CSV checks."""

import numpy as np
import pytest

from cityflux.errors import InputError
from cityflux.grid import Grid
from cityflux.inventory.model import Inventory, ProfiledField
from cityflux.inventory.points import PointSources
from cityflux.inventory.profiles import Profiles, read_profiles

GRID = Grid("EPSG:4326", 116.0, 117.0, 0.25, 31.0, 32.0, 0.25)
HOUR = np.timedelta64(1, "h")

#: TNO GNFR road transport (Denier van der Gon et al. 2011), written out as reference data
TNO_ROAD_HOUR = [0.19, 0.09, 0.06, 0.05, 0.09, 0.22, 0.86, 1.84, 1.86, 1.41, 1.24, 1.2, 1.32,
                 1.44, 1.45, 1.59, 2.03, 2.08, 1.51, 1.06, 0.74, 0.62, 0.61, 0.44]
TNO_ROAD_WEEKDAY = [1.02, 1.06, 1.08, 1.1, 1.14, 0.81, 0.79]  # Monday first

#: hour factors 1 except hour 4 (2), hour 20 (3) and hour 22 (4): mean 30/24 = 1.25;
#: weekday factors 1 except Monday (1.5) and Sunday (0.5): mean 1 over any 2025 (52 weeks
#: and one Wednesday)
TEST_HOUR = {4: 2.0, 20: 3.0, 22: 4.0}
TEST_WEEKDAY = {0: 1.5, 6: 0.5}
MONTHS = [1.4, 1.3, 1.1, 1.0, 0.9, 0.8, 0.8, 0.8, 0.9, 1.0, 1.2, 1.4]


def profile_csv(path, month=False):
    lines = ["# hand-made profiles", "sector,cycle,index,factor"]
    lines += [f"test,weekday,{d},{TEST_WEEKDAY.get(d, 1.0)}" for d in range(7)]
    lines += [f"test,hour,{h},{TEST_HOUR.get(h, 1.0)}" for h in reversed(range(24))]
    if month:
        lines += [f"test,month,{m + 1},{f}" for m, f in enumerate(MONTHS)]
    path.write_text("\n".join(lines) + "\n")
    return read_profiles(path)


def local_year_hours(year: int, utc_offset_hours: float) -> np.ndarray:
    """UTC hour starts of the hours whose middle lies in local calendar year ``year``."""
    first_middle_utc = (np.datetime64(f"{year}-01-01T00:00", "m")
                        - np.timedelta64(round(utc_offset_hours * 60), "m"))
    first_start = first_middle_utc - np.timedelta64(30, "m")
    first_start = first_start.astype("datetime64[h]") + (
        HOUR if first_start != first_start.astype("datetime64[h]") else 0 * HOUR)
    n = 8784 if year % 4 == 0 else 8760
    return (first_start + HOUR * np.arange(n)).astype("datetime64[ns]")


def test_local_year_hours_helper():
    hours = local_year_hours(2025, 8.0)
    assert hours[0] == np.datetime64("2024-12-31T16:00") and hours.size == 8760
    assert local_year_hours(2025, 5.5)[0] == np.datetime64("2024-12-31T18:00")
    assert local_year_hours(2024, -5.0)[-1] == np.datetime64("2025-01-01T04:00")


def one_source(profile: str, rate_kg_s: float) -> PointSources:
    nan = np.array([np.nan])
    return PointSources(name=np.array(["s"], object), lon=np.array([116.5]),
                        lat=np.array([31.5]), stack_height_m=np.array([100.0]),
                        sector=np.array([profile], object), rate_kg_s=np.array([rate_kg_s]),
                        uncertainty_fraction=nan, buoyancy_flux_m4_s3=nan,
                        exit_velocity_m_s=nan, exit_temperature_k=nan, diameter_m=nan,
                        profile=np.array([profile], object))


@pytest.mark.parametrize("profile_name, source, year, offset", [
    ("road_transport", "builtin", 2025, 8.0),
    ("energy", "builtin", 2024, -5.0),        # leap year, west of Greenwich
    ("residential", "builtin", 2023, 5.5),    # half-hour offset
    ("test", "csv", 2024, 8.0),               # leap year, month cycle too
    ("test", "csv", 2025, -5.0),
])
def test_local_year_integrates_to_annual_total(tmp_path, profile_name, source, year, offset):
    profiles = (Profiles.builtin() if source == "builtin"
                else profile_csv(tmp_path / "profiles.csv", month=True))
    hours = local_year_hours(year, offset)
    rate = 2.5  # kg s-1 annual mean
    flux = np.arange(1.0, GRID.size + 1).reshape(GRID.shape)  # µmol m-2 s-1 annual mean
    inventory = Inventory(GRID, offset, profiles, (ProfiledField("x", flux, profile_name),),
                          one_source(profile_name, rate))
    point_hourly = inventory.point_hourly(hours)[:, 0]
    assert point_hourly.std() > 0.1 * rate  # the profile does vary
    # the year's emission (kg) is the annual-mean rate times the hours of that year
    assert (point_hourly * 3600).sum() == pytest.approx(rate * hours.size * 3600, rel=1e-12)
    gridded = inventory.gridded_hourly(["x"], hours)
    np.testing.assert_allclose(gridded.mean(axis=0), flux, rtol=1e-12)


def test_builtin_factor_by_hand():
    """Built-in road transport at 20:00 UTC on Sunday 2 March 2025 in UTC+8: local 04:00
    on Monday, so hour 4 (0.09) × Monday (1.02) over the mean of the local year 2025."""
    mean_hour = sum(TNO_ROAD_HOUR) / 24
    mean_weekday = (52 * sum(TNO_ROAD_WEEKDAY) + TNO_ROAD_WEEKDAY[2]) / 365  # + Wednesday
    factor = Profiles.builtin().factors("road_transport", [np.datetime64("2025-03-02T20:00")],
                                        8.0)
    assert factor[0] == pytest.approx(0.09 * 1.02 / (mean_hour * mean_weekday), rel=1e-12)


@pytest.mark.parametrize("utc, offset, expected, meaning", [
    ("2025-03-02T20:00", 8.0, 2.0 * 1.5 / 1.25, "04:00 Monday local"),
    ("2025-03-02T20:00", 0.0, 3.0 * 0.5 / 1.25, "20:00 Sunday local"),
    ("2025-03-03T03:00", -5.0, 4.0 * 0.5 / 1.25, "22:00 Sunday local"),
    ("2025-03-03T04:00", -5.0, 1.0 * 0.5 / 1.25, "23:00 Sunday local"),
    ("2025-03-03T05:00", -5.0, 1.0 * 1.5 / 1.25, "00:00 Monday local"),
    # half-hour offset: 22:00-23:00 UTC is 03:30-04:30 local, its middle 04:00 Monday
    ("2025-03-02T22:00", 5.5, 2.0 * 1.5 / 1.25, "middle 04:00 Monday local"),
    ("2025-03-02T21:00", 5.5, 1.0 * 1.5 / 1.25, "middle 03:00 Monday local"),
    # 18:00-19:00 UTC at +5:45 is 23:45 Sunday to 00:45 Monday local, its middle Monday
    ("2025-03-02T18:00", 5.75, 1.0 * 1.5 / 1.25, "middle 00:15 Monday local"),
])
def test_local_time_and_hour_middle(tmp_path, utc, offset, expected, meaning):
    profiles = profile_csv(tmp_path / "profiles.csv")
    factor = profiles.factors("test", [np.datetime64(utc)], offset)
    assert factor[0] == pytest.approx(expected, rel=1e-12), meaning


def test_each_local_year_has_its_own_mean(tmp_path):
    """2024 is a leap year starting on Monday: 52 weeks and a Monday and a Tuesday, so the
    weekday mean is (364 + 1.5 + 1) / 366; 2025 has 52 weeks and a Wednesday (mean 1)."""
    profiles = profile_csv(tmp_path / "profiles.csv")
    times = [np.datetime64("2024-12-30T12:00"), np.datetime64("2025-01-06T04:00")]  # Mondays
    np.testing.assert_allclose(profiles.factors("test", times, 0.0),
                               [1.5 / (1.25 * 366.5 / 366), 2.0 * 1.5 / 1.25], rtol=1e-12)


def test_csv_profile_overrides_builtin_and_unknown_is_flat(tmp_path):
    path = tmp_path / "profiles.csv"
    path.write_text("sector,cycle,index,factor\n" +
                    "".join(f"energy,hour,{h},{2.0 if h == 12 else 1.0}\n" for h in range(24)))
    profiles = Profiles.builtin().with_overrides(read_profiles(path))
    noon, night = np.datetime64("2025-06-02T04:00"), np.datetime64("2025-06-02T16:00")
    # energy now has only an hour cycle: mean (23 + 2) / 24
    np.testing.assert_allclose(profiles.factors("energy", [noon, night], 8.0),
                               [2.0 / (25 / 24), 1.0 / (25 / 24)], rtol=1e-12)
    assert profiles.factors("industry", [noon], 8.0)[0] != pytest.approx(1.0)  # built-in kept
    np.testing.assert_array_equal(profiles.factors("nobody", [noon, night], 8.0), [1.0, 1.0])


HEADER = "sector,cycle,index,factor\n"
FULL_HOURS = "".join(f"road,hour,{h},1\n" for h in range(24))


@pytest.mark.parametrize("content, fragments", [
    (HEADER + FULL_HOURS.replace("road,hour,7,1\n", ""),
     ["lines 2-24", "column index", "missing hour 7", "23 of 24"]),
    (HEADER + FULL_HOURS + "road,hour,5,2\n",
     ["line 26", "column index", "hour 5", "twice", "line 7"]),
    (HEADER + "road,hours,0,1\n", ["line 2", "column cycle", "'hours'"]),
    (HEADER + FULL_HOURS.replace("road,hour,3,1", "road,hour,3,-0.5"),
     ["line 5", "column factor", "negative"]),
    (HEADER + FULL_HOURS.replace("road,hour,3,1", "road,hour,3,much"),
     ["line 5", "column factor", "'much'"]),
    (HEADER + "road,hour,24,1\n", ["line 2", "column index", "0 to 23"]),
    (HEADER + "road,month,0,1\n", ["line 2", "column index", "1 to 12"]),
    (HEADER + "road,weekday,1.5,1\n", ["line 2", "column index"]),
    (HEADER + ",hour,0,1\n", ["line 2", "column sector", "empty"]),
    (HEADER + "road,hour,,1\n", ["line 2", "column index", "empty"]),
    (HEADER + FULL_HOURS.replace(",1\n", ",0\n"), ["lines 2-25", "column factor", "zero"]),
    ("sector,cycle,hour,factor\nroad,hour,0,1\n", ["header", "index"]),
    (HEADER, ["no profile factors"]),
    ("# comment\n" + HEADER + "road,hour,0,1,9\n", ["line 3"]),
])
def test_read_profiles_refuses(tmp_path, content, fragments):
    path = tmp_path / "profiles.csv"
    path.write_text(content)
    with pytest.raises(InputError) as info:
        read_profiles(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path}:")
    for fragment in fragments:
        assert fragment in message
