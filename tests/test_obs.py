"""Observation records, sites and selection (R: tests/test_obs_errors.py)."""

import numpy as np
import pandas as pd
import pytest

from cityflux.errors import InputError
from cityflux.obs.records import read_records
from cityflux.obs.selection import observation_table
from cityflux.obs.sites import background_site, read_sites, tower_sites

START = pd.Timestamp("2025-07-01T00:00")
END = pd.Timestamp("2025-07-02T00:00")
SITE_OFFSET = {"T1": 10.0, "T2": 20.0, "BKG": 0.0}


def _value(site, hour):
    return 400.0 + SITE_OFFSET[site] + 0.1 * hour


@pytest.fixture
def records():
    rows = []
    for site in ("T1", "T2", "BKG"):
        for hour in range(-3, 27):  # a few hours either side of the period
            if site == "BKG" and hour == 10:
                continue  # no background record at 10 UTC
            value = _value(site, hour)
            if (site, hour) in {("BKG", 5), ("T1", 4)}:
                value = np.nan
            rows.append((START + pd.Timedelta(hours=hour), site, value))
    return pd.DataFrame(rows, columns=["time", "site", "co2_ppm"])


@pytest.fixture
def towers():
    return pd.DataFrame({"site": ["T1", "T2"]})


def _table(records, towers, offset=8.0, hours=(12, 13)):
    return observation_table(records, towers, "BKG", START, END, offset, hours, "obs.csv")


def test_observation_table_rows_and_background(records, towers):
    table = _table(records, towers)
    assert list(table.columns) == ["site", "time", "observed", "background", "uncertainty_ppm",
                                   "used"]
    assert table.uncertainty_ppm.isna().all()  # the records have no uncertainty column
    hours = (table.time - START) / pd.Timedelta(hours=1)
    # only hours of the period
    assert hours.min() >= 0 and hours.max() <= 23
    # T1: 24 h minus 4 (NaN obs), 5 (NaN background), 10 (no background) ; T2: minus 5, 10
    assert (table.site == "T1").sum() == 21
    assert (table.site == "T2").sum() == 22
    assert not ((table.site == "T1") & hours.isin([4, 5, 10])).any()
    assert not hours.isin([5, 10]).any()
    # background of the same hour attached to every row
    np.testing.assert_allclose(table.background, 400.0 + 0.1 * hours, rtol=1e-12)
    np.testing.assert_allclose(table.observed - table.background,
                               table.site.map(SITE_OFFSET), rtol=1e-9)


def test_observation_table_local_hours_with_offset(records, towers):
    table = _table(records, towers, offset=8.0, hours=(12, 13, 20))
    used = table[table.used]
    # local 12, 13, 20 at UTC+8 are 4, 5, 12 UTC; T1@4, *@5 have no value or background
    assert sorted(zip(used.site, used.time.dt.hour)) == [("T1", 12), ("T2", 4), ("T2", 12)]
    assert len(table) == 43  # unused rows are kept


def test_observation_table_fractional_and_negative_offsets(records, towers):
    table = _table(records, towers, offset=5.5, hours=(11,))
    # 06:00 UTC = 11:30 local; 05:00 UTC = 10:30 local
    assert set(table[table.used].time.dt.hour) == {6}
    table = _table(records, towers, offset=-5.0, hours=(22,))
    # 03:00 UTC = 22:00 the day before; 27:00 (next day 03:00) is outside the period
    assert set(table[table.used].time.dt.hour) == {3}
    assert table.used.sum() == 2


def test_observation_table_nothing_selected(records, towers):
    with pytest.raises(InputError, match=r"obs.csv: no tower observation .* local hours \[9\]"):
        # local 9 at UTC+1 is 8 UTC: move all records of 8 UTC out
        kept = records[records.time.dt.hour != 8]
        _table(kept, towers, offset=1.0, hours=[9])


def test_observation_table_no_background(records, towers):
    without = records[records.site != "BKG"]
    with pytest.raises(InputError, match="background site 'BKG' has no valid record"):
        _table(without, towers)


# --------------------------------------------------------------------------- read_records


HEADER = "time,site,co2_ppm\n"


