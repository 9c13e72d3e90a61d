"""Pause points (test-only fault injection, MMSIM_FAULT_INJECT=pause:NAME): a task that reaches one waits there
until a test lets it go on (tests/integration/pause.py), so a test can run other operations, or kill a
service, inside a window that is otherwise microseconds wide. Points: ``populate:read`` and ``write:folio``
(the filesystem), ``kswapd:pass`` (the allocator: a kswapd pass took its folios, their free is next).
Keys (``{cluster}``): ``inject:NAME:reached`` and ``inject:NAME:resume`` (lists).
"""

from __future__ import annotations

import structlog

from mmsim.runtime import keys, locks

_log = structlog.get_logger("mmsim.inject")


def pause_keys(name: str) -> tuple[str, str]:
    """The lists of pause point ``name``: (where a paused task says it arrived, where a test lets it go on)."""
    return keys.cluster(f"inject:{name}:reached"), keys.cluster(f"inject:{name}:resume")


async def pause_point(env, name: str) -> None:
    """Hold this task here when MMSIM_FAULT_INJECT is ``pause:NAME`` (test-only fault injection): it pushes its
    task to the ``reached`` list and waits (at most a minute) for an element on the ``resume`` list, so a test
    can run other operations inside a window that is otherwise microseconds wide, without a timing."""
    if env.settings.fault_inject != f"pause:{name}":
        return
    reached, resume = pause_keys(name)
    _log.warning("fault_inject.pause", point=name)
    await env.redis.rpush(reached, locks.task_id())
    await env.redis.blpop([resume], timeout=60)
