"""Reading the small CSV tables of cityflux (sites, observation records).

Lines whose first character is ``#`` are comments; a ``#`` anywhere else is data (a site
may be called "Tower #2"). Every data row keeps the number of the file line it came from,
so error messages point at the line a user opens in an editor. Column names are stripped
of surrounding spaces; a line with more fields than the header is refused (fewer fields
leave the missing ones empty).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, brief


def read_table(path: Path, dtype: dict | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """The table and, for each of its rows, the 1-based line number in the file.

    Columns given as ``str`` in ``dtype`` are text: kept exactly as written (so a site
    called ``NA`` stays ``NA``), stripped of surrounding spaces, NaN where empty. Other
    columns are parsed by pandas (numbers where possible; ``NaN``, ``NA`` and empty values
    are missing).
    """
    try:
        # utf-8-sig: files saved by some Windows tools start with a byte-order mark
        lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read CSV: {brief(exc)}") from None
    kept = [(number, text) for number, text in enumerate(lines, start=1)
            if text.strip() and not text.lstrip().startswith("#")]
    if not kept:
        raise InputError(f"{path}: no header line")
    header = _check_fields(path, kept)
    text = "\n".join(line for _, line in kept)
    text_columns = [c for c, kind in (dtype or {}).items() if kind is str and c in header]
    try:
        table = pd.read_csv(io.StringIO(text), header=0, names=header, index_col=False,
                            dtype={c: str for c in text_columns})
        if text_columns:
            raw = pd.read_csv(io.StringIO(text), header=0, names=header, index_col=False,
                              usecols=text_columns, dtype=str, keep_default_na=False)
    except (ValueError, pd.errors.ParserError) as exc:
        raise InputError(f"{path}: cannot read CSV: {brief(exc)}") from None
    for column in text_columns:
        values = raw[column].str.strip()
        table[column] = values.where(values != "", np.nan)
    return table, np.array([number for number, _ in kept[1:]], dtype=np.int64)


def _check_fields(path, kept) -> list[str]:
    """The stripped column names; refuses bad quoting, unnamed or repeated columns and
    lines with more fields than the header."""
    rows = []
    for number, line in kept:
        try:
            rows.append(next(csv.reader([line], strict=True)))
        except csv.Error as exc:
            raise InputError(f"{path}: cannot read CSV: line {number}: {brief(exc)} (check "
                             "the quotes)") from None
    header = [name.strip() for name in rows[0]]
    if len(header) == 1 and any(separator in header[0] for separator in ";\t|"):
        raise InputError(f"{path}: line {kept[0][0]}: the header {header[0]!r} is one column; "
                         "expected fields separated by commas")
    for position, name in enumerate(header, start=1):
        if not name:
            raise InputError(f"{path}: line {kept[0][0]}: column {position} of the header has "
                             "no name")
        if header.index(name) != position - 1:
            raise InputError(f"{path}: line {kept[0][0]}: column {name!r} appears twice in the "
                             "header")
    for (number, _), fields in zip(kept[1:], rows[1:]):
        if len(fields) > len(header):
            raise InputError(f"{path}: cannot read CSV: line {number} has {len(fields)} fields, "
                             f"the header {len(header)} ({', '.join(header)})")
    return header
