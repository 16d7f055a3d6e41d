"""Reading the small CSV tables of cityflux (sites, observation records).

Lines whose first character is ``#`` are comments; a ``#`` anywhere else is data (a site
may be called "Tower #2"). Every data row keeps the number of the file line it came from,
so error messages point at the line a user opens in an editor.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, brief


def read_table(path: Path, dtype: dict | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """The table and, for each of its rows, the 1-based line number in the file."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read CSV: {brief(exc)}") from None
    kept = [(number, text) for number, text in enumerate(lines, start=1)
            if text.strip() and not text.lstrip().startswith("#")]
    if not kept:
        raise InputError(f"{path}: no header line")
    try:
        table = pd.read_csv(io.StringIO("\n".join(text for _, text in kept)), dtype=dtype)
    except (ValueError, pd.errors.ParserError) as exc:
        raise InputError(f"{path}: cannot read CSV: {brief(exc)}") from None
    return table, np.array([number for number, _ in kept[1:]])
