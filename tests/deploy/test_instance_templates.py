"""deploy/*.yaml are Dagster instance settings Dagster accepts: the whole file against the instance schema, the
storage and each run launcher against its own class's schema (dagster-postgres, dagster-aws, dagster-k8s)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml
from dagster._config import process_config
from dagster._core.instance.config import dagster_instance_config

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
PROD_ENV = {"DAGSTER_PG_HOST": "db.internal", "DAGSTER_PG_PORT": "5432", "DAGSTER_PG_USER": "dagster",
            "DAGSTER_PG_PASSWORD": "x", "DAGSTER_PG_DB": "dagster", "CXGM_IMAGE": "registry/cxgm:1"}


def instance(tmp_path: Path, *files: str) -> dict:
    """The files concatenated, as the README says to install them, read and validated by Dagster."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("\n".join((DEPLOY / f).read_text() for f in files))
    config, _ = dagster_instance_config(str(home))
    return config


def class_config(cls, config: dict) -> dict:
    """`config` validated against the class's own schema, env vars resolved (what Dagster does when it loads the
    class from dagster.yaml)."""
    result = process_config(cls.config_type(), config)
    assert result.success, f"{cls.__name__}: {[e.message for e in result.errors]}"
    return result.value


@pytest.fixture
def prod_env(monkeypatch):
    for name, value in PROD_ENV.items():
        monkeypatch.setenv(name, value)


def test_local_settings_are_valid(tmp_path):
    config = instance(tmp_path, "dagster.local.yaml")
    assert config["run_queue"]["tag_concurrency_limits"][0]["key"] == "dagster/partition"


def test_prod_settings_use_postgres_for_every_storage(tmp_path, prod_env):
    from dagster_postgres import DagsterPostgresStorage

    config = instance(tmp_path, "dagster.prod.yaml")
    postgres = class_config(DagsterPostgresStorage, config["storage"]["postgres"])["postgres_db"]
    assert {k: postgres[k] for k in ("hostname", "port", "username", "password", "db_name")} == {
        "hostname": "db.internal", "port": 5432, "username": "dagster", "password": "x", "db_name": "dagster"}
    limit = config["run_queue"]["tag_concurrency_limits"][0]
    assert limit == {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
    assert "run_launcher" not in config  # Dagster's default launcher: a process per run beside the daemon


@pytest.mark.parametrize("launcher, module, cls", [("run_launcher.ecs.yaml", "dagster_aws.ecs", "EcsRunLauncher"),
                                                    ("run_launcher.k8s.yaml", "dagster_k8s", "K8sRunLauncher")])
def test_multi_machine_launchers_are_valid(tmp_path, prod_env, launcher, module, cls):
    config = instance(tmp_path, "dagster.prod.yaml", launcher)
    block = config["run_launcher"]
    assert (block["module"], block["class"]) == (module, cls)
    assert "storage" in config and "run_queue" in config  # appended, not replacing the Postgres settings
    value = class_config(getattr(importlib.import_module(module), cls), block["config"])
    if cls == "K8sRunLauncher":
        assert value["job_image"] == "registry/cxgm:1" and value["instance_config_map"] == "cxgm-dagster-instance"
    else:
        assert value["use_current_ecs_task_config"] and "CXGM_DATA" in value["env_vars"]


def test_a_misspelt_setting_is_refused(tmp_path, prod_env):
    """The validation above can fail: a typo in a launcher's config is an error, not ignored."""
    from dagster_aws.ecs import EcsRunLauncher

    block = yaml.safe_load((DEPLOY / "run_launcher.ecs.yaml").read_text())["run_launcher"]
    block["config"]["task_definiton"] = "cxgm"
    result = process_config(EcsRunLauncher.config_type(), block["config"])
    assert not result.success and "task_definiton" in result.errors[0].message
