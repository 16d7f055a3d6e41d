"""Exceptions that the command line reports as one clear line.

Everything a user can cause (a bad config, a missing or malformed input file) raises a
subclass of :class:`CityfluxError` whose message names the file, key or value at fault and
says what was expected. Anything else is a bug and keeps its traceback.
"""


class CityfluxError(Exception):
    """Base class of the errors that are the user's to fix."""

    exit_code = 1


class ConfigError(CityfluxError):
    """A configuration key is unknown, misspelt, of the wrong type or out of range."""

    exit_code = 2


class InputError(CityfluxError):
    """An input file is missing, unreadable or inconsistent with the configuration."""

    exit_code = 3
