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

    validate = commands.add_parser(
        "validate", parents=[common], help="check a config and its input files without running",
        description="Parse the config, check every key, open and check every input file "
                    "and the observation selection. Exits 0 when the run would start.")
    _add_config_arguments(validate)

    commands.add_parser("config-doc", parents=[common],
                        help="print the configuration reference (Markdown)",
                        description="Print the reference of every config key, generated "
                                    "from the code (this is docs/configuration.md).")
    return parser


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
    config = load_config(args.config, args.overrides)
    if args.command == "validate":
        from .pipeline import load_inputs

        inputs = load_inputs(config)
        print(f"{args.config}: OK — grid {inputs.grid.ny}×{inputs.grid.nx}, "
              f"{inputs.layout.n_steps} flux time steps of {inputs.layout.step_hours} h, "
              f"{int(inputs.table.used.sum())} of {len(inputs.table)} tower observations "
              f"selected, regions: {', '.join(inputs.regions.names)}")
        return 0
    from .pipeline import run

    summary = run(config, progress=not args.no_progress and sys.stderr.isatty())
    print(summary_table(summary))
    return 0


def summary_table(summary) -> str:
    """The human summary printed at the end of a run."""
    d = summary.diagnostics
    lines = [f"cityflux run finished: outputs in {summary.output_dir}", "",
             f"  observations used  {d['n_obs']:>10d}      state elements  {d['n_state']:>10d}",
             f"  chi2 / n_obs       {d['reduced_chi2']:>10.2f}      DOFS            {d['dofs']:>10.1f}",
             "", f"  {'region':<14}{'prior (t CO2)':>22}{'posterior (t CO2)':>24}"
             f"{'unc. red.':>11}" + (f"{'truth':>11}" if "truth_period_totals" in d else "")]
    for name, totals in d["period_totals"].items():
        row = (f"  {name:<14}{totals['prior']:>12.0f} ± {totals['prior_uncertainty']:<7.0f}"
               f"{totals['posterior']:>14.0f} ± {totals['posterior_uncertainty']:<7.0f}"
               f"{d['uncertainty_reduction'][name]:>10.0%}")
        if "truth" in totals:
            row += f"{totals['truth']:>11.0f}"
        lines.append(row)
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in d["run_time_seconds"].items())
    top = [str(f) for f in summary.files if len(f.parts) == 1]
    folders = sorted({f.parts[0] for f in summary.files if len(f.parts) > 1})
    top += [f"{folder}/ ({sum(1 for f in summary.files if f.parts[0] == folder)} files)"
            for folder in folders]
    lines += ["", f"  run time: {stages}", "  files: " + ", ".join(top)]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
