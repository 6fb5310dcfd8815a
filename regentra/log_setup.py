"""structlog: JSON lines in production, readable console lines in development; the web
server's access log with the secrets some URLs carry taken out."""

from __future__ import annotations

import logging
import re
import sys

import structlog

# URLs that carry a secret: the Stripe webhook URL's token (in the path), the QuickBooks
# OAuth callback's one-time authorization code and state, and a password reset link's token
# (in the query string).
_SECRET_IN_PATH = re.compile(r"^(/api/webhooks/stripe/)[^/?#\s]+")
_SECRET_QUERY_PATHS = ("/integrations/quickbooks/callback", "/password-reset")


def redact_path(path: str) -> str:
    """An access log's request path with its secrets replaced by "…"."""
    path = _SECRET_IN_PATH.sub(r"\1…", path)
    for prefix in _SECRET_QUERY_PATHS:
        if path.startswith(prefix + "?"):
            return prefix + "?…"
    return path


class RedactAccessLog(logging.Filter):
    """For uvicorn's access logger, whose records carry the request path as their third
    argument (`%s - "%s %s HTTP/%s" %d`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_path(args[2]), *args[3:])
        return True


def redact_access_log() -> None:
    """Install the filter on uvicorn's access logger (once; idempotent)."""
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactAccessLog) for f in logger.filters):
        logger.addFilter(RedactAccessLog())


def configure(*, env: str, level: str = "INFO") -> None:
    renderer: structlog.types.Processor
    if env == "production":
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=level.upper())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    redact_access_log()
