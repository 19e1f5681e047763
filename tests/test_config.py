import pytest

from cxgm_pipeline.config import CONFIG_ENV_VAR, ConfigError, load_config


@pytest.fixture(autouse=True)
def packaged_only(monkeypatch):
    """The session emulator exports CXGM_CONFIG; these tests are about the packaged file and explicit ones."""
    monkeypatch.delenv(CONFIG_ENV_VAR, raising=False)


def test_packaged_defaults_name_production_resources():
    prod = load_config().stage("prod")
    assert prod.profile == "single-cell-prod"
    assert prod.migration_sfn == "dp-prod-prodstack-schema-migration-sfn"
    assert prod.ingestion_sfn == "dp-prod-prodstack-sfn"
    assert prod.migration_log_group == "/dp/prod/prodstack/schema-migration-batch"
    assert prod.ingestion_log_group == "/dp/prod/prodstack/upload"
    # production's names: scripts/cxg_admin_scripts and migrations/README.md (queue), envs/stage (stack);
    # the artifact bucket comes from a secret, so it is not guessed
    assert prod.queue == "schema_migration-prod"
    assert load_config().stage("staging").migration_sfn == "dp-staging-stagestack-schema-migration-sfn"
    assert prod.artifact_bucket == ""


def test_user_file_overrides_only_what_it_names(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('[stages.dev]\nstack = "mystack"\nregion = "eu-west-1"\n[stages.rdev]\nprofile = "single-cell-dev"\nstack = "pr-123"\n')
    config = load_config(path)
    assert config.stage("dev").migration_sfn == "dp-dev-mystack-schema-migration-sfn"
    assert config.stage("dev").region == "eu-west-1"
    assert config.stage("dev").profile == "single-cell-dev"
    assert config.stage("rdev").ingestion_sfn == "dp-rdev-pr-123-sfn"


def test_errors_say_what_to_fix(tmp_path):
    with pytest.raises(ConfigError, match="unknown stage 'qa'.*add a \\[stages.qa\\]"):
        load_config().stage("qa")
    with pytest.raises(ConfigError, match="not a file"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[stages.dev]\nqueue_name = 'x'\n")
    with pytest.raises(ConfigError, match="unknown keys \\['queue_name'\\]"):
        load_config(bad)
    bad.write_text("[stages.uat]\nstack = 'x'\n")
    with pytest.raises(ConfigError, match="not one of"):
        load_config(bad)


@pytest.mark.parametrize("name,value,fn", [("CXGM_MAX_FAILURE_RATE", "abc", "max_failure_rate"),
                                           ("CXGM_MAX_FAILURE_RATE", "2", "max_failure_rate"),
                                           ("CXGM_REFRESH_SECONDS", "abc", "refresh_seconds"),
                                           ("CXGM_REFRESH_SECONDS", "0", "refresh_seconds")])
def test_numbers_from_the_environment_name_the_variable_and_the_form(monkeypatch, name, value, fn):
    import cxgm_pipeline.config as config

    monkeypatch.setenv(name, value)
    with pytest.raises(config.ConfigError, match=f"{name}={value!r}"):
        getattr(config, fn)()
