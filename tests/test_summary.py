"""The run summary printed by the CLI: columns line up whatever the size of the numbers."""

from pathlib import Path

from cityflux.cli import summary_table
from cityflux.pipeline import RunSummary


def _totals(scale):
    return {"prior": 1.5 * scale, "prior_uncertainty": 0.4 * scale, "posterior": 1.7 * scale,
            "posterior_uncertainty": 0.1 * scale, "truth": 1.8 * scale}


def _diagnostics():
    regions = {"domain": 123_456_789_012.0, "city": 9.0, "A very long district name": 45_678.0}
    net = {name: _totals(scale) for name, scale in regions.items()}
    return {
        "n_obs": 1_234_567, "n_state": 12_345_678_901, "reduced_chi2": 1.02, "dofs": 12345.6,
        "period_totals": {"net": net, "fossil": {"city": _totals(3e7)}},
        "uncertainty_reduction": {"net": {name: 0.5 for name in regions},
                                  "fossil": {"city": -0.2}},
        "truth_period_totals": {},
        "point_sources": [{"name": "plant", "sector": "energy", "stack_height_m": 150.0,
                           "prior_t": 1.2e9, "prior_uncertainty_t": 3.0e8,
                           "posterior_t": 9.0, "posterior_uncertainty_t": 1.0}],
        "error_estimation": {"reduced_chi2_standard_error": 0.01, "parameters": {
            "scale:fossil": {"value_used": 1.5, "estimated": True, "maximum_likelihood": 1.4,
                             "interval_68": [None, None]}}},
        "run_time_seconds": {"inputs": 0.1, "solve": 1234.5},
    }


def _tables(text):
    """Blocks of consecutive indented table lines (header first)."""
    blocks, current = [], []
    for line in text.splitlines():
        if line.startswith("  ") and "   " in line.strip():
            current.append(line)
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks


def test_columns_align_for_large_and_small_numbers():
    text = summary_table(RunSummary(Path("/tmp/out"), _diagnostics(), [Path("posterior.nc")]))
    tables = [t for t in _tables(text) if len(t) > 1]
    assert len(tables) >= 3
    for table in tables:
        ends = {len(line) for line in table}
        # right-aligned columns: every row of a table ends at the same column
        assert len(ends) == 1, "\n".join(table)
    assert "185,185,183,518" in text and "A very long district name" in text
    # a negative uncertainty reduction (the posterior less certain than the inventory
    # claimed) is shown as a dash, not as a large negative percentage
    fossil = next(line for line in text.splitlines() if line.strip().startswith("fossil")
                  and "45,000,000" in line)
    assert fossil.rstrip().endswith("–") or " – " in fossil
