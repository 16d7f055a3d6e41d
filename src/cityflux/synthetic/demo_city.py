"""The demo city: a synthetic inland city built from sources, generated reproducibly.

A city of about 12 km radius in a 60 km × 60 km domain at 1 km, one week of hourly
meteorology, five towers and an upwind background site. The *truth*: four power plants
with buoyant stacks (one of them missing from the prior inventory, one just outside the
city), a ring road and highways with rush hours, district residential totals spread by
population, thirty small boilers, an industrial zone, a new industrial park (missing from
the prior), and an hourly VPRM-like biosphere. The *prior* differs the way inventories
do: plant emissions off by −33 % to +30 %, traffic 30 % low, residential totals 10 % low
and spread by a population proxy shifted by 2 km, the industrial zone 30 % high, the
biosphere's uptake 6 % low and respiration 5 % high.

Observations come from the truth through backward particles (1000 per receptor) in a wind
field perturbed by 1 m s⁻¹ eddies of 40 km (see :mod:`cityflux.synthetic.city`): a
transport that differs in structure from the steady plume of ``configs/demo-city.yaml``,
which gets only the one-column meteorology of a mast in the city centre.
``configs/demo-city-particles.yaml`` inverts them with particles on the field coarsened to
10 km (``meteorology_field.nc``).

Regenerate with ``python -m cityflux.synthetic.demo_city data-samples/demo-city``.
"""

from __future__ import annotations

from .city import Area, CitySpec, Patch, Plant, Site, command_line

DEMO_CITY = CitySpec(
    name="Demo City",
    plants=(
        Plant("plant_east", 8.0, -6.0, 2.5e6, 3.25e6, 150.0, 15.0, 410.0, 5.0),
        Plant("plant_north", -6.0, 9.0, 1.2e6, 0.8e6, 150.0, 12.0, 400.0, 4.0),
        Plant("plant_west", -10.0, -3.0, 3.0e6, None, 180.0, 18.0, 420.0, 5.0),
        Plant("plant_outside", 17.0, 11.0, 1.0e6, 1.3e6, 120.0, 12.0, 390.0, 3.5,
              uncertainty_percent=20.0),
    ),
    population=(Patch(0.0, 0.0, 5.0, 1.0), Patch(-8.0, -4.0, 3.0, 0.45), Patch(6.0, 7.0, 3.0, 0.4)),
    areas=(Area("industrial zone", 12.0, -10.0, 4.0, 2.0e6, 2.6e6),
           Area("new industrial park", -9.0, 3.0, 3.0, 0.6e6, None)),
    sites=(Site("CTR", "City centre", 1.0, 1.0, 60.0, "tower"),
           Site("NTH", "North suburb", 3.0, 10.0, 100.0, "tower"),
           Site("STH", "South suburb", -2.0, -11.0, 50.0, "tower"),
           Site("EST", "East", 15.0, -2.0, 80.0, "tower"),
           Site("DWN", "Downwind rural", 22.0, 6.0, 100.0, "tower"),
           Site("BKG", "Background (upwind)", -27.0, -5.0, 100.0, "background")),
    mast_km=(1.0, 1.0),
    truth_transport="particles",
    field_file_km=10.0,
)


def main(argv=None) -> None:
    command_line(DEMO_CITY, argv)


if __name__ == "__main__":
    main()
