"""Secrets never leave AWS through cxgm: values of secret variables (TASK_TOKEN above all: a Step Functions
task token lets its holder complete the task) are cut from any text cxgm stores or prints."""

from __future__ import annotations

import re

from portal_shapes import SECRET_ENV_VARS

REDACTED = "<redacted>"
# NAME=value, "NAME": "value", 'NAME': 'value', {"name": "NAME", "value": "..."} (Batch's environment JSON)
_NAMED = re.compile(r"""(?P<key>["']?(?:%s)["']?\s*[:=]\s*["']?)(?P<value>[^\s"',}]{8,})""" % "|".join(sorted(SECRET_ENV_VARS)))
_PAIR = re.compile(r"""(?P<key>["']?[Nn]ame["']?\s*:\s*["'](?:%s)["']\s*,\s*["']?[Vv]alue["']?\s*:\s*["'])(?P<value>[^"']+)"""
                   % "|".join(sorted(SECRET_ENV_VARS)))
# a bare task token: Step Functions tokens are long base64 strings beginning "AQ"
_TOKEN = re.compile(r"\bAQ[A-Za-z0-9+/=_-]{120,}")
# what every secret above contains: one scan rules out the (usual) text with nothing to cut
_ANY = re.compile("|".join(sorted(SECRET_ENV_VARS)) + r"|\bAQ")


def redact(text):
    """`text` with secret values replaced by <redacted>; anything that is not a str is returned as is."""
    if not isinstance(text, str) or not text or not _ANY.search(text):
        return text
    text = _PAIR.sub(lambda m: m["key"] + REDACTED, text)
    text = _NAMED.sub(lambda m: m["key"] + REDACTED, text)
    return _TOKEN.sub(REDACTED, text)
