"""`make demo`'s settings, as its recipe writes them to `.cxgm/emulator.env` (what dagster dev and a `cxgm` shell
source), read with make's own dry run: nothing is started."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from cxgm_pipeline.config import DEFAULT_DIGEST_SECONDS, DEFAULT_REFRESH_SECONDS, digest_seconds, refresh_seconds

ROOT = Path(__file__).resolve().parents[1]


def _demo_env(tmp_path: Path, **given: str) -> dict[str, str]:
    """The variables the demo's recipe appends to the env file, each as a shell given `given` would write it."""
    recipe = subprocess.run(["make", "-n", "demo"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    lines = re.findall(r'echo "export \w+=[^"]*" >> \.cxgm/emulator\.env', recipe)
    assert lines, recipe
    (tmp_path / ".cxgm").mkdir(parents=True)
    script = " && ".join(lines) + " && cat .cxgm/emulator.env"
    out = subprocess.run(["sh", "-c", script], cwd=tmp_path, env={"PATH": "/usr/bin:/bin", **given},
                         capture_output=True, text=True, check=True).stdout
    return dict(re.findall(r"^export (\w+)=(.*)$", out, flags=re.M))


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_the_demo_paces_refreshes_and_digests_to_its_fast_clock(tmp_path, monkeypatch):
    """The emulated clock runs 150x: at production's 600 s a person saw two digests in the eight-minute run."""
    env = _demo_env(tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert refresh_seconds() == 60 < DEFAULT_REFRESH_SECONDS
    assert digest_seconds() == 120 < DEFAULT_DIGEST_SECONDS
    # a person's own setting wins over the demo's
    assert _demo_env(tmp_path / "mine", CXGM_DIGEST_SECONDS="30")["CXGM_DIGEST_SECONDS"] == "30"