def _csv(tmp_path, text, name="obs.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_read_records_good(tmp_path):
    path = _csv(tmp_path, "# a comment line\n" + HEADER +
                "2025-07-01T01:00:00Z,B,421.5\n"
                "2025-07-01T00:00:00Z,B,420.5\n"
                "2025-07-01T09:00:00+08:00,A,425.0\n"
                "2025-07-01T02:00:00Z,A,\n")
    records = read_records(path, ["A", "B", "C"])
    assert list(records.columns) == ["time", "site", "co2_ppm", "uncertainty_ppm"]
    assert records.uncertainty_ppm.isna().all()
    assert list(records.site) == ["A", "A", "B", "B"]
    assert records.time.dtype == "datetime64[ns]"
    # +08:00 converted to UTC, sorted by site then time
    assert list(records.time.dt.hour) == [1, 2, 0, 1]
    assert np.isnan(records.co2_ppm.iloc[1])
    assert records.co2_ppm.iloc[0] == 425.0


@pytest.mark.parametrize("body, message", [
    ("time,site,ppm\n2025-07-01T00:00Z,A,420\n", "missing column(s) ['co2_ppm']"),
    (HEADER + "2025-07-01T00:00Z,A,420\n2025-07-01T01:00Z,A,abc\n",
     "line 3: co2_ppm 'abc' is not a number"),
    (HEADER + "yesterday,A,420\n", "line 2: time 'yesterday' is not an ISO 8601"),
    (HEADER + "2025-07-01T00:00Z,A,42.0\n", "line 2: co2_ppm 42 is outside 100-2000 ppm"),
    (HEADER + "2025-07-01T00:00Z,Z,420\n2025-07-01T00:00Z,Y,420\n",
     "site(s) ['Y', 'Z'] are not in the sites file (2 record(s), the first on line 2)"),
    (HEADER + "2025-07-01T00:00Z,A,420\n2025-07-01T00:00Z,A,421\n",
     "line 3: a second record for site A at 2025-07-01 00:00:00 (the first is on line 2)"),
    (HEADER + "2025-07-01T00:30Z,A,420\n", ("line 2: time '2025-07-01T00:30Z' is not a whole "
                                            "hour")),
])
def test_read_records_errors(tmp_path, body, message):
    path = _csv(tmp_path, body)
    with pytest.raises(InputError) as info:
        read_records(path, ["A", "B"])
    assert message in str(info.value)
    assert str(info.value).startswith(f"{path}: ")


def test_read_records_row_number_without_comments(tmp_path):
    path = _csv(tmp_path, HEADER + "2025-07-01T00:00Z,A,420\n2025-07-01T01:00Z,A,abc\n")
    with pytest.raises(InputError, match="line 3: co2_ppm 'abc'"):
        read_records(path, ["A"])


def test_read_records_row_number_is_the_file_line(tmp_path):
    path = _csv(tmp_path, "# synthetic\n" + HEADER +
                "2025-07-01T00:00Z,A,420\n2025-07-01T01:00Z,A,abc\n")
    lines = path.read_text().splitlines()
    line = next(i for i, text in enumerate(lines, start=1) if "abc" in text)
    assert line == 4
    with pytest.raises(InputError, match=f"line {line}: co2_ppm 'abc'"):
        read_records(path, ["A"])


def test_read_records_unreadable(tmp_path):
    with pytest.raises(InputError, match="cannot read CSV"):
        read_records(tmp_path / "nope.csv", ["A"])


# --------------------------------------------------------------------------- sites


SITES_HEADER = "site,name,lat,lon,inlet_height_m,role\n"
GOOD_SITES = (SITES_HEADER + "A,Tower A,31.5,117.0,60,tower\n"
              "B,Tower B,31.6,117.1,100,tower\nK,Upwind,31.4,116.7,100,background\n")


def test_read_sites_good(tmp_path):
    sites = read_sites(_csv(tmp_path, GOOD_SITES, "sites.csv"))
    assert list(sites.site) == ["A", "B", "K"]
    assert sites.lat.dtype == float and sites.inlet_height_m.iloc[1] == 100.0
    assert background_site(sites, None, "s.csv") == "K"
    assert background_site(sites, "K", "s.csv") == "K"
    assert list(tower_sites(sites).site) == ["A", "B"]


@pytest.mark.parametrize("body, message", [
    ("site,name,lat,lon,role\nA,a,31,117,tower\n",
     ("missing column(s) ['inlet_height_m']; expected ['site', 'lat', 'lon', "
      "'inlet_height_m', 'role']")),
    (SITES_HEADER, "no sites"),
    (SITES_HEADER + "A,a,north,117,10,tower\n", "line 2: lat 'north' is not a number"),
    (SITES_HEADER + "A,a,31,117,10,tower\nA,b,31,117,10,background\n",
     "line 3, column site: duplicate site id 'A' (also on line 2)"),
    (SITES_HEADER + "A,a,31,117,10,tower\nB,b,31,117,10,upwind\n",
     ("line 3: site 'B' has role 'upwind'; expected one of ('tower', 'background', "
      "'other')")),
    (SITES_HEADER + "A,a,95,117,10,tower\n", ("line 2: lat 95 is out of range; expected "
                                              "between -90 and 90")),
    (SITES_HEADER + "A,a,31,117,-5,tower\n", "line 2: inlet_height_m -5 is out of range"),
    (SITES_HEADER + "K,k,31,117,10,background\n", "no site with role 'tower'"),
])
def test_read_sites_errors(tmp_path, body, message):
    path = _csv(tmp_path, body, "sites.csv")
    with pytest.raises(InputError) as info:
        read_sites(path)
    assert message in str(info.value)
    assert str(info.value).startswith(f"{path}: ")


def test_read_sites_hash_in_name(tmp_path):
    sites = read_sites(_csv(tmp_path, SITES_HEADER + "A,Tower #2,31.5,117.0,60,tower\n",
                            "sites.csv"))
    assert sites.name.iloc[0] == "Tower #2"


def test_background_site_errors(tmp_path):
    sites = read_sites(_csv(tmp_path, GOOD_SITES, "sites.csv"))
    with pytest.raises(InputError, match=r"s.csv: observations.background_site 'X' is not in "
                                         r"the sites file \(sites: A, B, K\)"):
        background_site(sites, "X", "s.csv")
    towers_only = sites[sites.role == "tower"]
    with pytest.raises(InputError, match="s.csv: no site has role 'background'; the sites "
                                         "file needs one"):
        background_site(towers_only, None, "s.csv")
    two = sites.assign(role=["tower", "background", "background"])
    with pytest.raises(InputError, match=r"found 2 sites of role 'background' \(B, K\)"):
        background_site(two, None, "s.csv")
