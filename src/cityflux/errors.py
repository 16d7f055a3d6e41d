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


def brief(exc: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message, for one-line error reports."""
    text = next((line.strip() for line in str(exc).splitlines() if line.strip()),
                type(exc).__name__)
    return text if len(text) <= limit else text[: limit - 1] + "…"
