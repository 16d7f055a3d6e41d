"""Maps of prior, posterior, increment and uncertainty reduction (cartopy, offline)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib import colors as mcolors
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..errors import InputError
from . import common


class _MapContext:
    """Projection, grid, extent and overlays shared by the four flux maps."""

    def __init__(self, ds: xr.Dataset, sites: pd.DataFrame | None, regions) -> None:
        import cartopy.crs as ccrs

        lat, lon = common.lonlat_2d(ds)
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
        df["site"] = common.as_str(df["site"].to_numpy())
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
        return [(str(name), common.to_geometry(geom)) for name, geom in regions.items()]

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
                        ha="center", va="center", zorder=5, path_effects=common.HALO,
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
                        zorder=7, path_effects=common.HALO, annotation_clip=True,
                    )
        if handles:
            ax.legend(handles=handles, loc="lower left", fontsize=7, framealpha=0.85)
        if self.sites_outside:
            ax.text(
                0.99, 0.01, "outside map: " + ", ".join(self.sites_outside),
                transform=ax.transAxes, ha="right", va="bottom", fontsize=7,
                path_effects=common.HALO, zorder=8,
            )


def _draw_map(ctx: _MapContext, field, title, cbar_label, out_dir, name, **mesh_kw):
    fig = common.new_figure(ctx.figsize)
    ax = ctx.axes(fig)
    extend = mesh_kw.pop("extend", "neither")
    mesh = ctx.mesh(ax, field, **mesh_kw)
    ctx.overlays(ax)
    ax.set_title(title, fontsize=10)
    cbar = fig.colorbar(mesh, ax=ax, shrink=0.85, pad=0.03, extend=extend)
    cbar.set_label(cbar_label)
    return common.save(fig, out_dir, name)


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
        Run output as read from ``posterior.nc``: ``net_flux_prior``, ``net_flux_posterior``
        (and optionally their ``_uncertainty`` variables) on
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
    common.require(posterior, common.FLUX_VARS, "posterior")
    out = common.ensure_dir(out_dir)
    ctx = _MapContext(posterior, sites, regions)
    units = common.pretty_units(posterior[common.FLUX_VARS[0]].attrs.get("units", "umol m-2 s-1"))
    period = common.period(posterior)
    when = f"\nmean {period}" if period else ""

    prior = common.field(posterior[common.FLUX_VARS[0]], ctx.dims)
    post = common.field(posterior[common.FLUX_VARS[1]], ctx.dims)
    paths: list[Path] = []

    vals = common.finite(prior, post)
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
    extend = common.extend(vals, norm.vmin, norm.vmax)
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
    ivals = common.finite(inc)
    lim = float(np.percentile(np.abs(ivals), 99.0)) if ivals.size else 0.0
    if not lim > 0.0:
        lim = float(np.abs(ivals).max()) if ivals.size and np.abs(ivals).max() > 0 else 1.0
    paths.append(
        _draw_map(
            ctx, inc, "Flux increment (posterior − prior)" + when,
            f"Δ CO₂ flux [{units}]", out, "map_increment.png",
            cmap="RdBu_r", vmin=-lim, vmax=lim, extend=common.extend(ivals, -lim, lim),
        )
    )

    if all(v in posterior.variables for v in common.SIGMA_VARS):
        s_prior = common.field(posterior[common.SIGMA_VARS[0]], ctx.dims)
        s_post = common.field(posterior[common.SIGMA_VARS[1]], ctx.dims)
        with np.errstate(divide="ignore", invalid="ignore"):
            ur = 1.0 - s_post / np.ma.masked_less_equal(s_prior, 0.0)
        ur = np.ma.masked_invalid(ur)
        uvals = common.finite(ur)
        umin = min(0.0, float(np.percentile(uvals, 1.0))) if uvals.size else 0.0
        paths.append(
            _draw_map(
                ctx, ur,
                "Uncertainty reduction 1 − σ̄_post / σ̄_prior\n"
                f"(σ averaged over time{', ' + period if period else ''})",
                "uncertainty reduction [–]", out, "map_uncertainty_reduction.png",
                cmap="viridis", vmin=umin, vmax=1.0, extend=common.extend(uvals, umin, 1.0),
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
