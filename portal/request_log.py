"""The request log never shows a secret link.

Invitation and password-reset links carry a one-time token in their path: whoever reads the
access log (the development server's `werkzeug` logger, gunicorn's `gunicorn.access`)
could otherwise use it. A filter on those loggers replaces the token with `***`.
"""

from __future__ import annotations

import logging
import re

#: Paths whose last segment is a secret token (see the auth blueprint's routes).
SECRET_PATHS = re.compile(r"(/invitation/|/mot-de-passe/nouveau/)[^\s/?\"#]+")
#: The loggers that write one line per request.
REQUEST_LOGGERS = ("werkzeug", "gunicorn.access")


def mask_secrets(text: str) -> str:
    """The text with the token of every secret link replaced by ``***``."""
    return SECRET_PATHS.sub(r"\1***", text)


class SecretLinkFilter(logging.Filter):
    """Rewrites a log record whose message holds a secret link (never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_secrets(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True


def install() -> None:
    """Put the filter on the request loggers, once per process."""
    for name in REQUEST_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, SecretLinkFilter) for f in logger.filters):
            logger.addFilter(SecretLinkFilter())
