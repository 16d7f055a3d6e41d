"""The inversion grid: regular cells in geographic or projected coordinates.

A :class:`Grid` knows its cell centres and bounds in its own CRS, the longitude and
latitude of every centre, every cell's area on the ellipsoid, and a local metric frame
(metres east and north) in which transport works. For a projected grid the metric frame is
the projection itself; for a lat/lon grid it is an azimuthal equidistant projection centred
on the domain, exact in distance from the centre and accurate to well under 1 % over a city.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pyproj
import xarray as xr

from .errors import ConfigError, brief

WGS84 = pyproj.CRS.from_epsg(4326)


@dataclass(frozen=True)
class Grid:
    """A regular grid.

    Parameters
    ----------
    crs : str
        'EPSG:4326' for lat/lon, otherwise a projected CRS with metre units.
    x_start, x_stop, x_step, y_start, y_stop, y_step : float
        Cell edges of the two axes, in CRS units (m or degrees).
    """

    crs: str
    x_start: float
    x_stop: float
    x_step: float
    y_start: float
    y_stop: float
    y_step: float

    @classmethod
    def from_config(cls, domain) -> "Grid":
        """Build the grid of a :class:`cityflux.config.DomainConfig`."""
        grid = cls(domain.crs or "EPSG:4326", domain.x.start, domain.x.stop, domain.x.step,
                   domain.y.start, domain.y.stop, domain.y.step)
        grid.validate()
        return grid

    @classmethod
    def from_centres(cls, crs, x_centres, y_centres, where: str) -> tuple["Grid", slice, slice]:
        """The regular grid whose cell centres are the given 1-D coordinates.

        Parameters
        ----------
        crs : str
            CRS of the coordinates (as for :class:`Grid`).
        x_centres, y_centres : array_like, 1-D
            Cell centres along x and y (CRS units), ascending or descending, regularly spaced
            (to 1e-6 of the step). At least two values each, to fix the step.
        where : str
            Names the data in error messages (file and variable).

        Returns
        -------
        grid : Grid
        y_slice, x_slice : slice
            ``slice(None)`` or ``slice(None, None, -1)``: ``data[..., y_slice, x_slice]``
            puts data along y and x in the grid's ascending order.
        """
        from .errors import InputError

        bounds, slices = [], []
        for name, centres in (("x", x_centres), ("y", y_centres)):
            values = np.asarray(centres, dtype=float)
            if values.ndim != 1 or values.size < 2:
                raise InputError(f"{where}: {name} needs at least two cell centres in a 1-D "
                                 f"coordinate to fix the grid step; found shape {values.shape}")
            if not np.isfinite(values).all():
                raise InputError(f"{where}: {name} coordinates contain missing or non-finite "
                                 "values")
            step = (values[-1] - values[0]) / (values.size - 1)
            deviation = np.abs(np.diff(values) - step).max()
            if step == 0 or deviation > 1e-6 * abs(step):
                raise InputError(f"{where}: {name} cell centres are not regularly spaced: "
                                 f"mean step {step:g}, largest deviation {deviation:g} "
                                 f"(allowed 1e-6 of the step)")
            step = abs(step)
            low, high = min(values[0], values[-1]), max(values[0], values[-1])
            bounds.append((low - step / 2, high + step / 2, step))
            slices.append(slice(None) if values[-1] > values[0] else slice(None, None, -1))
        (x0, x1, dx), (y0, y1, dy) = bounds
        grid = cls(crs, float(x0), float(x1), float(dx), float(y0), float(y1), float(dy))
        try:
            grid.validate()
        except ConfigError as exc:
            raise InputError(f"{where}: {exc}") from None
        return grid, slices[1], slices[0]

    def validate(self) -> None:
        try:
            crs = self.pyproj_crs
        except pyproj.exceptions.CRSError as exc:
            raise ConfigError(f"domain.crs {self.crs!r} is not a valid CRS: {brief(exc)}") from None
        if not crs.is_geographic:
            unit = crs.axis_info[0].unit_name if crs.axis_info else "?"
            if unit not in ("metre", "meter"):
                raise ConfigError(f"domain.crs {self.crs!r}: projected grids must be in "
                                  f"metres, this CRS uses {unit!r}")
        elif not (-180 <= self.x_start < self.x_stop <= 360 and
                  -90 <= self.y_start < self.y_stop <= 90):
            raise ConfigError("domain.x / domain.y: a lat/lon grid needs longitudes in "
                              "[-180, 360] and latitudes in [-90, 90]")

    # ------------------------------------------------------------------ geometry
    @functools.cached_property
    def pyproj_crs(self) -> pyproj.CRS:
        return pyproj.CRS.from_user_input(self.crs)

    @property
    def is_geographic(self) -> bool:
        return self.pyproj_crs.is_geographic

    @property
    def dims(self) -> tuple[str, str]:
        """Names of the (row, column) dimensions."""
        return ("lat", "lon") if self.is_geographic else ("y", "x")

    @property
    def nx(self) -> int:
        return int(round((self.x_stop - self.x_start) / self.x_step))

    @property
    def ny(self) -> int:
        return int(round((self.y_stop - self.y_start) / self.y_step))

    @property
    def shape(self) -> tuple[int, int]:
        return (self.ny, self.nx)

    @property
    def size(self) -> int:
        return self.nx * self.ny

    @functools.cached_property
    def x(self) -> np.ndarray:
        """Cell centres along x (CRS units)."""
        return self.x_start + self.x_step * (np.arange(self.nx) + 0.5)

    @functools.cached_property
    def y(self) -> np.ndarray:
        """Cell centres along y (CRS units)."""
        return self.y_start + self.y_step * (np.arange(self.ny) + 0.5)

    @property
    def x_bounds(self) -> np.ndarray:
        """Cell bounds along x, shape (nx, 2)."""
        return np.stack([self.x - self.x_step / 2, self.x + self.x_step / 2], axis=1)

    @property
    def y_bounds(self) -> np.ndarray:
        """Cell bounds along y, shape (ny, 2)."""
        return np.stack([self.y - self.y_step / 2, self.y + self.y_step / 2], axis=1)

    @functools.cached_property
    def lonlat(self) -> tuple[np.ndarray, np.ndarray]:
        """Longitude and latitude (degrees) of every cell centre, each of shape (ny, nx)."""
        xx, yy = np.meshgrid(self.x, self.y)
        if self.is_geographic:
            return xx, yy
        to_geo = pyproj.Transformer.from_crs(self.pyproj_crs, WGS84, always_xy=True)
        return to_geo.transform(xx, yy)

    @property
    def centre_lonlat(self) -> tuple[float, float]:
        lon, lat = self.lonlat
        return float(lon.mean()), float(lat.mean())

    @functools.cached_property
    def metric_crs(self) -> pyproj.CRS:
        """CRS of the local metric frame used by transport (metres east, north)."""
        if not self.is_geographic:
            return self.pyproj_crs
        lon0, lat0 = self.centre_lonlat
        return pyproj.CRS.from_proj4(f"+proj=aeqd +lat_0={lat0} +lon_0={lon0} +datum=WGS84 "
                                     "+units=m +no_defs")

    def to_metric(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        """Metric-frame coordinates (m) of points given in longitude and latitude."""
        to_metric = pyproj.Transformer.from_crs(WGS84, self.metric_crs, always_xy=True)
        return to_metric.transform(np.asarray(lon, float), np.asarray(lat, float))

    def to_grid_crs(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        """Grid-CRS coordinates of points given in longitude and latitude."""
        if self.is_geographic:
            return np.asarray(lon, float), np.asarray(lat, float)
        to_grid = pyproj.Transformer.from_crs(WGS84, self.pyproj_crs, always_xy=True)
        return to_grid.transform(np.asarray(lon, float), np.asarray(lat, float))

    @functools.cached_property
    def metric_xy(self) -> tuple[np.ndarray, np.ndarray]:
        """Metric-frame coordinates (m) of every cell centre, each (ny, nx)."""
        if not self.is_geographic:
            return tuple(np.meshgrid(self.x, self.y))
        return self.to_metric(*self.lonlat)

    @functools.cached_property
    def metric_cell_size(self) -> tuple[np.ndarray, np.ndarray]:
        """Approximate cell widths (m) along x and y in the metric frame, each (ny, nx)."""
        if not self.is_geographic:
            return (np.full(self.shape, self.x_step), np.full(self.shape, self.y_step))
        geod = self.pyproj_crs.get_geod()
        lon, lat = self.lonlat
        _, _, dx = geod.inv(lon - self.x_step / 2, lat, lon + self.x_step / 2, lat)
        _, _, dy = geod.inv(lon, lat - self.y_step / 2, lon, lat + self.y_step / 2)
        return dx, dy

    @functools.cached_property
    def cell_area(self) -> np.ndarray:
        """Area of every cell on the ellipsoid, m², shape (ny, nx)."""
        if self.is_geographic:
            # Exact on the ellipsoid: area from the equator to latitude φ per radian of
            # longitude is (b²/2) [sin φ / (1 − e² sin² φ) + artanh(e sin φ) / e].
            geod = self.pyproj_crs.get_geod()
            e = np.sqrt(geod.es)
            sin_lat = np.sin(np.radians(self.y_bounds))
            band = 0.5 * geod.b ** 2 * (sin_lat / (1 - e ** 2 * sin_lat ** 2)
                                        + np.arctanh(e * sin_lat) / e)
            area = np.radians(self.x_step) * (band[:, 1] - band[:, 0])
            return np.repeat(area[:, None], self.nx, axis=1)
        factors = pyproj.Proj(self.pyproj_crs).get_factors(*self.lonlat)
        return self.x_step * self.y_step / factors.areal_scale

    # ------------------------------------------------------------------ xarray
    def coords(self) -> dict:
        """xarray coordinates with CF attributes (centres, bounds, 2-D lat/lon)."""
        row, col = self.dims
        if self.is_geographic:
            return {
                "lat": ("lat", self.y, {"standard_name": "latitude", "units": "degrees_north",
                                        "long_name": "latitude", "bounds": "lat_bnds"}),
                "lon": ("lon", self.x, {"standard_name": "longitude", "units": "degrees_east",
                                        "long_name": "longitude", "bounds": "lon_bnds"}),
            }
        lon, lat = self.lonlat
        return {
            "y": ("y", self.y, {"standard_name": "projection_y_coordinate", "units": "m",
                                "long_name": "northing", "axis": "Y"}),
            "x": ("x", self.x, {"standard_name": "projection_x_coordinate", "units": "m",
                                "long_name": "easting", "axis": "X"}),
            "lat": (("y", "x"), lat, {"standard_name": "latitude", "units": "degrees_north",
                                      "long_name": "latitude"}),
            "lon": (("y", "x"), lon, {"standard_name": "longitude", "units": "degrees_east",
                                      "long_name": "longitude"}),
        }

    def data_vars(self) -> dict:
        """Auxiliary variables that complete the CF description (bounds, mapping, area)."""
        row, col = self.dims
        variables = {
            "cell_area": ((row, col), self.cell_area,
                          {"standard_name": "cell_area", "units": "m2",
                           "long_name": "area of grid cell"}),
        }
        if self.is_geographic:
            variables["lat_bnds"] = (("lat", "nv"), self.y_bounds, {})
            variables["lon_bnds"] = (("lon", "nv"), self.x_bounds, {})
        else:
            cf = self.pyproj_crs.to_cf()
            cf.pop("crs_wkt", None)
            cf["crs_wkt"] = self.pyproj_crs.to_wkt()
            variables["crs"] = ((), np.int32(0), cf)
        return variables

    def grid_mapping_attrs(self) -> dict:
        """Attributes that link a gridded variable to the CF grid mapping.

        (xarray writes the ``coordinates`` attribute itself, listing lat and lon.)
        """
        return {} if self.is_geographic else {"grid_mapping": "crs"}

    def check_matches(self, data: xr.DataArray | xr.Dataset, where: str, tol: float = 1e-6) -> None:
        """Raise :class:`InputError` unless ``data`` is on this grid."""
        from .errors import InputError

        row, col = self.dims
        for dim, centres in ((row, self.y), (col, self.x)):
            if dim not in data.dims:
                raise InputError(f"{where}: dimension {dim!r} missing; expected dims "
                                 f"{self.dims} on the domain grid, found {tuple(data.dims)}")
            values = np.asarray(data[dim].values, float)
            step = self.y_step if dim == row else self.x_step
            if values.shape != centres.shape or not np.allclose(values, centres,
                                                                 atol=tol * abs(step)):
                raise InputError(f"{where}: {dim} coordinates do not match the domain grid "
                                 f"({centres.size} cell centres from {centres[0]:g} to "
                                 f"{centres[-1]:g}); found {values.size} values from "
                                 f"{values[0]:g} to {values[-1]:g}")


def read_grid_file(path) -> Grid:
    """The grid of a CF NetCDF grid file.

    The file holds 1-D cell-centre coordinates, ascending or descending and regularly
    spaced: either projection x/y (standard names ``projection_x_coordinate`` and
    ``projection_y_coordinate``, in any length units, converted to metres) with a grid
    mapping variable giving the projection, or longitude/latitude in degrees. Bounds, where
    a coordinate names them, must be the cells around the centres. A ``cell_area`` variable
    (standard name), when present, is compared with the areas cityflux computes on the
    ellipsoid; a difference above 1 % is logged as a warning (cityflux's exact areas are
    used).

    Raises
    ------
    InputError
        One line naming the file and the variable at fault and what was expected.
    """
    import logging

    from .errors import InputError
    from .inventory.gridded import open_netcdf
    from .units import convert

    log = logging.getLogger(__name__)
    where = str(path)

    def axis_coordinate(ds, axis):
        """(name, is_geographic) of the 1-D coordinate along ``axis`` ("x" or "y")."""
        projected = f"projection_{axis}_coordinate"
        geographic, names = {"x": ("longitude", ("lon", "longitude")),
                             "y": ("latitude", ("lat", "latitude"))}[axis]
        ranked = []
        for name, var in ds.variables.items():
            if var.dims != (name,):
                continue
            standard = var.attrs.get("standard_name")
            units = str(var.attrs.get("units", "")).lower()
            if standard in (projected, geographic):
                ranked.append((0, name, standard == geographic))
            elif name in names or name == axis or var.attrs.get("axis") == axis.upper():
                ranked.append((1, name, name in names or units.startswith("degree")))
        return min(ranked)[1:] if ranked else None

    def metres_per_unit(var, name, geographic):
        units = var.attrs.get("units")
        if geographic:
            if units is not None and not str(units).lower().startswith("degree"):
                raise InputError(f"{where}: {name} has units {units!r}; expected degrees "
                                 "(degrees_east or degrees_north)")
            return 1.0
        return 1.0 if units is None else convert(1.0, str(units), "m", f"{where}: {name}")

    def precision(var):
        """Relative rounding of the stored values (float32 coordinates carry ~1e-7)."""
        return np.finfo(var.dtype).eps if np.issubdtype(var.dtype, np.floating) else 0.0

    def numbers(var, name, scale):
        try:
            return np.asarray(var.values, dtype=float) * scale
        except (TypeError, ValueError):
            raise InputError(f"{where}: {name} is not numeric (found {var.dtype}); expected "
                             "cell-centre coordinates") from None

    def regular_centres(values, name, eps):
        """``values`` made exactly regular, after checking they are regular to within the
        rounding ``eps`` (relative) of the stored numbers."""
        if values.ndim != 1 or values.size < 2 or not np.isfinite(values).all():
            return values  # Grid.from_centres names the problem
        step = (values[-1] - values[0]) / (values.size - 1)
        regular = values[0] + step * np.arange(values.size)
        deviation = np.abs(values - regular).max()
        allowed = max(1e-6 * abs(step), 4 * eps * np.abs(values).max())
        if step == 0 or deviation > allowed:
            raise InputError(f"{where}: {name} cell centres are not regularly spaced: mean step "
                             f"{step:g}, largest deviation {deviation:g} (allowed {allowed:g})")
        return regular

    def grid_mapping_crs(ds, x_name, y_name):
        referenced = {str(var.attrs["grid_mapping"]).split(":")[0].strip()
                      for var in ds.variables.values() if "grid_mapping" in var.attrs}
        chosen = sorted(referenced & set(ds.variables)) or sorted(
            name for name, var in ds.variables.items() if "grid_mapping_name" in var.attrs)
        if not chosen:
            raise InputError(f"{where}: projected coordinates {x_name}/{y_name} need a grid "
                             "mapping: a variable with grid_mapping_name (and crs_wkt) giving "
                             "the projection")
        if len(chosen) > 1:
            raise InputError(f"{where}: several grid mappings ({', '.join(chosen)}); expected "
                             "one for the whole grid")
        try:
            crs = pyproj.CRS.from_cf(dict(ds[chosen[0]].attrs))
        except Exception as exc:  # pyproj raises several types for bad mappings
            raise InputError(f"{where}: cannot read grid mapping {chosen[0]!r}: "
                             f"{brief(exc)}") from None
        if crs.is_geographic:
            raise InputError(f"{where}: grid mapping {chosen[0]!r} is geographic but "
                             f"{x_name}/{y_name} are projection coordinates; expected a "
                             "projection, or lon/lat coordinates")
        epsg = crs.to_epsg(min_confidence=100)
        return f"EPSG:{epsg}" if epsg else crs.to_wkt()

    def check_bounds(ds, name, centres, step, scale):
        bounds_name = ds[name].attrs.get("bounds")
        if not bounds_name or bounds_name not in ds.variables:
            return
        bounds = numbers(ds[bounds_name], bounds_name, scale)
        if bounds.shape == (2, centres.size) and centres.size != 2:
            bounds = bounds.T
        if bounds.shape != (centres.size, 2):
            raise InputError(f"{where}: {bounds_name} has shape {bounds.shape}; expected "
                             f"({centres.size}, 2), the two edges of every cell of {name}")
        low, high = bounds.min(axis=1), bounds.max(axis=1)
        tolerance = 1e-6 * step + 4 * precision(ds[bounds_name]) * np.abs(bounds).max()
        good = ((np.abs((low + high) / 2 - centres) <= tolerance) &
                (np.abs(high - low - step) <= tolerance))
        if not good.all():
            i = int(np.flatnonzero(~good)[0])
            raise InputError(f"{where}: {bounds_name}[{i}] = [{bounds[i, 0]:g}, "
                             f"{bounds[i, 1]:g}] is not the cell of width {step:g} around "
                             f"{name}[{i}] = {centres[i]:g} ({int((~good).sum())} of "
                             f"{centres.size} cells inconsistent)")

    def compare_cell_area(ds, grid, x_name, y_name, y_slice, x_slice):
        names = [name for name, var in ds.variables.items()
                 if var.attrs.get("standard_name") == "cell_area"]
        if not names:
            return
        var = ds[names[0]]
        if var.ndim != 2 or set(var.dims) != {x_name, y_name}:
            raise InputError(f"{where}: {names[0]} has dimensions {var.dims}; expected "
                             f"({y_name}, {x_name})")
        area = numbers(var.transpose(y_name, x_name), names[0], 1.0)[y_slice, x_slice]
        if var.attrs.get("units") is not None:
            area = convert(area, str(var.attrs["units"]), "m2", f"{where}: {names[0]}")
        with np.errstate(divide="ignore", invalid="ignore"):
            difference = np.abs(area / grid.cell_area - 1)
        difference[~np.isfinite(area)] = 0.0  # missing values are not compared
        if difference.max() > 0.01:
            row, col = np.unravel_index(int(np.argmax(difference)), difference.shape)
            log.warning("%s: %s differs from the ellipsoidal cell areas by up to %.3g %% (cell "
                        "%s=%g, %s=%g); cityflux uses its own exact areas", where, names[0],
                        100 * difference.max(), y_name, grid.y[row], x_name, grid.x[col])

    with open_netcdf(path) as ds:
        x_axis, y_axis = axis_coordinate(ds, "x"), axis_coordinate(ds, "y")
        if x_axis is None or y_axis is None:
            raise InputError(f"{where}: no 1-D cell-centre coordinates found; expected variables "
                             "with standard_name projection_x_coordinate and "
                             "projection_y_coordinate (with a grid mapping variable) or "
                             "longitude and latitude")
        (x_name, x_geographic), (y_name, y_geographic) = x_axis, y_axis
        if x_geographic != y_geographic:
            raise InputError(f"{where}: {x_name} and {y_name} mix longitude/latitude with "
                             "projection coordinates; expected both of one kind")
        geographic = x_geographic
        crs = "EPSG:4326" if geographic else grid_mapping_crs(ds, x_name, y_name)
        axes = {}
        for name in (x_name, y_name):
            scale = metres_per_unit(ds[name], name, geographic)
            values = numbers(ds[name], name, scale)
            axes[name] = (regular_centres(values, name, precision(ds[name])), scale)
        grid, y_slice, x_slice = Grid.from_centres(crs, axes[x_name][0], axes[y_name][0], where)
        for name, step in ((x_name, grid.x_step), (y_name, grid.y_step)):
            check_bounds(ds, name, axes[name][0], step, axes[name][1])
        compare_cell_area(ds, grid, x_name, y_name, y_slice, x_slice)
    return grid
