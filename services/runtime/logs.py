"""structlog configured for JSON lines, one per RPC and per notable event, on stdout."""

from __future__ import annotations

import logging
import sys

import structlog


class _Sink:
    """Where every logger writes, looked up at each line: loggers are cached on first use
    (cache_logger_on_first_use), so they hold this sink, never a stream that may be closed later (an
    in-process stack's log file), nor the sys.stdout of the moment they were made (pytest swaps it)."""

    stream = None

    def write(self, text: str) -> int:
        return (self.stream or sys.stdout).write(text)

    def flush(self) -> None:
        (self.stream or sys.stdout).flush()


SINK = _Sink()


def redirect(stream) -> None:
    """Send every logger's lines to ``stream`` from now on (None: to stdout)."""
    SINK.stream = stream


def setup(service: str, level: str = "info", stream=None) -> structlog.stdlib.BoundLogger:
    """JSON lines on ``stream`` (stdout unless given: the in-process mode writes them to a file)."""
    redirect(stream)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(SINK),
        cache_logger_on_first_use=True,
    )
    return structlog.get_logger().bind(service=service)
