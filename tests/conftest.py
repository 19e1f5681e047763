"""One emulated AWS account per test session (per xdist worker): the `small` scenario, every migration over.

Tests talk to it over HTTP on 127.0.0.1, exactly as cxgm talks to AWS, and compare with its truth file.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cxgm_pipeline.emulator.server import Emulator, EmulatorOptions
from cxgm_pipeline.emulator.truth import load_truth

SEED = 11


@pytest.fixture(scope="session")
def emulator(tmp_path_factory) -> Emulator:
    truth = tmp_path_factory.mktemp("truth") / "truth.json"
    emu = Emulator(EmulatorOptions(scenario="small", seed=SEED, clock="end", truth_path=truth)).start()
    saved = {k: os.environ.get(k) for k in emu.env()}
    os.environ.update(emu.env())
    os.environ.pop("AWS_PROFILE", None)
    yield emu
    emu.stop()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def truth(emulator) -> dict:
    return load_truth(emulator.truth_path)


def migration(truth: dict, stage: str, key: str | None = None, live: bool | None = None) -> dict:
    for m in truth["migrations"]:
        if m["stage"] == stage and (key is None or m["attempt_key"] == key) and (live is None or m["live"] == live):
            return m
    raise LookupError(f"no migration {stage}/{key} in truth")


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return tmp_path / "data"
