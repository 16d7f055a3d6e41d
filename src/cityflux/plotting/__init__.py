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

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import xarray as xr

from .maps import plot_flux_maps
from .timeseries import plot_timeseries
from .totals import plot_totals

__all__ = ["plot_flux_maps", "plot_timeseries", "plot_totals", "plot_all"]


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
