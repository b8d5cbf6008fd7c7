"""RedactSecrets masks secrets and tokens in log records."""

from __future__ import annotations

import logging

import pytest

from connector.logs import RedactSecrets


def test_secret_and_bearer_token_are_masked(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("test.redact")
    redact = RedactSecrets(["hunter2-secret"])
    caplog.handler.addFilter(redact)
    with caplog.at_level(logging.INFO, logger="test.redact"):
        log.info(
            "secret=%s header=%s sid=%s",
            "hunter2-secret",
            "Authorization: Bearer abc.DEF-123",
            "00D5g000000LOCAL!AQ4AQFxyz.abc",
        )
    text = caplog.records[0].getMessage()
    assert "hunter2-secret" not in text
    assert "abc.DEF-123" not in text
    assert "AQ4AQFxyz" not in text
    assert text.count("**********") == 3


def test_exception_text_is_masked() -> None:
    redact = RedactSecrets(["topsecret"])
    try:
        raise RuntimeError("failed with topsecret")
    except RuntimeError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", None, sys.exc_info())
    redact.filter(record)
    assert record.exc_text is not None
    assert "topsecret" not in record.exc_text
    assert "topsecret" not in logging.Formatter().format(record)
