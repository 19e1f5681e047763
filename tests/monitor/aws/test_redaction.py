"""Secrets are cut from any text cxgm stores or prints, whatever shape they come in."""

import pytest

from cxgm_pipeline.monitor.aws.redaction import REDACTED, redact

pytestmark = pytest.mark.unit

TOKEN = "AQ" + "x" * 140


@pytest.mark.parametrize("text,kept", [
    (f"TASK_TOKEN={TOKEN} next", "TASK_TOKEN=<redacted> next"),
    (f'{{"TASK_TOKEN": "{TOKEN}"}}', '{"TASK_TOKEN": "<redacted>"}'),
    (f'[{{"name": "TASK_TOKEN", "value": "{TOKEN}"}}]', '[{"name": "TASK_TOKEN", "value": "<redacted>"}]'),
    (f"callback failed for {TOKEN}.", "callback failed for <redacted>."),
], ids=["name=value", "json", "batch-environment", "bare-token"])
def test_a_secret_value_is_cut_in_every_shape(text, kept):
    assert redact(text) == kept and TOKEN not in redact(text)


def test_text_without_a_secret_and_non_text_come_back_as_they_were():
    plain = "MemoryError in cxg after 3 h; AQ is too short to be a token"
    assert redact(plain) is plain
    assert redact(None) is None and redact(42) == 42 and redact("") == ""
    assert redact("TASK_TOKEN=short") == "TASK_TOKEN=short", "a value under 8 characters is no token"
    assert REDACTED == "<redacted>"
