"""Region totals, prior and posterior with 1σ error bars."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import xarray as xr

from . import common


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
    common.require(posterior, names, "posterior")
    if "sector_group" in posterior.dims:  # the net totals (every block, biosphere included)
        posterior = posterior.sel(sector_group="net")
    out = common.ensure_dir(out_dir)
    prior = posterior["period_total_prior"]
    labels = next((prior[name] for name in ("region_name", "region") if name in prior.coords),
                  None)
    regions = common.as_str(labels.values) if labels is not None else [
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
    unit = common.pretty_units(unit)

    nreg = max(len(regions), 1)
    fig = common.new_figure((max(5.5, 1.3 * nreg + 2.5), 4.6))
    fig.set_layout_engine("constrained")
    ax = fig.add_subplot(1, 1, 1)
    x = np.arange(len(regions))
    w = 0.38
    err_kw = dict(ecolor="0.15", capsize=3, elinewidth=1.0)
    ax.bar(x - w / 2, p / factor, w, yerr=None if sp is None else sp / factor,
           color=common.PRIOR_COLOR, alpha=0.8, label="prior ± 1σ", error_kw=err_kw)
    ax.bar(x + w / 2, q / factor, w, yerr=None if sq is None else sq / factor,
           color=common.POSTERIOR_COLOR, alpha=0.8, label="posterior ± 1σ", error_kw=err_kw)
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
    period = common.period(posterior)
    ax.set_title("Net CO₂ flux per region" + (f"\n{period}" if period else ""), fontsize=10)
    ax.legend(fontsize=8, loc="upper right", framealpha=0.9)
    return [common.save(fig, out, "totals.png")]


# --------------------------------------------------------------------------- all
