"""transport.model and transport.plume_form pick the operator; each reads its own inputs."""

from pathlib import Path

import pytest

from cityflux.config import load_config
from cityflux.errors import ConfigError, InputError
from cityflux.pipeline import read_domain
from cityflux.transport.base import make_transport

REPO = Path(__file__).resolve().parents[2]
DEMO_CONFIG = REPO / "configs" / "demo-city.yaml"
TACOLNESTON = REPO / "data-samples" / "tacolneston-2014-07"


def _transport(*overrides):
    config = load_config(DEMO_CONFIG, list(overrides))
    grid = read_domain(config)[0]
    return config, make_transport(config, grid)


def test_the_steady_plume_reads_the_meteorology_column():
    from cityflux.transport.plume import GaussianPlumeTransport

    config, transport = _transport("transport.plume_form=steady")
    assert isinstance(transport, GaussianPlumeTransport)
    assert transport.hours_back == config.transport.hours_back
    transport.check_coverage(10)
    with pytest.raises(InputError, match="no meteorology for"):
        transport.check_coverage(10_000)


def test_the_steady_plume_refuses_a_field_and_says_what_to_use(tmp_path):
    from cityflux.synthetic.met_fields import uniform_met_field, write_met_field

    config = load_config(DEMO_CONFIG)
    grid = read_domain(config)[0]
    field_file = write_met_field(tmp_path / "field.nc",
                                 uniform_met_field(grid, config.period.start, 12), grid)
    config = load_config(DEMO_CONFIG, ["transport.plume_form=steady",
                                       f"inputs.meteorology={field_file}"])
    with pytest.raises(InputError, match="plume_form: trajectory"):
        make_transport(config, grid)


def test_imported_footprints_need_files_and_no_meteorology(tmp_path):
    with pytest.raises(ConfigError, match="lists no files"):
        load_config(DEMO_CONFIG, ["transport.model=imported"])
    with pytest.raises(ConfigError, match="only read with 'transport.model: imported'"):
        load_config(DEMO_CONFIG, [f"transport.footprint_files=[{{format: name, files: "
                                  f"'{TACOLNESTON}/TAC-*.nc'}}]"])
    with pytest.raises(ConfigError, match="no file matches"):
        load_config(DEMO_CONFIG, ["transport.model=imported",
                                  "transport.footprint_files=[{format: stilt, files: "
                                  "'nowhere/*_foot.nc'}]"])
    with pytest.raises(ConfigError, match="needs a meteorology file"):
        load_config(DEMO_CONFIG, ["inputs.meteorology=null"])


@pytest.mark.filterwarnings("ignore:.*domain edges account for only")
def test_imported_name_files_by_glob():
    from cityflux.transport.imported import ImportedTransport

    config = load_config(DEMO_CONFIG, [
        "transport.model=imported", "inputs.meteorology=null",
        f"transport.footprint_files=[{{format: name, files: '{TACOLNESTON}/TAC-*.nc', "
        "site: TAC, use_hires: false}]"])
    spec = config.transport.footprint_files[0]
    assert [p.name for p in spec.files] == ["TAC-100magl_UKV_co2_TEST_201407.nc"]
    from cityflux.transport.imported import read_name_footprint

    footprints = read_name_footprint(spec.files[0], site="TAC")
    transport = make_transport(config, footprints.grid)
    assert isinstance(transport, ImportedTransport)
    assert transport.hours_back == config.transport.hours_back
