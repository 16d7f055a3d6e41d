"""Inversion methods behind one interface (see :mod:`cityflux.solvers.base`)."""

from .analytical import AnalyticalSolver
from .base import InversionProblem, InversionResult, Solver

SOLVERS = {"analytical": AnalyticalSolver}


def make_solver(method) -> Solver:
    """The solver for a :class:`cityflux.config.SolverMethod` (or its value)."""
    return SOLVERS[getattr(method, "value", method)]()


__all__ = ["AnalyticalSolver", "InversionProblem", "InversionResult", "Solver", "SOLVERS",
           "make_solver"]
