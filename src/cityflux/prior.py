"""``cityflux prior``: build a config's inventory and write it as prior.nc."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import io
from .errors import ConfigError
from .inventory.priorfile import prior_dataset


def write_prior(config, out) -> tuple[Path, str]:
    """Write the hourly prior of ``config`` (its inventory section) to ``out``.

    Returns the path and a one-line summary.
    """
    from .pipeline import read_domain, read_inventory

    if config.inventory is None:
        raise ConfigError(f"{config.source_path}: 'cityflux prior' needs an 'inventory' "
                          "section (sources to build the prior from)")
    out = Path(out)
    if out.is_dir():
        raise ConfigError(f"--out {out} is a folder; give the path of the NetCDF file to write "
                          "(e.g. prior.nc)")
    grid, _, land = read_domain(config)
    inventory = read_inventory(config.inventory, None, config, grid, land)
    period = config.period
    hours = int((period.end - period.start).total_seconds() // 3600) + config.transport.hours_back
    start = np.datetime64(period.start, "ns") - np.timedelta64(config.transport.hours_back, "h")
    times = start + np.arange(hours) * np.timedelta64(1, "h")
    attrs = io.global_attributes(f"cityflux prior CO2 fluxes: {config.name}", config.source_text,
                                 {"time_coverage_start": str(times[0])[:19],
                                  "time_coverage_end": str(times[-1] + np.timedelta64(1, "h"))[:19]})
    path = io.write_netcdf(prior_dataset(inventory, times, attrs), Path(out))
    summary = (f"{len(inventory.sectors)} gridded sector(s) ({', '.join(inventory.sectors)}), "
               f"{len(inventory.points)} stack source(s), {hours} hours from {str(times[0])[:16]}")
    return path, summary
