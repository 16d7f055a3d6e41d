"""Observed and modelled mole fractions per site."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import xarray as xr
from matplotlib import dates as mdates

from . import common


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
    common.require(observations, ("site", "time", "observed"), "observations")
    out = common.ensure_dir(out_dir)
    n = observations.sizes.get("obs", observations["observed"].size)
    site = np.array(common.as_str(observations["site"].values))
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
    fig = common.new_figure((10.0, 1.0 + 2.3 * nrow))
    axes = fig.subplots(nrow, 1, sharex=True, squeeze=False)[:, 0]
    fig.set_layout_engine("constrained")
    period = common.period(observations)
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
            ("prior", prior, common.PRIOR_COLOR, "--"),
            ("posterior", post, common.POSTERIOR_COLOR, "-"),
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
    return [common.save(fig, out, "timeseries.png")]


# --------------------------------------------------------------------------- totals
