"""A logging filter that masks secrets and access tokens in every record it sees.

Every process installs it (the CLI, the clock, the worker, each gunicorn worker), so it lives
apart from ``connector/salesforce/``: importing it loads neither simple-salesforce nor requests.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from pydantic import SecretStr

from connector.config import Settings

MASK = "**********"
# "Bearer <token>" / "OAuth <token>" headers, and Salesforce session ids (org id + "!" + ...).
_BEARER = re.compile(r"\b(Bearer|OAuth)\s+[^\s'\",;]+", re.IGNORECASE)
_SESSION_ID = re.compile(r"\b00D[A-Za-z0-9]{12,15}![A-Za-z0-9._\-]+")


class RedactSecrets(logging.Filter):
    """Masks the given secret strings, bearer tokens and session ids in a record's message.

    Install it on the handlers at startup; the message is formatted here (``%`` args merged)
    and any exception text rendered, so nothing unmasked reaches a handler.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        for secret in secrets:
            self.add(secret)

    @classmethod
    def from_settings(cls, settings: Settings) -> RedactSecrets:
        """A filter masking every secret setting of ``settings`` (each entry of a
        comma-separated list, such as the webhook secrets, on its own too)."""
        secrets: list[str] = []
        for name in type(settings).model_fields:
            value = getattr(settings, name)
            if isinstance(value, SecretStr):
                text = value.get_secret_value()
                parts = [p.strip() for p in text.split(",")]
                # A scoped loyalty token is name:scopes=secret: its secret alone too.
                secrets.extend([text, *parts, *(p.partition("=")[2].strip() for p in parts)])
        return cls(secrets)

    def add(self, secret: str) -> None:
        """Mask ``secret`` from now on (secrets shorter than 4 characters are ignored)."""
        if len(secret) >= 4:
            self._secrets.add(secret)

    def redact(self, text: str) -> str:
        """``text`` with every known secret and token masked."""
        # Longest first, so a secret containing another is masked whole.
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        text = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)
        return _SESSION_ID.sub(MASK, text)

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drops it."""
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True
