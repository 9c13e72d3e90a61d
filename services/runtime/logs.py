"""structlog configured for JSON lines, one per RPC and per notable event, on stdout."""

from __future__ import annotations

import logging
import sys

import structlog


def setup(service: str, level: str = "info", stream=None) -> structlog.stdlib.BoundLogger:
    """JSON lines on ``stream`` (stdout unless given: the in-process mode writes them to a file)."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stdout),
        cache_logger_on_first_use=True,
    )
    return structlog.get_logger().bind(service=service)
