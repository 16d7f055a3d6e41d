"""Figures of an inversion run, made from the run's output datasets.

Every public function takes the datasets as written by the run (``posterior.nc``,
``observations.nc``) plus the site table and region geometries, writes PNG files into
``out_dir`` (created if needed) and returns the list of written paths.

The module never touches pyplot's global state: figures are plain
:class:`matplotlib.figure.Figure` objects rendered with the Agg canvas, so it is safe to
call from scripts, batch jobs and notebooks alike. Maps use cartopy but never draw Natural
Earth features (coastlines, borders, ...), so no data are downloaded; everything works
offline.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib import colors as mcolors
from matplotlib import dates as mdates
from matplotlib import patheffects
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from cityflux.errors import InputError

__all__ = ["plot_flux_maps", "plot_timeseries", "plot_totals", "plot_all"]

DPI = 120

_FLUX_VARS = ("flux_prior", "flux_posterior")
_SIGMA_VARS = ("flux_prior_uncertainty", "flux_posterior_uncertainty")
_PRIOR_COLOR = "tab:blue"
_POSTERIOR_COLOR = "tab:red"
_HALO = [patheffects.withStroke(linewidth=2.5, foreground="white")]
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


# --------------------------------------------------------------------------- helpers


def _new_figure(figsize: tuple[float, float]) -> Figure:
    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, out_dir: Path, name: str) -> Path:
    path = out_dir / name
    fig.savefig(path, dpi=DPI, bbox_inches="tight", facecolor="white")
    return path


def _out_dir(out_dir: str | Path) -> Path:
    path = Path(out_dir)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _pretty_units(units: str | None) -> str:
    """``"umol m-2 s-1"`` -> ``"µmol m⁻² s⁻¹"``; unknown strings pass through."""
    if not units:
        return ""
    text = re.sub(r"\bumol\b", "µmol", str(units))
    return re.sub(
        r"(?<=[A-Za-z])(-?\d+)\b", lambda m: m.group(1).translate(_SUPERSCRIPT), text
    )


def _as_str(values: Any) -> list[str]:
    out = []
    for v in np.asarray(values).ravel():
        out.append(v.decode() if isinstance(v, bytes) else str(v))
    return out


def _require(ds: xr.Dataset, names: tuple[str, ...], what: str) -> None:
    missing = [n for n in names if n not in ds.variables]
    if missing:
        raise InputError(
            f"{what} dataset lacks variable(s) {', '.join(missing)}; "
            f"it has {', '.join(sorted(map(str, ds.data_vars)))}"
        )


def _fmt_time(value: Any) -> str:
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        return str(value)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.strftime("%Y-%m-%d %H:%M")


def _period(ds: xr.Dataset) -> str:
    """Human-readable period of a dataset, from its attributes or its time axis."""
    start = ds.attrs.get("time_coverage_start")
    end = ds.attrs.get("time_coverage_end")
    if (start is None or end is None) and "time" in ds.variables and ds["time"].size:
        times = pd.to_datetime(np.asarray(ds["time"].values).ravel())
        start = times.min() if start is None else start
        end = times.max() if end is None else end
    if start is None and end is None:
        return ""
    return f"{_fmt_time(start)} – {_fmt_time(end)} UTC"


def _lonlat_2d(ds: xr.Dataset) -> tuple[xr.DataArray, xr.DataArray]:
    """2-D ``lat``/``lon`` (same dims) for projected (y, x) or geographic grids."""
    if "lat" not in ds.variables or "lon" not in ds.variables:
        raise InputError("posterior dataset has no 'lat'/'lon' coordinates to map")
    lat, lon = ds["lat"], ds["lon"]
    if lat.ndim == 1 and lon.ndim == 1:
        lat, lon = xr.broadcast(lat, lon)
    if lat.ndim != 2 or lat.dims != lon.dims:
        raise InputError(
            f"posterior 'lat'{lat.dims} and 'lon'{lon.dims} are not a 1-D or 2-D grid"
        )
    return lat, lon


def _field(da: xr.DataArray, dims: tuple[str, ...]) -> np.ndarray:
    """Mean over time (if present), as a masked 2-D array ordered like ``dims``."""
    if "time" in da.dims:
        da = da.mean("time")
    da = da.transpose(*dims)
    return np.ma.masked_invalid(np.asarray(da.values, dtype=float))


def _finite(*arrays: np.ndarray) -> np.ndarray:
    vals = np.concatenate([np.ma.filled(np.ma.asarray(a, dtype=float), np.nan).ravel()
                           for a in arrays])
    return vals[np.isfinite(vals)]


def _extend(vals: np.ndarray, vmin: float, vmax: float) -> str:
    if vals.size == 0:
        return "neither"
    lo, hi = vals.min() < vmin, vals.max() > vmax
    return {(True, True): "both", (True, False): "min", (False, True): "max"}.get(
        (lo, hi), "neither"
    )


def _to_geometry(geom: Any):
    from shapely.geometry import shape
    from shapely.geometry.base import BaseGeometry

    if isinstance(geom, BaseGeometry):
        return geom
    if isinstance(geom, Mapping) or hasattr(geom, "__geo_interface__"):
        return shape(geom)
    raise TypeError(f"region geometry of type {type(geom).__name__} is not shapely")


# --------------------------------------------------------------------------- maps


class _MapContext:
    """Projection, grid, extent and overlays shared by the four flux maps."""

    def __init__(self, ds: xr.Dataset, sites: pd.DataFrame | None, regions) -> None:
        import cartopy.crs as ccrs

        lat, lon = _lonlat_2d(ds)
        self.dims = lat.dims
        self.lat = np.asarray(lat.values, dtype=float)
        self.lon = np.asarray(lon.values, dtype=float)
        lat0 = 0.5 * (np.nanmin(self.lat) + np.nanmax(self.lat))
        lon0 = 0.5 * (np.nanmin(self.lon) + np.nanmax(self.lon))
        self.geo = ccrs.PlateCarree()
        self.proj = ccrs.AzimuthalEquidistant(central_longitude=lon0, central_latitude=lat0)

        pts = self.proj.transform_points(self.geo, self.lon.ravel(), self.lat.ravel())
        x, y = pts[:, 0], pts[:, 1]
        ny, nx = self.lat.shape
        # pad by about half a grid cell so that edge cells are not cut off
        pad_x = 0.5 * (np.nanmax(x) - np.nanmin(x)) / max(nx - 1, 1)
        pad_y = 0.5 * (np.nanmax(y) - np.nanmin(y)) / max(ny - 1, 1)
        x0, x1 = np.nanmin(x) - pad_x, np.nanmax(x) + pad_x
        y0, y1 = np.nanmin(y) - pad_y, np.nanmax(y) + pad_y

        self.sites = self._prepare_sites(sites)
        if self.sites is not None and len(self.sites):
            # widen the map for sites just outside the grid (a nearby background site),
            # but not for far-away ones, which would shrink the city to a dot
            span = max(x1 - x0, y1 - y0)
            sx, sy = self.sites["_x"].to_numpy(), self.sites["_y"].to_numpy()
            near = (
                (sx > x0 - 0.3 * span) & (sx < x1 + 0.3 * span)
                & (sy > y0 - 0.3 * span) & (sy < y1 + 0.3 * span)
            )
            if near.any():
                margin = 0.04 * span
                x0 = min(x0, sx[near].min() - margin)
                x1 = max(x1, sx[near].max() + margin)
                y0 = min(y0, sy[near].min() - margin)
                y1 = max(y1, sy[near].max() + margin)
            self.sites_outside = self.sites.loc[~near, "site"].tolist()
        else:
            self.sites_outside = []
        self.extent = (x0, x1, y0, y1)
        self.regions = self._prepare_regions(regions)

        aspect = (y1 - y0) / (x1 - x0) if x1 > x0 else 1.0
        aspect = min(max(aspect, 0.5), 1.6)
        self.figsize = (7.6, 1.0 + 6.2 * aspect)

    def _prepare_sites(self, sites: pd.DataFrame | None) -> pd.DataFrame | None:
        if sites is None or len(sites) == 0:
            return None
        missing = {"lat", "lon"} - set(sites.columns)
        if missing:
            raise InputError(f"site table lacks column(s) {', '.join(sorted(missing))}")
        df = sites.copy()
        if "site" not in df.columns:
            df["site"] = df.index.astype(str)
        df["site"] = _as_str(df["site"].to_numpy())
        role = df["role"] if "role" in df.columns else pd.Series("tower", index=df.index)
        df["_background"] = role.astype(str).str.lower().str.strip().eq("background")
        df = df[np.isfinite(df["lat"].astype(float)) & np.isfinite(df["lon"].astype(float))]
        pts = self.proj.transform_points(
            self.geo, df["lon"].to_numpy(dtype=float), df["lat"].to_numpy(dtype=float)
        )
        df["_x"], df["_y"] = pts[:, 0], pts[:, 1]
        return df

    def _prepare_regions(self, regions) -> list[tuple[str, Any]]:
        if not regions:
            return []
        return [(str(name), _to_geometry(geom)) for name, geom in regions.items()]

    # -- drawing

    def axes(self, fig: Figure):
        ax = fig.add_subplot(1, 1, 1, projection=self.proj)
        ax.set_extent(self.extent, crs=self.proj)
        gl = ax.gridlines(
            draw_labels=True, linewidth=0.4, color="0.4", alpha=0.6, linestyle="--"
        )
        gl.top_labels = False
        gl.right_labels = False
        gl.rotate_labels = False
        gl.xlabel_style = {"size": 8}
        gl.ylabel_style = {"size": 8}
        return ax

    def mesh(self, ax, field: np.ndarray, **kwargs):
        return ax.pcolormesh(
            self.lon, self.lat, field, transform=self.geo, shading="nearest",
            rasterized=True, **kwargs
        )

    def overlays(self, ax) -> None:
        handles: list[Any] = []
        if self.regions:
            geoms = [g for _, g in self.regions]
            ax.add_geometries(
                geoms, crs=self.geo, facecolor="none", edgecolor="0.1",
                linewidth=1.1, zorder=4,
            )
            handles.append(Line2D([], [], color="0.1", linewidth=1.1, label="regions"))
            if len(self.regions) <= 12:
                x0, x1, y0, y1 = self.extent
                for name, geom in self.regions:
                    if name.lower() == "domain":
                        continue
                    p = geom.representative_point()
                    px, py = self.proj.transform_point(p.x, p.y, self.geo)
                    if not (x0 <= px <= x1 and y0 <= py <= y1):
                        continue
                    ax.text(
                        px, py, name, fontsize=7, style="italic", color="0.15",
                        ha="center", va="center", zorder=5, path_effects=_HALO,
                        clip_on=True,
                    )
        if self.sites is not None and len(self.sites):
            styles = {
                False: dict(marker="^", markersize=9, markerfacecolor="white",
                            markeredgecolor="black", label="tower"),
                True: dict(marker="D", markersize=7, markerfacecolor="black",
                           markeredgecolor="white", label="background site"),
            }
            for bg in (False, True):
                sel = self.sites[self.sites["_background"] == bg]
                if sel.empty:
                    continue
                (line,) = ax.plot(
                    sel["_x"], sel["_y"], linestyle="none", zorder=6,
                    markeredgewidth=1.1, **styles[bg]
                )
                handles.append(line)
                for _, row in sel.iterrows():
                    ax.annotate(
                        row["site"], (row["_x"], row["_y"]), xytext=(5, 5),
                        textcoords="offset points", fontsize=8, fontweight="bold",
                        zorder=7, path_effects=_HALO, annotation_clip=True,
                    )
        if handles:
            ax.legend(handles=handles, loc="lower left", fontsize=7, framealpha=0.85)
        if self.sites_outside:
            ax.text(
                0.99, 0.01, "outside map: " + ", ".join(self.sites_outside),
                transform=ax.transAxes, ha="right", va="bottom", fontsize=7,
                path_effects=_HALO, zorder=8,
            )


def _draw_map(ctx: _MapContext, field, title, cbar_label, out_dir, name, **mesh_kw):
    fig = _new_figure(ctx.figsize)
    ax = ctx.axes(fig)
    extend = mesh_kw.pop("extend", "neither")
    mesh = ctx.mesh(ax, field, **mesh_kw)
    ctx.overlays(ax)
    ax.set_title(title, fontsize=10)
    cbar = fig.colorbar(mesh, ax=ax, shrink=0.85, pad=0.03, extend=extend)
    cbar.set_label(cbar_label)
    return _save(fig, out_dir, name)


def plot_flux_maps(
    posterior: xr.Dataset,
    sites: pd.DataFrame | None,
    regions: Mapping[str, Any] | None,
    out_dir: str | Path,
) -> list[Path]:
    """Map the period-mean prior, posterior and increment fluxes and the uncertainty reduction.

    Parameters
    ----------
    posterior : xarray.Dataset
        Run output as read from ``posterior.nc``: ``flux_prior``, ``flux_posterior``
        (and optionally ``flux_prior_uncertainty``, ``flux_posterior_uncertainty``) on
        ``(time, y, x)`` with 2-D ``lat(y, x)``/``lon(y, x)`` coordinates, or on a
        geographic ``(time, lat, lon)`` grid with 1-D ``lat``/``lon``.
    sites : pandas.DataFrame or None
        Site table with columns ``site``, ``lat``, ``lon`` and ``role`` (``"tower"`` or
        ``"background"``). Towers are drawn as triangles, background sites as diamonds.
        Sites just outside the grid widen the map; far-away ones are listed instead.
    regions : mapping of str to shapely geometry, or None
        Region outlines in lon/lat degrees (Polygon or MultiPolygon), drawn as lines.
    out_dir : str or pathlib.Path
        Output directory, created if needed.

    Returns
    -------
    list of pathlib.Path
        ``map_prior.png``, ``map_posterior.png``, ``map_increment.png`` and, when the
        uncertainty variables are present, ``map_uncertainty_reduction.png``.

    Notes
    -----
    Fields are averaged over ``time``. Prior and posterior share one colour scale (1st to
    99th percentile of both, so that a few hot cells do not wash out the city); the
    increment (posterior − prior) uses a symmetric diverging scale. The uncertainty
    reduction is ``1 − mean_t(σ_post) / mean_t(σ_prior)``, i.e. computed from the
    time-averaged standard deviations, not from the uncertainty of the period mean.
    The map uses an azimuthal equidistant projection centred on the domain; no Natural
    Earth data are drawn, so nothing is downloaded.
    """
    _require(posterior, _FLUX_VARS, "posterior")
    out = _out_dir(out_dir)
    ctx = _MapContext(posterior, sites, regions)
    units = _pretty_units(posterior["flux_prior"].attrs.get("units", "umol m-2 s-1"))
    period = _period(posterior)
    when = f"\nmean {period}" if period else ""

    prior = _field(posterior["flux_prior"], ctx.dims)
    post = _field(posterior["flux_posterior"], ctx.dims)
    paths: list[Path] = []

    vals = _finite(prior, post)
    if vals.size:
        vmin, vmax = np.percentile(vals, [1.0, 99.0])
        if vmax <= vmin:
            vmin, vmax = vals.min(), vals.max()
        if vmax <= vmin:
            vmin, vmax = vmin - 1.0, vmax + 1.0
    else:
        vmin, vmax = 0.0, 1.0
    if vmin < 0.0 < vmax:
        norm = mcolors.TwoSlopeNorm(vcenter=0.0, vmin=vmin, vmax=vmax)
        cmap = "RdBu_r"
    else:
        if vmin > 0.0 and vals.size and vals.min() >= 0.0:
            vmin = 0.0  # a non-negative field reads best from zero
        norm = mcolors.Normalize(vmin=vmin, vmax=vmax)
        cmap = "YlOrRd"
    extend = _extend(vals, norm.vmin, norm.vmax)
    label = f"CO₂ flux [{units}]"
    for name, field, title in (
        ("map_prior.png", prior, "Prior CO₂ flux"),
        ("map_posterior.png", post, "Posterior CO₂ flux"),
    ):
        paths.append(
            _draw_map(ctx, field, title + when, label, out, name,
                      cmap=cmap, norm=norm, extend=extend)
        )

    inc = post - prior
    ivals = _finite(inc)
    lim = float(np.percentile(np.abs(ivals), 99.0)) if ivals.size else 0.0
    if not lim > 0.0:
        lim = float(np.abs(ivals).max()) if ivals.size and np.abs(ivals).max() > 0 else 1.0
    paths.append(
        _draw_map(
            ctx, inc, "Flux increment (posterior − prior)" + when,
            f"Δ CO₂ flux [{units}]", out, "map_increment.png",
            cmap="RdBu_r", vmin=-lim, vmax=lim, extend=_extend(ivals, -lim, lim),
        )
    )

    if all(v in posterior.variables for v in _SIGMA_VARS):
        s_prior = _field(posterior[_SIGMA_VARS[0]], ctx.dims)
        s_post = _field(posterior[_SIGMA_VARS[1]], ctx.dims)
        with np.errstate(divide="ignore", invalid="ignore"):
            ur = 1.0 - s_post / np.ma.masked_less_equal(s_prior, 0.0)
        ur = np.ma.masked_invalid(ur)
        uvals = _finite(ur)
        umin = min(0.0, float(np.percentile(uvals, 1.0))) if uvals.size else 0.0
        paths.append(
            _draw_map(
                ctx, ur,
                "Uncertainty reduction 1 − σ̄_post / σ̄_prior\n"
                f"(σ averaged over time{', ' + period if period else ''})",
                "uncertainty reduction [–]", out, "map_uncertainty_reduction.png",
                cmap="viridis", vmin=umin, vmax=1.0, extend=_extend(uvals, umin, 1.0),
            )
        )
    else:
        warnings.warn(
            "posterior has no flux uncertainty variables; "
            "skipping map_uncertainty_reduction.png",
            stacklevel=2,
        )
    return paths


# --------------------------------------------------------------------------- time series


def _broken(t: np.ndarray, *ys: np.ndarray) -> tuple[np.ndarray, ...]:
    """Insert NaN rows where the time gap is much larger than usual, to break lines."""
    if t.size < 3:
        return (t, *ys)
    dt = np.diff(t).astype("timedelta64[s]").astype(float)
    positive = dt[dt > 0]
    if positive.size == 0:
        return (t, *ys)
    gap = np.flatnonzero(dt > 3.0 * np.median(positive))
    if gap.size == 0:
        return (t, *ys)
    t_out = np.insert(t, gap + 1, t[gap] + (t[gap + 1] - t[gap]) / 2)
    return (t_out, *(np.insert(y.astype(float), gap + 1, np.nan) for y in ys))


def _rmse(a: np.ndarray, b: np.ndarray) -> float:
    d = a - b
    d = d[np.isfinite(d)]
    return float(np.sqrt(np.mean(d**2))) if d.size else math.nan


def plot_timeseries(observations: xr.Dataset, out_dir: str | Path) -> list[Path]:
    """Plot observed and modelled mole fractions, one panel per site.

    Parameters
    ----------
    observations : xarray.Dataset
        Run output as read from ``observations.nc``: dimension ``obs`` with ``site``,
        ``time``, ``observed``, ``background``, ``modelled_prior``, ``modelled_posterior``
        (ppm, including background), and optionally ``obs_error_std`` (ppm) and
        ``used_in_inversion`` (0/1; all observations count as used when absent).
    out_dir : str or pathlib.Path
        Output directory, created if needed.

    Returns
    -------
    list of pathlib.Path
        ``[out_dir / "timeseries.png"]``.

    Notes
    -----
    Observations used in the inversion are black dots with their 1σ error bar; those not
    used are faded. Prior and posterior model values are lines, the background a thin
    grey line; lines break across gaps much longer than the usual sampling interval.
    Each panel gives the prior and posterior RMSE over the used observations.
    """
    _require(observations, ("site", "time", "observed"), "observations")
    out = _out_dir(out_dir)
    n = observations.sizes.get("obs", observations["observed"].size)
    site = np.array(_as_str(observations["site"].values))
    time = np.asarray(observations["time"].values).ravel().astype("datetime64[ns]")

    def var(name: str, default: float | None = None) -> np.ndarray | None:
        if name in observations.variables:
            return np.asarray(observations[name].values, dtype=float).ravel()
        return None if default is None else np.full(n, default)

    observed = var("observed")
    background = var("background")
    prior = var("modelled_prior")
    post = var("modelled_posterior")
    err = var("obs_error_std")
    used = var("used_in_inversion", 1.0).astype(bool)
    site_ids = list(dict.fromkeys(site.tolist()))  # order of first appearance

    nrow = max(len(site_ids), 1)
    fig = _new_figure((10.0, 1.0 + 2.3 * nrow))
    axes = fig.subplots(nrow, 1, sharex=True, squeeze=False)[:, 0]
    fig.set_layout_engine("constrained")
    period = _period(observations)
    fig.suptitle("CO₂ mole fractions" + (f", {period}" if period else ""), fontsize=11)

    if not site_ids:
        axes[0].text(0.5, 0.5, "no observations", ha="center", va="center",
                     transform=axes[0].transAxes)
    for ax, sid in zip(axes, site_ids):
        idx = np.flatnonzero(site == sid)
        idx = idx[np.argsort(time[idx], kind="stable")]
        t = time[idx]
        u = used[idx]
        if background is not None:
            tb, yb = _broken(t, background[idx])
            ax.plot(tb, yb, color="0.55", linewidth=0.8, label="background", zorder=1)
        if (~u).any():
            ax.plot(t[~u], observed[idx][~u], "o", color="0.55", alpha=0.35,
                    markersize=3.5, markeredgewidth=0, label="observed (not used)",
                    zorder=2)
        if u.any() and err is not None:
            ax.errorbar(t[u], observed[idx][u], yerr=err[idx][u], fmt="o", color="black",
                        markersize=3.5, elinewidth=0.6, capsize=0, alpha=0.9,
                        label="observed (used, 1σ)", zorder=3)
        elif u.any():
            ax.plot(t[u], observed[idx][u], "o", color="black", markersize=3.5,
                    label="observed (used)", zorder=3)
        stats = [f"n used = {int(u.sum())}/{idx.size}"]
        for name, values, color, style in (
            ("prior", prior, _PRIOR_COLOR, "--"),
            ("posterior", post, _POSTERIOR_COLOR, "-"),
        ):
            if values is None:
                continue
            tt, yy = _broken(t, values[idx])
            ax.plot(tt, yy, style, color=color, linewidth=1.3, label=name, zorder=4)
            r = _rmse(values[idx][u], observed[idx][u])
            if math.isfinite(r):
                stats.append(f"RMSE {name} {r:.2f} ppm")
        ax.set_title(sid, loc="left", fontsize=10, fontweight="bold")
        ax.set_title(",  ".join(stats), loc="right", fontsize=8)
        ax.set_ylabel("CO₂ [ppm]")
        ax.grid(True, linewidth=0.4, alpha=0.5)

    handles, labels = axes[0].get_legend_handles_labels()
    for ax in axes[1:]:  # a label missing in the first panel still gets an entry
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    order = ["observed (used, 1σ)", "observed (used)", "observed (not used)", "prior",
             "posterior", "background"]
    ranked = sorted(zip(handles, labels),
                    key=lambda hl: order.index(hl[1]) if hl[1] in order else len(order))
    handles, labels = [h for h, _ in ranked], [lab for _, lab in ranked]
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 6),
                   fontsize=8, frameon=False)
    locator = mdates.AutoDateLocator()
    axes[-1].xaxis.set_major_locator(locator)
    axes[-1].xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    axes[-1].set_xlabel("time (UTC)")
    return [_save(fig, out, "timeseries.png")]


# --------------------------------------------------------------------------- totals


def _scaled_unit(units: str, peak: float) -> tuple[float, str]:
    """Scale tonnes to kt/Mt for legibility; other units are left alone."""
    u = units.strip()
    if u in ("t", "tonne", "tonnes", "t CO2"):
        rest = u[1:] if u.startswith("t ") else ""
        for factor, name in ((1e6, "Mt"), (1e3, "kt")):
            if peak >= 10.0 * factor:
                return factor, name + rest
    return 1.0, u


def plot_totals(
    posterior: xr.Dataset,
    out_dir: str | Path,
    truth: Mapping[str, float] | None = None,
) -> list[Path]:
    """Bar chart of the prior and posterior period totals per region.

    Parameters
    ----------
    posterior : xarray.Dataset
        Run output with ``period_total_prior``, ``period_total_posterior`` and optionally
        ``period_total_prior_uncertainty``, ``period_total_posterior_uncertainty``, all on
        dimension ``region`` and with a ``units`` attribute (e.g. ``"t"``).
    out_dir : str or pathlib.Path
        Output directory, created if needed.
    truth : mapping of str to float, optional
        Known true totals per region (same units as the dataset, before any scaling),
        drawn as markers. Regions not in the dataset are ignored.

    Returns
    -------
    list of pathlib.Path
        ``[out_dir / "totals.png"]``.

    Notes
    -----
    Error bars are 1σ. Totals in tonnes are shown in kt or Mt when large. The relative
    change posterior/prior − 1 is printed above each region.
    """
    names = ("period_total_prior", "period_total_posterior")
    _require(posterior, names, "posterior")
    out = _out_dir(out_dir)
    prior = posterior["period_total_prior"]
    regions = _as_str(prior["region"].values) if "region" in prior.coords else [
        str(i) for i in range(prior.size)
    ]

    def values(name: str) -> np.ndarray | None:
        if name not in posterior.variables:
            return None
        return np.asarray(posterior[name].values, dtype=float).ravel()

    p, q = values(names[0]), values(names[1])
    sp = values("period_total_prior_uncertainty")
    sq = values("period_total_posterior_uncertainty")
    tv = None
    if truth:
        tv = np.array([float(truth.get(r, np.nan)) for r in regions])
        if not np.isfinite(tv).any():
            tv = None

    parts = [p, q] + [a for a in (sp, sq) if a is not None]
    peak = np.nanmax(np.abs(np.concatenate(parts))) if p.size else 0.0
    factor, unit = _scaled_unit(str(prior.attrs.get("units", "")), float(peak or 0.0))
    unit = _pretty_units(unit)

    nreg = max(len(regions), 1)
    fig = _new_figure((max(5.5, 1.3 * nreg + 2.5), 4.6))
    fig.set_layout_engine("constrained")
    ax = fig.add_subplot(1, 1, 1)
    x = np.arange(len(regions))
    w = 0.38
    err_kw = dict(ecolor="0.15", capsize=3, elinewidth=1.0)
    ax.bar(x - w / 2, p / factor, w, yerr=None if sp is None else sp / factor,
           color=_PRIOR_COLOR, alpha=0.8, label="prior ± 1σ", error_kw=err_kw)
    ax.bar(x + w / 2, q / factor, w, yerr=None if sq is None else sq / factor,
           color=_POSTERIOR_COLOR, alpha=0.8, label="posterior ± 1σ", error_kw=err_kw)
    if tv is not None:
        ax.plot(x, tv / factor, linestyle="none", marker="D", markersize=7,
                markerfacecolor="gold", markeredgecolor="black", label="truth", zorder=5)
    ax.axhline(0.0, color="black", linewidth=0.6)

    # relative change above each group
    tops = np.nanmax(np.vstack([
        p + (0 if sp is None else sp), q + (0 if sq is None else sq),
        p, q, np.zeros_like(p) if tv is None else np.nan_to_num(tv, nan=0.0),
    ]), axis=0) / factor
    ymax = float(np.nanmax(tops)) if tops.size else 1.0
    for xi, a, b, top in zip(x, p, q, tops):
        if np.isfinite(a) and np.isfinite(b) and a != 0.0:
            ax.annotate(f"{100.0 * (b / a - 1.0):+.1f} %", (xi, max(top, 0.0)),
                        xytext=(0, 4), textcoords="offset points", ha="center",
                        va="bottom", fontsize=8, color="0.2")
    if ymax > 0:
        ax.set_ylim(top=ymax * 1.12)
    ax.set_xticks(x, regions, rotation=30 if nreg > 5 else 0,
                  ha="right" if nreg > 5 else "center")
    ax.set_ylabel(f"period total [{unit}]" if unit else "period total")
    ax.grid(True, axis="y", linewidth=0.4, alpha=0.5)
    ax.set_axisbelow(True)
    period = _period(posterior)
    ax.set_title("CO₂ totals per region" + (f"\n{period}" if period else ""), fontsize=10)
    ax.legend(fontsize=8, loc="upper right", framealpha=0.9)
    return [_save(fig, out, "totals.png")]


# --------------------------------------------------------------------------- all


def plot_all(
    posterior: xr.Dataset,
    observations: xr.Dataset,
    sites: pd.DataFrame | None,
    regions: Mapping[str, Any] | None,
    out_dir: str | Path,
    truth: Mapping[str, float] | None = None,
) -> list[Path]:
    """Make all figures of a run.

    Parameters
    ----------
    posterior : xarray.Dataset
        Contents of ``posterior.nc`` (see :func:`plot_flux_maps`, :func:`plot_totals`).
    observations : xarray.Dataset
        Contents of ``observations.nc`` (see :func:`plot_timeseries`).
    sites : pandas.DataFrame or None
        Site table (``site``, ``lat``, ``lon``, ``role``, ...).
    regions : mapping of str to shapely geometry, or None
        Region outlines in lon/lat degrees.
    out_dir : str or pathlib.Path
        Output directory, created if needed.
    truth : mapping of str to float, optional
        Known true period totals per region, for synthetic (OSSE) runs.

    Returns
    -------
    list of pathlib.Path
        All written files: the flux maps, ``timeseries.png`` and ``totals.png``.
    """
    paths = plot_flux_maps(posterior, sites, regions, out_dir)
    paths += plot_timeseries(observations, out_dir)
    paths += plot_totals(posterior, out_dir, truth=truth)
    return paths
