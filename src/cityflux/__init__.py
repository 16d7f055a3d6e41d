"""cityflux: atmospheric CO2 assimilation and inversion workbench for cities."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cityflux")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
