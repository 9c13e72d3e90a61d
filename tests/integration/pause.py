"""A test's side of a pause point (mmsim.runtime.inject.pause_point, MMSIM_FAULT_INJECT=pause:NAME): a
private stack whose filesystem holds each task that reaches the point until the test lets it go on, so a test
can run other operations, or kill a service, inside a window that is otherwise microseconds wide."""

from __future__ import annotations

import contextlib

import redis

from mmsim.runtime import inject


@contextlib.contextmanager
def paused_stack(private_stack, name: str, point: str):
    with private_stack(name, MMSIM_MEMORY="64MiB", MMSIM_LOG_LEVEL="info", MMSIM_FAULT_INJECT=f"pause:{point}") as s:
        yield s


class Pause:
    def __init__(self, settings, point: str):
        self._redis = redis.Redis.from_url(settings.redis_url)
        self._reached, self._resume = inject.pause_keys(point)
        self._redis.delete(self._reached, self._resume)

    def reached(self, timeout: float = 120) -> bool:
        """A task arrived at the point (a bound for a task that never comes, not a timing)."""
        return self._redis.blpop([self._reached], timeout=timeout) is not None

    def resume(self, tasks: int = 1) -> None:
        """Let ``tasks`` arrivals (past or future) go on."""
        self._redis.rpush(self._resume, *[1] * tasks)
