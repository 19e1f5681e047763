"""The emulator in its own process, for scripts and tests (the benchmark, `make prod-check`, the test suite):
start it, wait until it answers, read the exports its --env-file holds, steer it through /_cxgm/.

Standard library only: a caller needs none of the emulator's dependencies loaded in its own process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path


def read_env_file(path: Path) -> dict[str, str]:
    """The exports `cxgm-emulator start --env-file` writes (`export NAME=value`, one a line), as a dict."""
    return dict(line.removeprefix("export ").split("=", 1) for line in path.read_text().splitlines() if line.strip())


def control(endpoint: str, path: str, body: dict | None = None, timeout: float = 5.0) -> dict:
    """GET (or, with a body, POST) the emulator's /_cxgm/<path>: status, clock."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{endpoint}/_cxgm/{path}", data=data, method="POST" if data else "GET",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


@dataclass
class EmulatorProcess:
    """`python -m cxgm_emulator start ...` in a subprocess; `env` once ready (the exports of its --env-file)."""

    proc: subprocess.Popen
    env_file: Path
    truth_file: Path
    log_file: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return self.env["AWS_ENDPOINT_URL"]

    def output(self) -> str:
        return self.log_file.read_text() if self.log_file.exists() else ""

    def truth(self) -> dict:
        return json.loads(self.truth_file.read_text())

    def control(self, path: str, body: dict | None = None, timeout: float = 5.0) -> dict:
        return control(self.endpoint, path, body, timeout)

    def wait_ready(self, timeout: float = 120.0) -> dict[str, str]:
        """Waits for the env file, then for GET /_cxgm/status to answer; an emulator that exits says why."""
        deadline = time.time() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"emulator exited with {self.proc.returncode}:\n{self.output()}")
            if time.time() > deadline:
                raise TimeoutError(f"emulator not ready within {timeout:.0f} s:\n{self.output()}")
            if self.env_file.exists():
                env = read_env_file(self.env_file)
                try:
                    control(env["AWS_ENDPOINT_URL"], "status", timeout=2)
                    self.env = env
                    return env
                except (urllib.error.URLError, ConnectionError, TimeoutError, KeyError):
                    pass
            time.sleep(0.2)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """SIGTERM or SIGINT (Ctrl-C) stop it cleanly; a process that outlives `timeout` is killed."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.proc.returncode


def spawn(directory: Path, *flags: str, scenario: str = "small", seed: int = 0, port: int = 0,
          command: list[str] | None = None) -> EmulatorProcess:
    """Starts `cxgm_emulator start --scenario S --seed N --port P <flags>` writing its env, truth and log into
    `directory`; port 0: the OS picks a free one (the env file names it). The caller's AWS_ and CXGM_ variables
    are not passed on: the emulator is configured by its flags alone."""
    directory.mkdir(parents=True, exist_ok=True)
    env_file, truth_file, log_file = directory / "env", directory / "truth.json", directory / "emulator.log"
    args = [*(command or [sys.executable, "-m", "cxgm_emulator"]), "start", "--scenario", scenario, "--seed", str(seed),
            "--port", str(port), "--truth", str(truth_file), "--env-file", str(env_file), *flags]
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CXGM_"))}
    environ["COLUMNS"] = "200"
    with log_file.open("w") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, text=True, env=environ)
    return EmulatorProcess(proc, env_file, truth_file, log_file)
