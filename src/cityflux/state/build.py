"""Build the state layout a config describes, and the hourly prior each block needs."""

from __future__ import annotations

import numpy as np

from ..config import GriddedBlockConfig, OffsetSites, PointResolution
from ..errors import ConfigError
from ..observation_model import HourlyPriors
from .blocks import GriddedBlock, OffsetBlock, PointSourceBlock
from .layout import StateLayout

#: Name of the gridded block made when the config lists none.
DEFAULT_BLOCK = "flux"


def gridded_block_configs(config, inventory) -> tuple:
    """The gridded blocks of the config; without any, one block ``flux`` holding every
    sector, or none at all when the prior has no gridded sector (stacks only)."""
    if config.state.gridded:
        return config.state.gridded
    return (GriddedBlockConfig(name=DEFAULT_BLOCK),) if inventory.sectors else ()


def block_sectors(config, inventory) -> dict[str, tuple[str, ...]]:
    """The inventory sectors of every gridded block; each sector is in at most one block.

    A block with an empty ``sectors`` list takes every sector that no other block names.
    """
    blocks = gridded_block_configs(config, inventory)
    known = inventory.sectors
    claimed: dict[str, str] = {}
    for i, block in enumerate(blocks):
        for sector in block.sectors:
            if sector not in known:
                raise ConfigError(f"{config.source_path}: 'state.gridded[{i}].sectors': sector "
                                  f"{sector!r} is not in the prior (its sectors: "
                                  f"{', '.join(known) or 'none'})")
            if sector in claimed:
                raise ConfigError(f"{config.source_path}: sector {sector!r} is in both blocks "
                                  f"{claimed[sector]!r} and {block.name!r}")
            claimed[sector] = block.name
    open_blocks = [b.name for b in blocks if not b.sectors]
    if len(open_blocks) > 1:
        raise ConfigError(f"{config.source_path}: blocks {open_blocks} both take 'every other "
                          "sector' (empty sectors); list the sectors of all but one")
    rest = tuple(s for s in known if s not in claimed)
    return {b.name: tuple(b.sectors) or rest for b in blocks}


def hourly_priors(config, inventory, layout_blocks_sectors, n_hours: int,
                  point_sources=True) -> HourlyPriors:
    """The prior of every block at every hour from ``hours_back`` before the period."""
    spinup = config.transport.hours_back
    start = np.datetime64(config.period.start, "ns")
    times = start + np.arange(-spinup, n_hours) * np.timedelta64(1, "h")
    grid = inventory.grid
    gridded = {name: inventory.gridded_hourly(sectors, times).reshape(times.size, grid.size)
               for name, sectors in layout_blocks_sectors.items()}
    in_blocks = {s for sectors in layout_blocks_sectors.values() for s in sectors}
    fixed_sectors = [s for s in inventory.sectors if s not in in_blocks]
    fixed = (inventory.gridded_hourly(fixed_sectors, times).reshape(times.size, grid.size)
             if fixed_sectors else None)
    points = inventory.point_hourly(times) if len(inventory.points) and point_sources else None
    return HourlyPriors(spinup, gridded, fixed, points)


def _mask(config, i: int, block: GriddedBlockConfig, hourly, spinup, regions, land_fraction):
    grid_size = hourly.shape[1]
    mask = np.ones(grid_size, bool)
    if block.mask.land_only and land_fraction is not None:
        mask &= land_fraction.ravel() > 0
    if block.mask.emitting_only:
        mask &= np.any(hourly[spinup:] != 0, axis=0)
    if block.mask.region is not None:
        if block.mask.region not in regions.names:
            raise ConfigError(f"{config.source_path}: 'state.gridded[{i}].mask.region' = "
                              f"{block.mask.region!r} is not a region (regions: "
                              f"{', '.join(regions.names)})")
        mask &= regions.fractions[regions.names.index(block.mask.region)].ravel() > 0
    if not mask.any():
        raise ConfigError(f"{config.source_path}: the mask of 'state.gridded[{i}]' "
                          f"({block.name}) leaves no cell")
    return np.flatnonzero(mask)


def build_layout(config, grid, inventory, priors: HourlyPriors, regions, land_fraction,
                 towers) -> StateLayout:
    """The state layout: gridded blocks (with masks), the point block, offset blocks."""
    period = config.period
    n_hours = int((period.end - period.start).total_seconds() // 3600)
    default_step = period.flux_time_step_hours
    blocks = []
    configs = gridded_block_configs(config, inventory)
    sectors = block_sectors(config, inventory)
    for i, block in enumerate(configs):
        step = block.flux_time_step_hours or default_step
        cells = _mask(config, i, block, priors.gridded[block.name], priors.spinup, regions,
                      land_fraction)
        blocks.append(GriddedBlock(name=block.name, kind=block.kind, sectors=sectors[block.name],
                                   grid=grid, cells=cells, n_steps=n_hours // step,
                                   step_hours=step, settings=block))
    if len(inventory.points):
        settings = config.state.point_sources
        step = (n_hours if settings.resolution == PointResolution.PERIOD
                else settings.flux_time_step_hours or default_step)
        blocks.append(PointSourceBlock(sources=inventory.points, settings=settings,
                                       n_steps=n_hours // step, step_hours=step))
    for block in config.state.offsets:
        groups = (tuple(towers) if block.sites == OffsetSites.EACH_SITE else ("all",))
        blocks.append(OffsetBlock(name=block.name, groups=groups, settings=block,
                                  n_steps=n_hours // block.time_step_hours,
                                  step_hours=block.time_step_hours))
    return StateLayout(grid, np.datetime64(period.start, "ns"), n_hours, default_step,
                       tuple(blocks))

