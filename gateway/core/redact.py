"""The one redactor: configured secrets (fields typed `Secret`) out of messages, logs and records."""

from __future__ import annotations

from collections.abc import Iterable

from gateway.core.outbound import ConnectorError

MASK = "***"


class Redactor:
    def __init__(self, secrets: Iterable[str]) -> None:
        # longest first, so a secret that contains another is masked whole
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text

    def error(self, error: ConnectorError) -> ConnectorError:
        """The same error with its message redacted (an answer may echo a credential)."""
        message = self(error.message)
        if message != error.message:
            error.message = message
            error.args = (message,)
        return error
