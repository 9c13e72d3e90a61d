"""Helpers for the crash tests (issue 15): kill -9 a process of a private stack by its pid file, and wait
for a restarted Redis to have loaded its append-only file.

Shared by the durable-Redis test and the chaos test. Both stacks were started by this test process
(``stack.up``), so the victim is our child: it is reaped here, and its pid file removed, so that
``stack.up`` / ``stack.services_up`` see it gone and start it again.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import redis

from mmsim import stack
from mmsim.runtime import config


def kill9(settings: config.Settings, name: str) -> int:
    """SIGKILL ``name`` ("redis" or a service) of the stack under ``settings.state_dir``; reap it. Its pid."""
    paths = stack.Paths(Path(settings.state_dir))
    pid = stack.read_pid(paths, name)
    assert pid is not None, f"{name} is not running under {settings.state_dir}"
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    paths.pidfile(name).unlink(missing_ok=True)
    assert stack.read_pid(paths, name) is None
    return pid


def wait_loaded(settings: config.Settings) -> None:
    """Block until the restarted Redis has loaded its append-only file (PING answers LOADING until then)."""
    client = redis.Redis.from_url(settings.redis_url, retry_on_error=[redis.exceptions.BusyLoadingError],
                                  retry=redis.retry.Retry(redis.backoff.ConstantBackoff(0.05), 600))
    client.ping()
    client.close()
