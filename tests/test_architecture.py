"""The house's walls: the core and the CLI load without Dagster, the product never loads the emulator, the
emulator never loads the product. Checked in fresh interpreters, by what lands in sys.modules."""

import json
import subprocess
import sys

import pytest


def loaded(module: str) -> set[str]:
    code = f"import sys, json, {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    return {m.split(".")[0] for m in json.loads(out.stdout)}


@pytest.mark.parametrize("module", ["cxgm_pipeline.monitor.session", "cxgm_pipeline.notebook", "cxgm_pipeline.cli",
                                    "cxgm_pipeline.monitor.frames.step_outputs",
                                    # the decisions the alerts sensor and the asset checks report
                                    "cxgm_pipeline.monitor.views.alerts", "cxgm_pipeline.monitor.views.checks"])
def test_the_core_and_the_cli_load_without_dagster_or_the_emulator(module):
    found = loaded(module)
    assert not found & {"dagster", "dagster_aws", "dagster_pandera", "cxgm_emulator", "moto"}, found


def test_the_cli_help_loads_neither_pandas_nor_boto3():
    found = loaded("cxgm_pipeline.cli")
    assert not found & {"pandas", "boto3", "pandera", "matplotlib"}


def test_the_code_location_never_loads_the_emulator():
    assert not loaded("cxgm_pipeline.definitions") & {"cxgm_emulator", "moto"}


def test_the_emulator_never_loads_the_product():
    assert "cxgm_pipeline" not in loaded("cxgm_emulator.server") | loaded("cxgm_emulator.cli")
