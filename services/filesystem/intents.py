"""Resumable multi-step operations: an intent is written before the first step and cleared after the last
(models XFS's intent log items and log recovery: xfs_defer_finish's intent/done pairs and
xlog_recover_process_intents, which finishes at mount whatever a crash interrupted).

Truncate (down), punch hole, unlink and reflink change the page cache, the reverse map and the blocks in
several steps on several services. Each step is idempotent or guarded, so the recovery re-runs the steps
from the start with the recorded arguments: it never brings old data back (a truncate interrupted after
i_size is finished before anyone can grow the file again: every lock acquire on a mapping with an intent
left by a dead holder runs the recovery first, see mmsim.runtime.locks), and the recovery pass of the
filesystem service (at start and every MMSIM_RECOVERY_INTERVAL_S) finishes the ones nobody touches.

Key: ``{m:MAPPING}`` ``intent`` (hash: op, args (JSON), task). Written and cleared by fenced scripts
under the operation's exclusive locks, so a holder whose lease ran out cannot clear another's intent.

Fault injection (tests only): MMSIM_FAULT_INJECT names a step (``truncate:i_size``, ``truncate:pagecache``,
``punch:pagecache``, ``unlink:name``, ``reflink:invalidate``); the process SIGKILLs itself right after it.
"""

from __future__ import annotations

import json
import os
import signal

import structlog

from mmsim.runtime import keys, locks, tracing
from mmsim.runtime.errors import Unavailable
from mmsim.runtime.lua import Spec, SpecScript

INTENT = SpecScript(Spec("intents", keys=("intent",), args=("action", "op", "args", "task"), replies={"ok": ()}),
                    __file__, fenced=True)
CRASH_POINTS = ("truncate:i_size", "truncate:pagecache", "punch:pagecache", "unlink:name", "reflink:invalidate")

_log = structlog.get_logger("mmsim.intents")


def crash_point(env, name: str) -> None:
    """SIGKILL this process here when MMSIM_FAULT_INJECT names this step (test-only fault injection)."""
    if env.settings.fault_inject == name:
        _log.warning("fault_inject.kill", point=name)
        os.kill(os.getpid(), signal.SIGKILL)


async def begin(env, mapping: str, op: str, **args) -> None:
    """Record ``op(args)`` on ``mapping`` (the caller holds its locks exclusively)."""
    await INTENT(env.redis, intent=locks.intent_key(mapping), action="begin", op=op, args=json.dumps(args),
                 task=locks.task_id(), fence=locks.fence_for(mapping))


async def done(env, mapping: str) -> None:
    await INTENT(env.redis, intent=locks.intent_key(mapping), action="done", op="", args="", task="",
                 fence=locks.fence_for(mapping))


def _decode(raw: dict) -> tuple[str, dict]:
    d = {k.decode(): v.decode() for k, v in raw.items()}
    return d["op"], json.loads(d.get("args") or "{}")


async def recover(env, mapping: str) -> bool:
    """Finish the interrupted operation on ``mapping``, if any (taking its locks). True when one ran."""
    from mmsim.filesystem import reflink, truncate  # noqa: PLC0415 - the operations import this module

    raw = await env.redis.hgetall(locks.intent_key(mapping))
    if not raw:
        return False
    op, args = _decode(raw)
    # A reflink whose source was unlinked and evicted since (its lock knew nothing of the clone) cannot be
    # finished: it is rolled back. Its last step (remap.lua) never ran, so the destination still has its own
    # blocks, written back before its cached range was dropped: the clone simply did not happen.
    gone = op == "reflink" and not await env.redis.exists(keys.mapping(args["src"], "inode"))
    mappings = [mapping, args["src"]] if op == "reflink" and not gone else [mapping]
    async with env.locks.hold_all(mappings, recovering=True):
        raw = await env.redis.hgetall(locks.intent_key(mapping))   # under the locks: still to do?
        if not raw:
            return False
        op, args = _decode(raw)
        if gone:
            await done(env, mapping)
        else:
            redo = {"truncate": truncate.redo_truncate, "punch": truncate.redo_punch,
                    "unlink": truncate.redo_unlink, "reflink": reflink.redo_reflink}[op]
            await redo(env, mapping, args)
    outcome = "rolled_back" if gone else "recovered"
    _log.info(f"intent.{outcome}", mapping=mapping, op=op, args=args)
    tracing.annotate(**{f"intent_{outcome}": f"{op} {mapping}"})
    return True


async def recovery_pass(env) -> int:
    """Finish every interrupted operation of the cluster (two round trips to find them). Returns how many."""
    mappings = sorted(m.decode() for m in await env.redis.smembers(keys.cluster("mappings")))
    if not mappings:
        return 0
    pipe = env.redis.pipeline(transaction=False)
    for m in mappings:
        pipe.exists(locks.intent_key(m))
    pending = [m for m, n in zip(mappings, await pipe.execute()) if n]
    done_, failed = 0, []
    for m in pending:
        try:
            done_ += await recover(env, m)
        except Exception as exc:  # noqa: BLE001 - one mapping's failure must not stop the pass (logged, retried)
            _log.exception("intent.recovery_failed", mapping=m)
            failed.append(f"{m}: {type(exc).__name__}: {exc}")
    if failed:   # say so (Recover answers UNAVAILABLE and its caller retries), rather than report a clean pass
        raise Unavailable(f"{len(failed)} interrupted operation(s) not finished yet, e.g. {failed[0]}; retry "
                          "once every service is reachable")
    return done_
