"""Footprints made elsewhere: R-STILT / PYSTILT and NAME / OpenGHG files.

Readers turn the files into :class:`ImportedFootprints` (receptors, the footprint grid and
sparse values binned by emission interval, in absolute time); :meth:`~ImportedFootprints.
to_footprints` bins them into the whole hours of an inversion period and, when the grids
differ, regrids them to the inversion grid; :class:`ImportedTransport` serves them behind
the common :class:`~cityflux.transport.base.Transport` interface.

Layouts read
------------
**R-STILT** (``uataq/stilt``, ``r/src/write_footprint.r``, ``calc_footprint.r``): one file per
receptor, ``<YYYYmmddHHMM>_<lon>_<lat>_<zagl>_foot.nc`` (older releases: ``YYYYmmddHH``).
R defines ``foot`` over ``(lon, lat, time)`` in its column-major order, so on disk (ncdump,
xarray) it is ``foot(time, lat, lon)``; units ``ppm (umol-1 m2 s)``; ``_FillValue`` -1;
``time`` in ``seconds since 1970-01-01 00:00:00Z``. Layer k holds the particles of the hour
``floor(t / 60 min) = k`` (k = -1 for the first hour back) and is stamped
``r_run_time + k × 3600 s``: the *start* of the emission hour. A time-integrated file
(``time_integrate = TRUE``) has one layer stamped at the receptor time. R-STILT writes no
receptor attributes: the receptor comes from the file name, or from the global attributes
``r_run_time``, ``r_lati``, ``r_long``, ``r_zagl`` (R-STILT's own names for them) where a
writer adds them, or from arguments. Projected footprints carry a CF ``grid_mapping``.
**PYSTILT** (``jmineau/PYSTILT``, ``stilt/footprint/io.py``): the same ``foot(time, y, x)``
with units ``ppm m2 s umol-1`` and the receptor as JSON in the attribute ``stilt_receptor``
(``time``, ``longitude``, ``latitude``, ``altitude``).
**NAME / OpenGHG** (``<SITE>-<inlet>magl_<domain>_<species>_<date>.nc``): ``fp(lat, lon,
time)`` in ``(mol/mol)/(mol/m2/s)`` (numerically ppm per µmol m⁻² s⁻¹), integrated over the
whole back trajectory, at receptor times that start hourly means; optional ``fp_HiTRes(lat,
lon, time, H_back)``; ``particle_locations_{n,e,s,w}(height, lon|lat, time)``, the fraction
of particles leaving through each edge; ``release_lon``/``release_lat``; the boundary mole
fractions ``vmr_{n,e,s,w}(height, lon|lat)`` in a separate file.

Time
----
A time-resolved footprint's value for the emission interval [a, b) is shared among the
inversion hours it overlaps in proportion to the overlap (exact for a flux constant within
hours and a footprint uniform within its layer). A time-integrated footprint (NAME ``fp``,
an integrated STILT file) has no emission times: it is put in the observation hour itself
(hours back 0), which is the OpenGHG convention of multiplying ``fp`` by the flux at the
footprint's time; only right for fluxes that change slowly over the trajectory's age.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyproj
import scipy.sparse as sp
import xarray as xr

from ..errors import InputError
from ..grid import Grid
from ..inventory.gridded import (
    align_longitudes,
    numeric_values,
    open_netcdf,
    source_grid,
    time_intervals,
)
from ..units import FOOTPRINT_UNITS, MOLAR_MASS_CO2, convert
from .base import Receptors, Transport, code_fingerprint
from .footprints import Footprints

log = logging.getLogger(__name__)

HOUR = np.timedelta64(3600 * 10**9, "ns")
EDGES = ("n", "e", "s", "w")
#: Below this fraction of particles accounted for by the edges the boundary term is incomplete.
MIN_BOUNDARY_FRACTION = 0.9


class FootprintImportWarning(UserWarning):
    """Imported footprints or boundary data with a property the user must know about."""


def _warn(message: str) -> None:
    warnings.warn(message, FootprintImportWarning, stacklevel=3)


# ---------------------------------------------------------------------------- container
@dataclass(frozen=True)
class HiTResReport:
    """What was found in a NAME ``fp_HiTRes`` variable (see :func:`read_name_footprint`).

    Attributes
    ----------
    units : str or None
        Its ``units`` attribute (None: missing).
    empty_times : int
        Receptor times where ``fp`` has values and ``fp_HiTRes`` is all zero.
    negative_values : int
        Values below zero (a footprint cannot be negative); ``negative_slots`` lists the
        H_back values where they are.
    ratio_min, ratio_max : float
        Range of Σ fp_HiTRes / Σ fp over the times where both are filled.
    """

    units: str | None
    n_times: int
    empty_times: int
    negative_values: int
    negative_slots: tuple
    ratio_min: float
    ratio_max: float
    tolerance: float

    @property
    def problems(self) -> list[str]:
        found = []
        if self.units is None:
            found.append("no units attribute")
        if self.empty_times:
            found.append(f"all zero at {self.empty_times} of {self.n_times} times where fp "
                         "has values")
        if self.negative_values:
            found.append(f"{self.negative_values} negative values (H_back "
                         f"{', '.join(map(str, self.negative_slots))})")
        if not (1 - self.tolerance <= self.ratio_min and self.ratio_max <= 1 + self.tolerance):
            found.append(f"its sum is {self.ratio_min:.2f}-{self.ratio_max:.2f} × fp where "
                         f"filled (allowed 1 ± {self.tolerance:g})")
        return found

    @property
    def passed(self) -> bool:
        return not self.problems


@dataclass(frozen=True, eq=False)
class ImportedFootprints:
    """Footprints of receptors read from files, on their own grid, in absolute time.

    Attributes
    ----------
    site : ndarray of str (n,)
    time : ndarray of datetime64[ns] (n,)
        Receptor time (NAME: start of the hourly mean; STILT: the release time).
    lon, lat, height : ndarray of float (n,)
        Receptor position, degrees, and inlet height above ground, m.
    grid : Grid
        The footprint grid.
    rows, cells : ndarray of int (nnz,)
        Receptor and cell (C order on ``grid``) of each value.
    emission_start, emission_end : ndarray of datetime64[ns] (nnz,)
        Emission interval of each value (equal to the receptor time when not
        ``time_resolved``).
    values : ndarray of float (nnz,)
        ppm per (µmol m⁻² s⁻¹).
    time_resolved : bool
        False for footprints integrated over the back trajectory (NAME ``fp``).
    source : str
        Which layout was read.
    files : tuple of str
    background_ppm : ndarray (n,) or None
        Σ_edges particle_locations × vmr, ppm (NAME with a boundary file).
    background_normalised_ppm : ndarray (n,) or None
        The same divided by ``boundary_fraction``: the mean boundary mole fraction of the
        particles that left through the edges, ppm.
    boundary_fraction : ndarray (n,) or None
        Fraction of particles accounted for by the four edges (about 1 for a whole domain).
    edge_fraction : dict of str to ndarray (n,)
        The same per edge ``n``, ``e``, ``s``, ``w``.
    hires_report : HiTResReport or None
    """

    site: np.ndarray
    time: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    height: np.ndarray
    grid: Grid
    rows: np.ndarray
    cells: np.ndarray
    emission_start: np.ndarray
    emission_end: np.ndarray
    values: np.ndarray
    time_resolved: bool
    source: str
    files: tuple = ()
    background_ppm: np.ndarray | None = None
    background_normalised_ppm: np.ndarray | None = None
    boundary_fraction: np.ndarray | None = None
    edge_fraction: dict = field(default_factory=dict)
    hires_report: HiTResReport | None = None

    def __len__(self) -> int:
        return int(self.time.size)

    def totals(self) -> np.ndarray:
        """Σ footprint of every receptor, ppm per (µmol m⁻² s⁻¹)."""
        return np.bincount(self.rows, self.values, minlength=len(self))

    def digest(self) -> str:
        """SHA-256 of everything the footprints say (for cache keys)."""
        h = hashlib.sha256(repr((self.grid, self.time_resolved, self.source)).encode())
        for array in (self.site.astype(str), self.time, self.lon, self.lat, self.height,
                      self.rows, self.cells, self.emission_start, self.emission_end,
                      self.values, self.background_normalised_ppm):
            if array is not None:   # the background: only with a boundary file
                h.update(np.ascontiguousarray(array).tobytes())
        return h.hexdigest()

    # -------------------------------------------------------------- regridding
    def regridded(self, grid: Grid) -> ImportedFootprints:
        """The footprints on another grid, conserving Σ fp × flux.

        Δc = Σ_s f_s φ_s for flux densities φ_s on the footprint cells s. A flux uniform
        within each target cell t gives each source cell the area-weighted mean
        φ_s = Σ_t (A_{s∩t} / A_s) φ_t, so Δc = Σ_t φ_t F_t with
        F_t = Σ_s W[t, s] f_s, W[t, s] = A_{s∩t} / A_s the fraction of source cell s inside
        t: the footprint is regridded as an *amount* per cell
        (:meth:`ConservativeRegridder.regrid_amount`), not as a density and not as
        footprint × area. Σ_t F_t = Σ_s f_s where the target covers the source, and a flux
        regridded with ``regrid_density`` (which gives φ_t) reproduces Σ fp × flux exactly
        when it is uniform within target cells, e.g. uniform. The part of the footprint
        outside the target is lost (reported in a warning when above 1 %): its flux is not
        in the state.
        """
        from ..inventory.regrid import ConservativeRegridder

        if grid == self.grid:
            return self
        index = np.arange(self.grid.size).reshape(self.grid.shape)
        source, index = align_longitudes(self.grid, index, grid)  # 0..360 vs -180..180
        position = np.empty(self.grid.size, np.int64)
        position[index.ravel()] = np.arange(self.grid.size)
        regridder = ConservativeRegridder(source, grid)
        keys = np.stack([self.rows, self.emission_start.view(np.int64),
                         self.emission_end.view(np.int64)], axis=1)
        unique, key_of = np.unique(keys, axis=0, return_inverse=True)
        key_of = key_of.ravel()
        matrix = sp.csr_matrix((self.values, (key_of, position[self.cells])),
                               shape=(len(unique), self.grid.size))
        moved = sp.coo_matrix(matrix @ regridder.weights.T.tocsc())
        moved.eliminate_zeros()
        total = float(np.abs(self.values).sum())
        lost = 1 - float(np.abs(moved.data).sum()) / total if total else 0.0
        if lost > 0.01:
            _warn(f"{self.source}: {100 * lost:.1f} % of the footprint lies outside the "
                  "inversion grid; fluxes there are not in the state and their signal must "
                  "come from the background")
        return replace(self, grid=grid, rows=unique[moved.row, 0],
                       cells=moved.col.astype(np.int64),
                       emission_start=unique[moved.row, 1].view("datetime64[ns]"),
                       emission_end=unique[moved.row, 2].view("datetime64[ns]"),
                       values=moved.data)

    # -------------------------------------------------------------- binning
    def observation_hours(self, start) -> np.ndarray:
        """Hour of every receptor counted from ``start`` (the hour it falls in)."""
        return np.floor((self.time - np.datetime64(start, "ns")) / HOUR).astype(np.int64)

    def to_footprints(self, start, grid: Grid | None = None) -> Footprints:
        """:class:`Footprints` binned by whole hours from ``start`` (on ``grid`` if given).

        Emission intervals are shared among the hours they overlap (module docstring);
        time-integrated footprints go to hours back 0.
        """
        data = self.regridded(grid) if grid is not None else self
        start = np.datetime64(start, "ns")
        obs_hour = data.observation_hours(start)
        background = self.background_normalised_ppm
        if not data.time_resolved:
            return Footprints(obs_hour, data.rows, data.cells,
                              np.zeros(data.rows.size, np.int64), data.values, data.grid.size,
                              background)
        a = (data.emission_start - start) / HOUR
        b = (data.emission_end - start) / HOUR
        first = np.floor(a).astype(np.int64)
        pieces = int(np.ceil(b - first).max()) if a.size else 0
        parts = []
        for j in range(pieces):
            hour = first + j
            overlap = np.minimum(b, hour + 1) - np.maximum(a, hour)
            keep = overlap > 1e-9
            share = overlap[keep] / (b - a)[keep]
            parts.append((data.rows[keep], data.cells[keep], hour[keep],
                          data.values[keep] * share))
        if not parts:
            parts = [(np.empty(0, np.int64),) * 3 + (np.empty(0),)]
        rows, cells, hours, values = (np.concatenate(p) for p in zip(*parts))
        hours_back = obs_hour[rows] - hours
        if hours_back.size and hours_back.min() < 0:
            raise InputError(f"{self.source}: emissions after the observation hour "
                             "(a forward-in-time footprint?); expected backward footprints")
        return Footprints(obs_hour, rows.astype(np.int64), cells.astype(np.int64),
                          hours_back.astype(np.int64), values, data.grid.size, background)

    @classmethod
    def concatenate(cls, parts: Sequence[ImportedFootprints]) -> ImportedFootprints:
        """One set from several on the same grid (boundary terms kept where all have them)."""
        parts = list(parts)
        first = parts[0]
        for part in parts[1:]:
            if part.grid != first.grid or part.time_resolved != first.time_resolved:
                raise InputError(f"{part.files or part.source}: a footprint grid or time "
                                 f"resolution unlike {first.files or first.source}'s; read "
                                 "them separately and give the list to ImportedTransport")
        offsets = np.cumsum([0] + [len(p) for p in parts[:-1]])

        def joined(name):
            arrays = [getattr(p, name) for p in parts]
            return None if any(a is None for a in arrays) else np.concatenate(arrays)

        edges = ({e: np.concatenate([p.edge_fraction[e] for p in parts]) for e in EDGES}
                 if all(p.edge_fraction for p in parts) else {})
        return replace(first, site=joined("site"), time=joined("time"), lon=joined("lon"),
                       lat=joined("lat"), height=joined("height"),
                       rows=np.concatenate([p.rows + o for p, o in zip(parts, offsets)]),
                       cells=joined("cells"), emission_start=joined("emission_start"),
                       emission_end=joined("emission_end"), values=joined("values"),
                       files=sum((p.files for p in parts), ()),
                       background_ppm=joined("background_ppm"),
                       background_normalised_ppm=joined("background_normalised_ppm"),
                       boundary_fraction=joined("boundary_fraction"), edge_fraction=edges,
                       hires_report=None)


# ---------------------------------------------------------------------------- helpers
def _horizontal(ds: xr.Dataset, var: xr.DataArray, where: str,
                extra: tuple = ()) -> tuple[str, str]:
    """(y dim, x dim) of a footprint variable, found by name or standard name."""
    def role(dim):
        attrs = ds[dim].attrs if dim in ds.variables else {}
        standard = attrs.get("standard_name", "")
        if dim in ("lat", "latitude", "y") or standard in ("latitude",
                                                           "projection_y_coordinate"):
            return "y"
        if dim in ("lon", "longitude", "x") or standard in ("longitude",
                                                            "projection_x_coordinate"):
            return "x"
        return None

    spatial = [d for d in var.dims if d != "time" and d not in extra]
    roles = {role(d): d for d in spatial}
    if set(roles) != {"x", "y"} or len(spatial) != 2 or "time" not in var.dims:
        raise InputError(f"{where} has dims {var.dims}; expected (time, lat, lon) or "
                         "(time, y, x) in any order")
    return roles["y"], roles["x"]


def _factor(var: xr.DataArray, units: str | None, where: str, assumed: str) -> float:
    """Factor to ppm per (µmol m⁻² s⁻¹); a missing units attribute is warned about."""
    given = units if units is not None else var.attrs.get("units")
    if given is None or not str(given).strip():
        _warn(f"{where}: no units attribute; taken as {assumed!r} (the format's "
              "documented unit)")
        given = assumed
    return convert(1.0, str(given), FOOTPRINT_UNITS, where)


def _gridded(ds, name, where, units, assumed, extra=()):
    """(grid, values (time, *extra, ny, nx) ascending, factor applied) of a footprint."""
    var = ds[name]
    y_dim, x_dim = _horizontal(ds, var, where, extra)
    var = var.transpose("time", *extra, y_dim, x_dim)
    grid, y_slice, x_slice, _ = source_grid(ds, var.isel({d: 0 for d in extra}), where)
    values = numeric_values(var, where)[..., y_slice, x_slice]
    missing = ~np.isfinite(values)  # cells never written hold the _FillValue (NaN once decoded)
    if missing.any():
        _warn(f"{where}: {int(missing.sum())} of {values.size} values missing; taken as 0")
        values = np.where(missing, 0.0, values)
    return grid, values * _factor(var, units, where, assumed)


def _utc(value, where: str) -> np.datetime64:
    """A receptor time (ISO text, 'Z' or an offset allowed; datetime) as naive UTC."""
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise InputError(f"{where}: receptor time {value!r} is not a date-time; expected "
                         "ISO 8601 such as '2015-06-18T22:00:00Z'") from None
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return np.datetime64(stamp.to_datetime64(), "ns")


def _per_file(value, n: int, name: str):
    if value is None or np.ndim(value) == 0 or isinstance(value, str):
        return [value] * n
    value = list(value)
    if len(value) != n:
        raise InputError(f"{name}: {len(value)} values for {n} files; expected one or one "
                         "per file")
    return value


_STILT_NAME = re.compile(r"(?:^|_)(\d{12}|\d{10})_(-?\d+(?:\.\d+)?)_(-?\d+(?:\.\d+)?)_"
                         r"(\d+(?:\.\d+)?)(msl)?_foot$")
_NAME_FILE = re.compile(r"^(?P<site>[A-Za-z0-9]+)-(?P<height>\d+(?:\.\d+)?)m(?:agl)?_")


def _stilt_receptor(ds, var, path: Path, where: str) -> dict:
    """Receptor of a STILT file: PYSTILT JSON, R-STILT attributes, or the file name."""
    if "stilt_receptor" in var.attrs:
        try:
            receptor = dict(json.loads(var.attrs["stilt_receptor"]))
        except (ValueError, TypeError):
            raise InputError(f"{where}: attribute stilt_receptor is not the JSON of a PYSTILT "
                             "receptor") from None
        found = {"time": receptor.get("time"), "lon": receptor.get("longitude"),
                 "lat": receptor.get("latitude"), "height": receptor.get("altitude")}
        if receptor.get("kind", "point") != "point":
            found["height"] = None  # a column: the caller gives the height it stands for
        if receptor.get("altitude_ref", "agl") == "msl":
            _warn(f"{where}: receptor altitude is above sea level; used as height above "
                  "ground")
        return found
    names = {"time": "r_run_time", "lat": "r_lati", "lon": "r_long", "height": "r_zagl"}
    if all(n in ds.attrs for n in names.values()):
        return {key: ds.attrs[n] for key, n in names.items()}
    match = _STILT_NAME.search(path.name.removesuffix(".nc"))
    if match is None:
        return {}
    stamp, lon, lat, height, msl = match.groups()
    if msl:
        _warn(f"{where}: receptor height {height} m is above sea level (file name); used "
              "as height above ground")
    stamp = f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[8:10]}:{stamp[10:12] or '00'}"
    return {"time": stamp, "lon": float(lon), "lat": float(lat), "height": float(height)}


# ---------------------------------------------------------------------------- STILT
def read_stilt_footprint(paths, *, site=None, time=None, lon=None, lat=None, height=None,
                         variable: str = "foot", units: str | None = None,
                         layer_hours: float = 1.0) -> ImportedFootprints:
    """Footprints of R-STILT / PYSTILT NetCDF files, one receptor per file.

    Parameters
    ----------
    paths : path or sequence of paths
        Files on one grid (read files on different grids separately).
    site : str or sequence of str, optional
        Site names; default the STILT location id ``<lon>_<lat>_<height>``.
    time, lon, lat, height : scalar or sequence, optional
        The receptor (UTC time; degrees; m above ground), overriding what the file says
        (PYSTILT ``stilt_receptor``, attributes ``r_run_time``/``r_long``/``r_lati``/
        ``r_zagl``, or the R-STILT file name, in this order).
    variable : str
        The footprint variable (``foot``).
    units : str, optional
        Override of the variable's units (default: its ``units`` attribute, or
        ``ppm (umol-1 m2 s)`` with a warning).
    layer_hours : float, h
        Length of a time layer (R-STILT: 1 h, each stamped at its start).

    Returns
    -------
    ImportedFootprints
        ``time_resolved`` unless a file holds one layer at its receptor time (a
        time-integrated footprint, put in the observation hour with a warning).
    """
    paths = [Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
    if not paths:
        raise InputError("read_stilt_footprint: no files given")
    given = {k: _per_file(v, len(paths), k) for k, v in
             (("site", site), ("time", time), ("lon", lon), ("lat", lat), ("height", height))}
    parts = []
    for i, path in enumerate(paths):
        where = f"{path}: {variable}"
        with open_netcdf(path) as ds:
            if variable not in ds:
                raise InputError(f"{path}: no variable {variable!r} (found: "
                                 f"{', '.join(map(str, ds.data_vars)) or 'none'}); expected "
                                 "an R-STILT or PYSTILT footprint 'foot(time, lat, lon)'")
            found = _stilt_receptor(ds, ds[variable], path, where)
            pystilt = "stilt_receptor" in ds[variable].attrs
            receptor = {k: given[k][i] if given[k][i] is not None else found.get(k)
                        for k in ("time", "lon", "lat", "height")}
            missing = [k for k, v in receptor.items() if v is None]
            if missing:
                raise InputError(f"{where}: receptor {', '.join(missing)} unknown; expected "
                                 "a file named <YYYYmmddHHMM>_<lon>_<lat>_<zagl>_foot.nc "
                                 "(R-STILT), a stilt_receptor attribute (PYSTILT), global "
                                 "attributes r_run_time, r_long, r_lati, r_zagl, or the "
                                 "receptor as arguments")
            grid, values = _gridded(ds, variable, where, units, FOOTPRINT_UNITS)
            starts = time_intervals(ds, where)[0]
        receptor_time = _utc(receptor["time"], where)
        integrated = starts.size == 1 and starts[0] == receptor_time
        if integrated:
            _warn(f"{where}: a time-integrated footprint (one layer at the receptor time); "
                  "its flux is taken in the observation hour")
        elif starts.max() >= receptor_time:
            raise InputError(f"{where}: layers at or after the receptor time "
                             f"{receptor_time}; expected a backward (time-resolved) footprint "
                             "with layers stamped at the start of each hour back")
        elif starts.size > 1 and np.diff(starts).min() < layer_hours * HOUR:
            raise InputError(f"{where}: layers {np.diff(starts).min() / HOUR:g} h apart "
                             f"overlap layers of {layer_hours:g} h; give layer_hours")
        layer, cell = np.nonzero(values.reshape(values.shape[0], -1))
        emission_start = starts[layer] if not integrated else np.full(layer.size, receptor_time)
        length = np.timedelta64(round(layer_hours * 3600e9), "ns") * (not integrated)
        lon_r, lat_r, height_r = (float(receptor[k]) for k in ("lon", "lat", "height"))
        name = given["site"][i] or f"{lon_r:g}_{lat_r:g}_{height_r:g}"
        parts.append(ImportedFootprints(
            site=np.array([name]), time=np.array([receptor_time]), lon=np.array([lon_r]),
            lat=np.array([lat_r]), height=np.array([height_r]), grid=grid,
            rows=np.zeros(layer.size, np.int64), cells=cell.astype(np.int64),
            emission_start=emission_start, emission_end=emission_start + length,
            values=values.reshape(values.shape[0], -1)[layer, cell], time_resolved=not integrated,
            source="PYSTILT" if pystilt else "R-STILT",
            files=(str(path),)))
    return ImportedFootprints.concatenate(parts)


# ---------------------------------------------------------------------------- NAME
def _hires_report(hires: np.ndarray, fp: np.ndarray, h_back: np.ndarray, units,
                  tolerance: float) -> HiTResReport:
    """Checks of fp_HiTRes (time, H_back, ny, nx) against fp (time, ny, nx)."""
    fp_sum = fp.sum(axis=(1, 2))
    hires_sum = hires.sum(axis=(1, 2, 3))
    filled = (hires_sum != 0) & (fp_sum != 0)
    ratio = hires_sum[filled] / fp_sum[filled]
    negative = hires < 0
    slots = tuple(int(h) for h in h_back[negative.any(axis=(0, 2, 3))])
    return HiTResReport(units=units, n_times=int(fp_sum.size),
                        empty_times=int(((hires_sum == 0) & (fp_sum != 0)).sum()),
                        negative_values=int(negative.sum()), negative_slots=slots,
                        ratio_min=float(ratio.min()) if ratio.size else np.nan,
                        ratio_max=float(ratio.max()) if ratio.size else np.nan,
                        tolerance=tolerance)


def _mole_fraction_factor(var: xr.DataArray, where: str, inferred: list) -> float:
    """Factor of a boundary mole fraction to ppm; without units inferred from the magnitude
    (and the values appended to ``inferred`` for one warning)."""
    if var.attrs.get("units") not in (None, ""):
        return convert(1.0, str(var.attrs["units"]), "ppm", where)
    values = np.asarray(var.values, float)
    typical = float(np.nanmedian(np.abs(values)))
    if not 0 < typical < 1:
        raise InputError(f"{where}: no units attribute and values around {typical:g}; give "
                         "the file a units attribute (mol/mol, ppm or ppb)")
    inferred.append(values)
    return 1e6


def _boundary(ds, boundary, times, where) -> dict:
    """Boundary fractions (and the background when ``boundary`` names a vmr file)."""
    fractions = {}
    for edge in EDGES:
        var = ds[f"particle_locations_{edge}"]
        along = "lon" if edge in "ns" else "lat"
        fractions[edge] = numeric_values(var.transpose("time", "height", along), where)
    fraction = sum(f.sum(axis=(1, 2)) for f in fractions.values())
    result = {"boundary_fraction": fraction,
              "edge_fraction": {e: f.sum(axis=(1, 2)) for e, f in fractions.items()}}
    background = None
    if boundary is not None:
        background, inferred = np.zeros(times.size), []
        with open_netcdf(Path(boundary)) as bc:
            for edge in EDGES:
                name = f"vmr_{edge}"
                if name not in bc:
                    raise InputError(f"{boundary}: no variable {name!r}; expected vmr_n, "
                                     "vmr_e, vmr_s, vmr_w (height, lon|lat)")
                var = bc[name]
                along = "lon" if edge in "ns" else "lat"
                if "time" in var.dims:  # the latest boundary field at or before each time
                    bc_times = np.asarray(bc["time"].values, "datetime64[ns]")
                    index = np.searchsorted(bc_times, times, side="right") - 1
                    if index.min() < 0:
                        raise InputError(f"{boundary}: {name} starts at {bc_times[0]}, after "
                                         f"the first footprint time {times.min()}")
                    vmr = numeric_values(var.transpose("time", "height", along),
                                         f"{boundary}: {name}")[index]
                else:
                    vmr = numeric_values(var.transpose("height", along),
                                         f"{boundary}: {name}")[None]
                for dim in ("height", along):
                    a, b = np.asarray(ds[dim].values, float), np.asarray(bc[dim].values, float)
                    if a.shape != b.shape or not np.allclose(a, b, rtol=1e-5):
                        raise InputError(f"{boundary}: {name} {dim} coordinates differ from "
                                         f"{where}'s particle_locations_{edge}")
                vmr = vmr * _mole_fraction_factor(var, f"{boundary}: {name}", inferred)
                background += (fractions[edge] * vmr).sum(axis=(1, 2))
        if inferred:
            values = np.concatenate([v.ravel() for v in inferred])
            _warn(f"{boundary}: vmr_* have no units attribute; values {np.nanmin(values):.3g} "
                  f"to {np.nanmax(values):.3g} taken as mol/mol (inferred: a mole fraction "
                  "below 1 cannot be in ppm or ppb; CO2 ≈ 4e-4 mol/mol = 400 ppm)")
        result["background_ppm"] = background
        with np.errstate(invalid="ignore", divide="ignore"):
            result["background_normalised_ppm"] = background / fraction
    if fraction.min() < MIN_BOUNDARY_FRACTION:
        shares = {e: f.sum() / fraction.sum() for e, f in result["edge_fraction"].items()}
        text = (f"{where}: the particles leaving through the four domain edges account for "
                f"only {fraction.min():.3g}-{fraction.max():.3g} of those released (expected "
                "about 1): the domain is cut from a larger one, so the boundary term is "
                "incomplete")
        if background is not None:
            text += (f" (Σ particle_locations × vmr = {background.min():.3g}-"
                     f"{background.max():.3g} ppm, normalised by the fraction "
                     f"{np.nanmin(result['background_normalised_ppm']):.4g}-"
                     f"{np.nanmax(result['background_normalised_ppm']):.4g} ppm)")
        text += "; edge shares " + ", ".join(f"{e} {100 * s:.2g} %" for e, s in shares.items())
        _warn(text)
    return result


def read_name_footprint(path, *, boundary=None, site: str | None = None,
                        height: float | None = None, use_hires: bool = False,
                        hires_tolerance: float = 0.1,
                        units: str | None = None) -> ImportedFootprints:
    """Footprints of a NAME / OpenGHG footprint file (one site, many receptor times).

    Parameters
    ----------
    path : path
        ``<SITE>-<inlet>magl_<domain>_<species>_<date>.nc`` with ``fp(lat, lon, time)``.
    boundary : path, optional
        Boundary mole fractions ``vmr_{n,e,s,w}(height, lon|lat[, time])``; with it the
        background Σ_edges particle_locations × vmr is computed (ppm).
    site, height : optional
        Site name and inlet height (m above ground); default from the file name.
    use_hires : bool
        Use ``fp_HiTRes`` (time resolved) instead of ``fp``. It is checked first (units,
        times with no values, negative values, sum against ``fp`` within
        ``hires_tolerance``) and refused with the findings if a check fails.
    units : str, optional
        Override of the footprint units.

    Returns
    -------
    ImportedFootprints
        With ``hires_report`` when the file has ``fp_HiTRes``, and the boundary terms when
        it has ``particle_locations_*``. A warning is raised when the edges account for
        fewer than ``MIN_BOUNDARY_FRACTION`` of the particles (a cut domain), and when units
        are missing (with the unit assumed).

    Notes
    -----
    ``fp_HiTRes`` slot H (spacing s hours) is taken to cover the s hours from H hours back;
    its last slot holds the footprint older than the resolved window and is placed there too
    (an approximation).
    """
    path = Path(path)
    named = _NAME_FILE.match(path.name)
    site = site or (named["site"] if named else None)
    height = height if height is not None else (float(named["height"]) if named else None)
    if site is None or height is None:
        raise InputError(f"{path}: site and inlet height unknown; expected a file named "
                         "<SITE>-<inlet>magl_... or the site and height as arguments")
    where = f"{path}: fp"
    with open_netcdf(path) as ds:
        if "fp" not in ds:
            raise InputError(f"{path}: no variable 'fp'; expected a NAME footprint "
                             "fp(lat, lon, time)")
        grid, fp = _gridded(ds, "fp", where, units, "(mol/mol)/(mol/m2/s)")
        times = time_intervals(ds, where)[0]
        lon = numeric_values(ds["release_lon"], f"{path}: release_lon") \
            if "release_lon" in ds else np.full(times.size, np.nan)
        lat = numeric_values(ds["release_lat"], f"{path}: release_lat") \
            if "release_lat" in ds else np.full(times.size, np.nan)
        report = hires = None
        if "fp_HiTRes" in ds:
            hires_units = ds["fp_HiTRes"].attrs.get("units")
            h_back = numeric_values(ds["H_back"], f"{path}: H_back")
            with warnings.catch_warnings():  # a missing unit is part of the report
                warnings.simplefilter("ignore", FootprintImportWarning)
                _, hires = _gridded(ds, "fp_HiTRes", f"{path}: fp_HiTRes",
                                    units or ds["fp"].attrs.get("units"),
                                    "(mol/mol)/(mol/m2/s)", extra=("H_back",))
            report = _hires_report(hires, fp, h_back, hires_units, hires_tolerance)
            log.info("%s: fp_HiTRes %s", path, "; ".join(report.problems) or "passes checks")
        if use_hires and report is None:
            raise InputError(f"{path}: no fp_HiTRes variable; use fp (use_hires=False)")
        if use_hires and not report.passed:
            raise InputError(f"{path}: fp_HiTRes fails its checks: "
                             f"{'; '.join(report.problems)}; use fp (use_hires=False)")
        has_boundary = all(f"particle_locations_{e}" in ds for e in EDGES)
        extra = _boundary(ds, boundary, times, f"{path}") if has_boundary else {}
        if boundary is not None and not has_boundary:
            raise InputError(f"{path}: no particle_locations_n/e/s/w to pair with {boundary}")
    n = times.size
    common = dict(site=np.array([site] * n), time=times, lon=lon, lat=lat,
                  height=np.full(n, float(height)), grid=grid, files=(str(path),),
                  hires_report=report, **extra)
    if not use_hires:
        row, cell = np.nonzero(fp.reshape(n, -1))
        return ImportedFootprints(rows=row.astype(np.int64), cells=cell.astype(np.int64),
                                  emission_start=times[row], emission_end=times[row],
                                  values=fp.reshape(n, -1)[row, cell], time_resolved=False,
                                  source="NAME fp", **common)
    step = int(np.diff(h_back).min()) if h_back.size > 1 else 1
    flat = hires.reshape(n, h_back.size, -1)
    row, slot, cell = np.nonzero(flat)
    back = h_back[slot].astype(np.int64)
    # slot H covers the hours H .. H + step - 1 back: [t - (H + step - 1) h, t - H h + 1 h)
    start = times[row] - (back + step - 1) * HOUR
    return ImportedFootprints(rows=row.astype(np.int64), cells=cell.astype(np.int64),
                              emission_start=start, emission_end=start + step * HOUR,
                              values=flat[row, slot, cell], time_resolved=True,
                              source="NAME fp_HiTRes", **common)


# ---------------------------------------------------------------------------- transport
class ImportedTransport(Transport):
    """Imported footprints served as a transport model.

    Parameters
    ----------
    footprints : ImportedFootprints or sequence of them
        E.g. one NAME file per site, or the STILT files of each grid.
    grid : Grid
        The inversion grid; footprints on other grids are regridded conservatively
        (:meth:`ImportedFootprints.regridded`).
    start : datetime-like
        Start of the period (hour 0 of the receptors).
    hours_back : int, optional
        Oldest emission hour kept; default the oldest in the footprints.
    stacks_as_surface : bool
        Imported surface footprints know nothing of stacks. False (default):
        :meth:`point_sensitivities` raises. True: a stack is approximated by a surface
        source spread over its inversion cell, which overestimates the near-field signal of
        tall stacks (their plume is released above the surface layer).
    max_distance_m : float
        Receptors farther than this from the imported receptor they are matched to raise a
        warning.

    Receptors are matched by site (case-insensitive) and observation hour, the hour an
    imported receptor time falls in: a NAME time starts its hourly mean; a STILT release at
    22:00 stands for the hour 22:00-23:00 (release mid-hour, 22:30, for the centre of an
    hourly mean). Several imported receptors in one hour (sub-hourly STILT releases) are
    averaged, as an hourly mean.
    """

    def __init__(self, footprints, grid: Grid, start, hours_back: int | None = None,
                 stacks_as_surface: bool = False, max_distance_m: float = 2000.0):
        parts = [footprints] if isinstance(footprints, ImportedFootprints) else list(footprints)
        if not parts:
            raise InputError("ImportedTransport: no footprints given")
        self.parts, self.grid = parts, grid
        self.start = np.datetime64(start, "ns")
        self.stacks_as_surface, self.max_distance_m = stacks_as_surface, float(max_distance_m)
        binned = [p.to_footprints(self.start, grid) for p in parts]
        self._all = Footprints.concatenate(binned)
        oldest = int(self._all.hours_back.max()) if self._all.values.size else 0
        self.hours_back = oldest if hours_back is None else int(hours_back)
        self._site = np.concatenate([p.site for p in parts]).astype(str)
        self._lon = np.concatenate([p.lon for p in parts])
        self._lat = np.concatenate([p.lat for p in parts])
        self._height = np.concatenate([p.height for p in parts])
        self._index = {}
        for row, key in enumerate(zip(np.char.lower(self._site), self._all.obs_hour.tolist())):
            self._index.setdefault(key, []).append(row)
        order = np.argsort(self._all.rows, kind="stable")
        self._order = order
        self._indptr = np.searchsorted(self._all.rows[order], np.arange(self._all.n_obs + 1))

    def surface_footprints(self, receptors: Receptors, progress: bool = False) -> Footprints:
        pairs, missing = [], []
        for i, key in enumerate(zip(np.char.lower(receptors.site.astype(str)),
                                    np.asarray(receptors.hour).tolist())):
            rows = self._index.get(key)
            if rows is None:
                missing.append(f"{receptors.site[i]} hour {key[1]}")
                continue
            pairs += [(i, r, 1.0 / len(rows)) for r in rows]
        if missing:
            raise InputError(f"no imported footprint for {len(missing)} of {len(receptors)} "
                             f"receptors ({', '.join(missing[:5])}"
                             f"{', …' if len(missing) > 5 else ''}); expected footprints for "
                             "every site and observation hour")
        receptor, row, weight = (np.array(v) for v in zip(*pairs))
        self._check_positions(receptors, receptor, row)
        background = None
        if self._all.background is not None:   # the matched receptors' mean
            background = np.bincount(receptor, weight * self._all.background[row],
                                     minlength=len(receptors))
        counts = self._indptr[row + 1] - self._indptr[row]
        entry = self._order[np.repeat(self._indptr[row], counts)
                            + np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts,
                                                                  counts)]
        fp = self._all
        keep = fp.hours_back[entry] <= self.hours_back
        entry = entry[keep]
        return Footprints(np.asarray(receptors.hour, np.int64),
                          np.repeat(receptor, counts)[keep], fp.cells[entry],
                          fp.hours_back[entry], fp.values[entry] *
                          np.repeat(weight, counts)[keep], self.grid.size, background)

    def _check_positions(self, receptors, receptor, row) -> None:
        known = np.isfinite(self._lon[row]) & np.isfinite(self._lat[row])
        x, y = self.grid.to_metric(self._lon[row][known], self._lat[row][known])
        distance = np.hypot(x - receptors.x[receptor][known], y - receptors.y[receptor][known])
        if distance.size and distance.max() > self.max_distance_m:
            far = receptors.site[receptor][known][distance > self.max_distance_m]
            _warn(f"imported footprints lie up to {distance.max() / 1000:.3g} km from the "
                  f"receptors they are matched to (sites {', '.join(sorted(set(far)))})")
        dz = np.abs(self._height[row] - receptors.height[receptor])
        if dz.size and dz.max() > 1.0:
            _warn(f"imported footprints were released up to {dz.max():.3g} m from the inlet "
                  "heights of the receptors they are matched to")

    def point_sensitivities(self, sources, receptors: Receptors, integrate: bool = False,
                            progress: bool = False) -> np.ndarray:
        """Stacks as surface sources in their inversion cell (only with
        ``stacks_as_surface``), ppm per (kg CO2 s⁻¹): F_cell × 1e6 / (M_CO2 × A_cell)."""
        if not self.stacks_as_surface:
            raise InputError("imported footprints are surface footprints and carry no stack "
                             "plumes; model point sources with the gaussian_plume transport, "
                             "or accept the surface approximation with stacks_as_surface=True")
        to_grid = pyproj.Transformer.from_crs(self.grid.metric_crs, self.grid.pyproj_crs,
                                              always_xy=True)
        gx, gy = to_grid.transform(np.asarray(sources.x_m, float), np.asarray(sources.y_m, float))
        ix = np.floor((np.asarray(gx) - self.grid.x_start) / self.grid.x_step).astype(int)
        iy = np.floor((np.asarray(gy) - self.grid.y_start) / self.grid.y_step).astype(int)
        inside = (ix >= 0) & (ix < self.grid.nx) & (iy >= 0) & (iy < self.grid.ny)
        if not inside.all():
            _warn(f"{int((~inside).sum())} stack(s) outside the inversion grid get no signal")
        sources_in_cell = {}
        for s in np.flatnonzero(inside):
            sources_in_cell.setdefault(int(iy[s] * self.grid.nx + ix[s]), []).append(s)
        fp = self.surface_footprints(receptors)
        out = np.zeros((len(receptors), ix.size, self.hours_back + 1))
        area = self.grid.cell_area.ravel()
        for cell, members in sources_in_cell.items():
            hit = fp.cells == cell
            value = fp.values[hit] * 1e6 / (MOLAR_MASS_CO2 * area[cell])
            for s in members:
                np.add.at(out, (fp.rows[hit], s, fp.hours_back[hit]), value)
        return out.sum(axis=2) if integrate else out

    def cache_parts(self) -> tuple:
        return (code_fingerprint(), self.grid, self.start, self.hours_back,
                self.stacks_as_surface, tuple(p.digest() for p in self.parts))


def transport_from_files(settings, grid: Grid, start, sites=None,
                         boundary=None) -> ImportedTransport:
    """The :class:`ImportedTransport` of a config's ``transport.footprint_files``.

    STILT receptors without a ``site`` in the config are named after the nearest site of
    ``sites`` (a table with site, lon, lat), which must lie within the transport's
    ``max_distance_m``. ``boundary`` (a vmr_n/e/s/w file) gives NAME files a background.
    """
    from ..config import FootprintFormat

    parts = []
    for spec in settings.footprint_files:
        if spec.format == FootprintFormat.STILT:
            footprints = read_stilt_footprint(spec.files, site=spec.site)
            if spec.site is None and sites is not None:
                footprints = _named_after_nearest_site(footprints, grid, sites)
            parts.append(footprints)
        else:
            parts += [read_name_footprint(path, boundary=boundary, site=spec.site,
                                          use_hires=spec.use_hires)
                      for path in spec.files]
    return ImportedTransport(parts, grid, start, hours_back=settings.hours_back,
                             stacks_as_surface=settings.stacks_as_surface)


def _named_after_nearest_site(footprints: ImportedFootprints, grid: Grid,
                              sites, max_distance_m: float = 2000.0) -> ImportedFootprints:
    site_x, site_y = grid.to_metric(sites.lon.to_numpy(float), sites.lat.to_numpy(float))
    x, y = grid.to_metric(footprints.lon, footprints.lat)
    distance = np.hypot(np.subtract.outer(x, site_x), np.subtract.outer(y, site_y))
    nearest = distance.argmin(axis=1)
    far = distance[np.arange(x.size), nearest] > max_distance_m
    if far.any():
        i = int(np.argmax(far))
        raise InputError(f"{footprints.files[min(i, len(footprints.files) - 1)]}: the STILT "
                         f"receptor at {footprints.lon[i]:.4f} E, {footprints.lat[i]:.4f} N "
                         f"is {distance[i].min() / 1000:.3g} km from the nearest site; "
                         "expected a site within 2 km (or give the site in "
                         "transport.footprint_files)")
    return replace(footprints, site=sites.site.to_numpy().astype(str)[nearest])
