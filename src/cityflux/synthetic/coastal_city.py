"""A second synthetic city, built to be hard: a coastal city under a sea breeze.

The features that made the foundation fail on an unseen city, on purpose:

- a sea breeze: onshore by day, a weak land breeze at night, decaying inland, turning with
  the Coriolis force, over a shallow marine layer; the inversion gets one met mast in the
  city, which the breeze at the towers near the coast and inland does not match;
- three power plants with buoyant 150–240 m stacks that stand above the night boundary
  layer: the 7 Mt yr⁻¹ harbour plant, a 3 Mt yr⁻¹ refinery missing from the inventory, and
  a 4 Mt yr⁻¹ plant just outside the city;
- a forest sink next to a tower;
- an island background site that is upwind only by day (the land breeze carries the city
  to it at night), and a second, alternative background site inland;
- the sea, where nothing is emitted and the biosphere is absent;
- regions given the way cities have them: a city-boundary file and a districts file.

Generate it with ``python -m cityflux.synthetic.coastal_city OUT_DIR``; the tests generate
it in a temporary folder and invert it with ``configs/coastal-city.yaml``.
"""

from __future__ import annotations

from .city import Area, CitySpec, Patch, Plant, Site, command_line

COASTAL_CITY = CitySpec(
    name="Coastal City",
    half_width_km=25.0,
    days=5,
    start="2025-07-14T17:00",          # local midnight at UTC+7
    utc_offset_hours=7.0,
    lon0=106.7,
    lat0=20.8,
    seed=20250714,
    city_radius_km=9.0,
    city_centre_km=(-2.0, 0.0),
    plants=(
        Plant("harbour", 7.0, -4.0, 7.0e6, 6.2e6, 240.0, 22.0, 420.0, 7.0, uncertainty_percent=10.0),
        Plant("refinery", -6.0, 5.0, 3.0e6, None, 150.0, 15.0, 400.0, 4.0, sector="industry"),
        Plant("outer_plant", -14.0, -9.0, 4.0e6, 4.6e6, 210.0, 20.0, 410.0, 6.0,
              uncertainty_percent=15.0),
    ),
    small_sources=20,
    population=(Patch(-2.0, 0.0, 4.0, 1.0), Patch(3.0, -5.0, 2.5, 0.5), Patch(-7.0, 4.0, 2.5, 0.4)),
    residential_t_yr=(4.0e6, 3.4e6),
    proxy_shift_km=(-1.5, 1.0),
    roads_t_yr=(3.0e6, 2.4e6),
    areas=(Area("port industry", 5.0, -9.0, 3.0, 1.5e6, 1.9e6),),
    forests=(Patch(-14.0, 8.0, 2.5, 2.5),),
    gpp_max=(20.0, 17.0),
    respiration=(4.5, 4.0),
    coast=(10.0, 0.0, 90.0),            # sea to the east of x = 10 km
    islands=((20.0, 2.0, 1.5),),
    sites=(Site("CEN", "City centre", -2.0, 0.5, 80.0, "tower"),
           Site("PRT", "Port", 6.0, -2.0, 60.0, "tower"),
           Site("NTH", "North", -1.0, 7.0, 60.0, "tower"),
           Site("STH", "South", -3.0, -7.0, 60.0, "tower"),
           Site("FOR", "Forest edge", -12.0, 6.0, 50.0, "tower"),
           Site("ISL", "Island (background by day)", 20.0, 2.0, 30.0, "background"),
           Site("HIL", "Inland hill (alternative background)", -22.0, 3.0, 50.0, "background")),
    mast_km=(-2.0, 0.0),
    prevailing_from_deg=250.0,
    mean_speed_m_s=3.0,
    sea_breeze_m_s=5.0,
    districts_as_separate_file=True,
)


def main(argv=None) -> None:
    command_line(COASTAL_CITY, argv)


if __name__ == "__main__":
    main()
