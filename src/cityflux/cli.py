"""The ``cityflux`` command line."""

from __future__ import annotations

import argparse
import logging
import sys

from . import __version__
from .errors import CityfluxError

log = logging.getLogger("cityflux")

DESCRIPTION = """\
cityflux: atmospheric CO2 inversion for cities.

A run is described by one YAML file (see docs/configuration.md). Typical use:

  cityflux validate configs/demo-city.yaml      check a config and its input files
  cityflux prior configs/demo-city.yaml         build the prior from its sources (prior.nc)
  cityflux run configs/demo-city.yaml           run the inversion, write outputs
  cityflux run CONFIG --set solver.method=analytical --set output.dir=out/test
"""


def _add_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="run configuration (YAML)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE",
                        help="override a config key, e.g. --set prior_error.relative=0.8 "
                             "(value parsed as YAML; repeat for several keys)")


def _add_global_options(parser: argparse.ArgumentParser, default) -> None:
    parser.add_argument("--debug", action="store_true", default=default,
                        help="show full tracebacks and debug logging")
    parser.add_argument("-v", "--verbose", action="store_true", default=default,
                        help="log progress of each stage")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cityflux", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"cityflux {__version__}")
    _add_global_options(parser, default=False)
    # The same options after the command name (cityflux run CONFIG --debug); SUPPRESS keeps
    # a subcommand from resetting what was given before it.
    common = argparse.ArgumentParser(add_help=False)
    _add_global_options(common, default=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run", parents=[common], help="run an inversion and write its outputs",
        description="Run the inversion a config describes: footprints, prior, solver, then "
                    "posterior.nc, observations.nc, footprints.nc, diagnostics.json and "
                    "plots/ in output.dir. The output directory is replaced only when the "
                    "run succeeds.")
    _add_config_arguments(run)
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    run.add_argument("--scheduler", metavar="WHERE",
                     help="where footprints are computed (overrides transport.scheduler): "
                          "'threads[:N]', 'synchronous', 'local:N' (a dask LocalCluster of N "
                          "worker processes) or a dask scheduler address 'tcp://host:port'")

    prior = commands.add_parser(
        "prior", parents=[common], help="build the prior from the inventory sources and write "
                                        "prior.nc",
        description="Build the prior a config's 'inventory' section describes (point sources, "
                    "roads, areas, gridded inventories, sector profiles) on the domain grid and "
                    "write it hourly, for the period and the transport's hours back before it, "
                    "as CF-NetCDF: gridded flux per sector and every stack source's emission. "
                    "A run can then use it with inputs.prior_flux.")
    _add_config_arguments(prior)
    prior.add_argument("--out", default="prior.nc", metavar="PATH",
                       help="file to write (default: prior.nc in the current folder)")

    validate = commands.add_parser(
        "validate", parents=[common], help="check a config and its input files without running",
        description="Parse the config, check every key, open and check every input file "
                    "and the observation selection. Exits 0 when the run would start.")
    _add_config_arguments(validate)

    footprint = commands.add_parser(
        "footprint", parents=[common], help="particle footprints of receptors, written as "
                                            "R-STILT files (no inversion config needed)",
        description="Release backward particles from each receptor through the meteorology "
                    "and write its footprint foot(time, lat, lon) in ppm (umol-1 m2 s) under "
                    "R-STILT's file name <YYYYmmddHHMM>_<lon>_<lat>_<zagl>_foot.nc, one file "
                    "per receptor, layers stamped at the start of each hour back. Receptors: "
                    "a CSV with time,lat,lon,height[,kind,lat2,lon2,height_top] (kind point, "
                    "path or column) or --receptor options. See docs/transport.md.",
        epilog="example: cityflux footprint --met met.nc --grid -112.3,-111.5,40.4,41.0,0.01 "
               "--receptor 2024-07-01T20:00Z,40.766,-111.848,30 --particles 1000 --out foot/")
    footprint.add_argument("--met", required=True, metavar="FILE",
                           help="meteorology NetCDF (one column or fields; docs/formats.md)")
    footprint.add_argument("--receptors", metavar="CSV", help="receptor table")
    footprint.add_argument("--receptor", action="append", default=[], metavar="T,LAT,LON,H",
                           help="one point receptor: UTC time, latitude, longitude, height "
                                "above ground in m (repeat for several)")
    footprint.add_argument("--grid", required=True, metavar="XMN,XMX,YMN,YMX,XRES[,YRES]",
                           help="footprint grid as STILT gives it (cell edges and sizes, in "
                                "--crs units)")
    footprint.add_argument("--crs", default="EPSG:4326",
                           help="CRS of --grid (default EPSG:4326: degrees)")
    footprint.add_argument("--particles", type=_positive_int, default=1000, metavar="N",
                           help="particles per receptor (default 1000)")
    footprint.add_argument("--hours-back", type=_positive_int, default=24, metavar="H",
                           help="hours the particles are followed back (default 24)")
    footprint.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    footprint.add_argument("--smooth-factor", type=float, default=0.0, metavar="F",
                           help="Gaussian smoothing growing with particle age, as a fraction "
                                "of the distance travelled (default 0: off)")
    footprint.add_argument("--time-integrate", action="store_true",
                           help="write one layer summed over hours back")
    footprint.add_argument("--out", default="footprints", metavar="DIR",
                           help="folder for the files (default: footprints)")
    footprint.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    commands.add_parser("config-doc", parents=[common],
                        help="print the configuration reference (Markdown)",
                        description="Print the reference of every config key, generated "
                                    "from the code (this is docs/configuration.md).")
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = logging.DEBUG if args.debug else logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return _dispatch(args)
    except CityfluxError as exc:
        if args.debug:
            raise
        print(f"cityflux: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("cityflux: interrupted; no output was replaced", file=sys.stderr)
        return 130


def _dispatch(args) -> int:
    from .config import config_reference, load_config

    if args.command == "config-doc":
        sys.stdout.write(config_reference())
        return 0
    if args.command == "footprint":
        return _footprint(args)
    overrides = list(args.overrides)
    if getattr(args, "scheduler", None):
        overrides.append(f"transport.scheduler={args.scheduler}")
    config = load_config(args.config, overrides)
    if args.command == "prior":
        from .prior import write_prior

        path, summary = write_prior(config, args.out)
        print(f"prior written to {path}: {summary}")
        return 0
    if args.command == "validate":
        from .pipeline import check_output_dir, load_inputs, plan_state

        inputs = load_inputs(config)
        _, layout = plan_state(inputs, inputs.inventory)
        check_output_dir(config)
        print(f"{args.config}: OK — grid {inputs.grid.ny}×{inputs.grid.nx}, "
              f"{inputs.n_hours} hours, prior sectors: {', '.join(inputs.inventory.sectors)}, "
              f"{len(inputs.inventory.points)} stack source(s), state blocks: "
              f"{', '.join(f'{b.name} ({b.size:,})' for b in layout.blocks)}, "
              f"{int(inputs.table.used.sum())} of {len(inputs.table)} tower observations "
              f"selected, regions: {', '.join(inputs.regions.names)}")
        return 0
    from .pipeline import run

    summary = run(config, progress=not args.no_progress and sys.stderr.isatty())
    print(summary_table(summary))
    return 0


def _footprint(args) -> int:
    from pathlib import Path

    import numpy as np
    import pandas as pd

    from .config import ParticlesConfig, TransportConfig, TransportModel
    from .errors import InputError
    from .footprint_tool import (compute_and_write, footprint_grid, parse_receptor,
                                 read_receptors, receptor_table)
    from .met_fields import read_met_field

    if bool(args.receptors) == bool(args.receptor):
        raise InputError("give the receptors either as --receptors CSV or as --receptor "
                         "options")
    if args.smooth_factor < 0 or args.seed < 0:
        raise InputError("--smooth-factor and --seed must not be negative")
    table = (read_receptors(Path(args.receptors)) if args.receptors else
             receptor_table(pd.DataFrame([parse_receptor(r) for r in args.receptor]),
                            "--receptor", line=np.arange(1, len(args.receptor) + 1)))
    grid = footprint_grid(args.grid, args.crs)
    met = read_met_field(Path(args.met), grid)
    settings = TransportConfig(model=TransportModel.PARTICLES, hours_back=args.hours_back,
                               particles=ParticlesConfig(n_particles=args.particles,
                                                         smooth_factor=args.smooth_factor))
    files = compute_and_write(table, met, grid, Path(args.out), settings, args.seed,
                              args.time_integrate,
                              progress=not args.no_progress and sys.stderr.isatty())
    print(f"{len(files)} footprint(s) written to {Path(args.out).resolve()}")
    return 0


def _table(header: list[str], rows: list[list[str]], indent: str = "  ") -> list[str]:
    """Rows of text cells aligned in columns (first column left, others right)."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells):
        parts = [f"{cells[0]:<{widths[0]}}"] + [f"{c:>{w}}" for c, w in zip(cells[1:], widths[1:])]
        return indent + "   ".join(parts).rstrip()

    return [line(header), *(line(r) for r in rows)]


def _amount(value: float, std: float | None = None) -> str:
    text = f"{value:,.0f}"
    return text if std is None else f"{text} ± {std:,.0f}"


def summary_table(summary) -> str:
    """The human summary printed at the end of a run."""
    d = summary.diagnostics
    has_truth = "truth_period_totals" in d
    errors = d.get("error_estimation", {})
    chi2_se = errors.get("reduced_chi2_standard_error")
    lines = [f"cityflux run finished: outputs in {summary.output_dir}", "",
             f"  observations used {d['n_obs']:,}   state elements {d['n_state']:,}   "
             f"chi2/n_obs {d['reduced_chi2']:.2f}"
             + (f" (expected 1 ± {chi2_se:.2f})" if chi2_se else "")
             + f"   DOFS {d['dofs']:.1f}", ""]

    def totals_rows(entries, reduction):
        rows = []
        for name, t in entries.items():
            gain = reduction.get(name)
            row = [name, _amount(t["prior"], t["prior_uncertainty"]),
                   _amount(t["posterior"], t["posterior_uncertainty"]),
                   f"{gain:.0%}" if gain is not None and gain >= 0 else "–"]
            rows.append(row + ([_amount(t["truth"])] if has_truth else []))
        return rows

    header = ["region", "prior", "posterior", "unc. red."] + (["truth"] if has_truth else [])
    lines.append("  Net CO2 flux over the period, t CO2 (± 1σ; biosphere included)")
    lines += _table(header, totals_rows(d["period_totals"]["net"],
                                        d["uncertainty_reduction"]["net"]))
    groups = [g for g in d["period_totals"] if g != "net"]
    if groups:
        lines += ["", "  City totals by sector group, t CO2"]
        city = {g: d["period_totals"][g]["city"] for g in groups}
        reduction = {g: d["uncertainty_reduction"][g]["city"] for g in groups}
        lines += _table(["group", *header[1:]], totals_rows(city, reduction))
    if d.get("point_sources"):
        lines += ["", "  Point sources, t CO2 over the period"]
        truth = any("truth_t" in p for p in d["point_sources"])
        rows = [[p["name"], p["sector"], f"{p['stack_height_m']:.0f} m",
                 "found by the search" if p["sector"] == "detected" else
                 _amount(p["prior_t"], p["prior_uncertainty_t"]),
                 _amount(p["posterior_t"], p["posterior_uncertainty_t"])]
                + ([_amount(p["truth_t"]) if "truth_t" in p else "–"] if truth else [])
                for p in d["point_sources"]]
        lines += _table(["source", "sector", "stack", "prior", "posterior"]
                        + (["truth"] if truth else []), rows)
    if errors.get("parameters"):
        lines += ["", "  Error parameters (maximum likelihood, 68 % interval)"]
        rows = []
        for name, p in errors["parameters"].items():
            low, high = p["interval_68"]
            interval = "–" if low is None or high is None else f"{low:.3g}–{high:.3g}"
            rows.append([name, f"{p['value_used']:.3g}", "yes" if p["estimated"] else "no",
                         f"{p['maximum_likelihood']:.3g}", interval])
        lines += _table(["parameter", "used", "estimated", "ML value", "interval"], rows)
    for key, title in (("first_pass_missing_sources", "Missing-source search (first pass)"),
                       ("missing_sources", "Missing-source search" + (
                           " (after adding them)" if "first_pass_missing_sources" in d else ""))):
        search = d.get(key)
        if search is None:
            continue
        lines.append("")
        if search["accepted"]:
            lines.append(f"  {title} over {search['n_candidates']:,} cells: "
                         f"{len(search['accepted'])} significant source(s) "
                         f"(z > {search['z_threshold']:.2f})")
            lines += _table(["lon", "lat", "rate (t/yr)", "z"],
                            [[f"{a['lon']:.4f}", f"{a['lat']:.4f}",
                              _amount(a["rate_t_yr"]), f"{a['z']:.1f}"]
                             for a in search["accepted"]])
        else:
            best = search["best_candidates"][0] if search["best_candidates"] else None
            lines.append(f"  {title} over {search['n_candidates']:,} cells: none significant "
                         f"(threshold z > {search['z_threshold']:.2f}"
                         + (f", best z = {best['z']:.2f})" if best else ")"))
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in d["run_time_seconds"].items())
    top = [str(f) for f in summary.files if len(f.parts) == 1]
    folders = sorted({f.parts[0] for f in summary.files if len(f.parts) > 1})
    top += [f"{folder}/ ({sum(1 for f in summary.files if f.parts[0] == folder)} files)"
            for folder in folders]
    lines += ["", f"  run time: {stages}", "  files: " + ", ".join(top)]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
