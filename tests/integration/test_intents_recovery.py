"""Resumable operations: the filesystem service is SIGKILLed between two steps of a truncate, a hole punch, an
unlink and a reflink (MMSIM_FAULT_INJECT names the step; the process kills itself right after it), restarted
without the injection, and the interrupted operation is finished: no old byte reappears, the blocks add up,
no intent is left. The dead holder's locks are not released by anyone: their lease (short here) runs out.
"""

from __future__ import annotations

import dataclasses
import secrets
import time

import grpc
import pytest
import redis

from mmsim import errors, stack
from mmsim.client import PAGE_SIZE, Cluster
from mmsim.runtime import keys, locks
from mmsim.v1 import filesystem_pb2

SIZE = 16 * PAGE_SIZE
A = b"A" * SIZE


@pytest.fixture(scope="module")
def crashy(private_stack):
    with private_stack("crash-state", MMSIM_MEMORY="128MiB", MMSIM_LOG_LEVEL="info", MMSIM_LOCK_LEASE_MS="1500",
                       MMSIM_RECOVERY_INTERVAL_S="0") as settings:
        yield settings


def _restart_filesystem(settings, inject: str) -> None:
    stack.services_down(settings, ["filesystem"])
    stack.services_up(dataclasses.replace(settings, fault_inject=inject), ["filesystem"], timeout=60)


def _crash(settings, point: str, call, intent_of: str, cluster: Cluster) -> None:
    """Run ``call`` on a filesystem service that SIGKILLs itself right after step ``point``, check that the
    operation's intent on ``intent_of`` outlived the process, then start a clean service (whose recovery
    pass at start may finish the operation at once) and wait until ``cluster``'s channel to it is ready
    again (it is in gRPC's reconnect backoff since the kill)."""
    _restart_filesystem(settings, point)
    with pytest.raises((grpc.RpcError, errors.Unavailable)) as err:
        call()
    code = err.value.code() if isinstance(err.value, grpc.RpcError) else grpc.StatusCode[err.value.code]
    assert code == grpc.StatusCode.UNAVAILABLE, err.value
    assert redis.Redis.from_url(settings.redis_url).exists(locks.intent_key(intent_of))
    _restart_filesystem(settings, "")
    grpc.channel_ready_future(cluster._channels["filesystem"]).result(timeout=60)


def _until_reachable(call, deadline_s: float = 120.0):
    """``call()`` once the service chain behind it answers: a restarted peer is UNAVAILABLE to the
    filesystem's channel until its reconnect backoff ends (seconds, more on a loaded machine)."""
    end = time.monotonic() + deadline_s
    while True:
        try:
            return call()
        except errors.Unavailable:
            if time.monotonic() > end:
                raise
            time.sleep(0.2)


def _synced_file(c: Cluster, prefix: str, *paths: str):
    """A new filesystem (4 KiB blocks) with a file per path, each holding A, fsynced."""
    fs = c.mkfs(prefix + secrets.token_hex(3), block_size=4096, profile="linux-6.12")
    files = [fs.create(p) for p in paths]
    for f in files:
        f.write(0, A)
        f.fsync()
    return fs, files


def _settled(r: redis.Redis, fs: str, mappings: list[str], blocks: int) -> None:
    """No intent left, and blocks_used = the blocks with a reference count = the blocks the extents point at."""
    assert not any(r.exists(locks.intent_key(m)) for m in mappings)
    used = int(r.hget(keys.fs(fs, "sb"), "blocks_used") or 0)
    refs = {int(b) for b in r.hkeys(keys.fs(fs, "blkref"))}
    pointed = {int(b) for m in mappings for b in r.hvals(keys.mapping(m, "extents"))}
    assert used == len(refs) == len(pointed) == blocks, (used, refs, pointed)


@pytest.mark.parametrize("point", ["truncate:i_size", "truncate:pagecache"])
def test_an_interrupted_truncate_is_finished_and_old_bytes_never_come_back(crashy, point):
    r = redis.Redis.from_url(crashy.redis_url)
    with Cluster.connect(crashy) as c:
        fs, (f,) = _synced_file(c, "c", "/t")
        proc = c.spawn("crash")
        vma = proc.mmap(f, length=SIZE, prot="r", shared=True)
        assert proc.read(vma.start, SIZE) == A                  # every page cached and mapped
        _crash(crashy, point, lambda: f.truncate(PAGE_SIZE), f.mapping, c)
        # the next lock on the file waits out the dead holder's lease, finishes the truncate, then grows it
        f.truncate(SIZE)
        assert f.stat().i_size == SIZE
        assert f.read(0, SIZE) == A[:PAGE_SIZE] + bytes(SIZE - PAGE_SIZE)
        assert proc.read(vma.start, SIZE) == A[:PAGE_SIZE] + bytes(SIZE - PAGE_SIZE)
        _settled(r, fs.name, [f.mapping], 1)


def test_an_interrupted_punch_is_finished(crashy):
    r = redis.Redis.from_url(crashy.redis_url)
    with Cluster.connect(crashy) as c:
        fs, (f,) = _synced_file(c, "p", "/p")
        _crash(crashy, "punch:pagecache", lambda: c.call("filesystem", "PunchHole", filesystem_pb2.PunchHoleRequest(
            mapping=f.mapping, offset=PAGE_SIZE, length=4 * PAGE_SIZE)), f.mapping, c)
        assert f.read(0, SIZE) == A[:PAGE_SIZE] + bytes(4 * PAGE_SIZE) + A[5 * PAGE_SIZE:]
        _settled(r, fs.name, [f.mapping], 12)


def test_an_interrupted_unlink_is_finished(crashy):
    r = redis.Redis.from_url(crashy.redis_url)
    with Cluster.connect(crashy) as c:
        fs, (f,) = _synced_file(c, "u", "/u")
        _crash(crashy, "unlink:name", lambda: c.call("filesystem", "Unlink", filesystem_pb2.UnlinkRequest(fs=fs.name, path="/u")),
               f.mapping, c)
        with pytest.raises(errors.NotFound):                    # the lock's acquirer finishes the unlink first
            f.read(0, 1)
        assert not r.exists(keys.mapping(f.mapping, "inode"))
        _settled(r, fs.name, [f.mapping], 0)


def test_an_interrupted_reflink_is_finished(crashy):
    r = redis.Redis.from_url(crashy.redis_url)
    with Cluster.connect(crashy) as c:
        fs, (src, dst) = _synced_file(c, "r", "/src", "/dst")
        dst.write(0, b"B" * SIZE)
        dst.fsync()
        _crash(crashy, "reflink:invalidate", lambda: src.reflink(dst, 0, 0, 8 * PAGE_SIZE), dst.mapping, c)
        assert dst.read(0, SIZE) == A[:8 * PAGE_SIZE] + b"B" * (8 * PAGE_SIZE)
        _settled(r, fs.name, [src.mapping, dst.mapping], 24)
        assert dst.stat().shared_blocks == 8


def test_a_reflink_whose_source_is_gone_is_rolled_back(crashy):
    """A reflink that stopped half-way (here: the page cache was down, so its first step failed and the
    filesystem released its locks with the intent still on the destination) and whose source was unlinked
    and evicted before anyone recovered it cannot be finished: it is rolled back. The destination keeps
    its own bytes and blocks, and it is not wedged (every lock on it runs the recovery first)."""
    r = redis.Redis.from_url(crashy.redis_url)
    with Cluster.connect(crashy) as c:
        fs, (src, dst) = _synced_file(c, "g", "/src", "/dst")
        dst.write(0, b"B" * SIZE)
        dst.fsync()
        stack.services_down(crashy, ["pagecache"])
        try:
            with pytest.raises(errors.Unavailable):
                src.reflink(dst, 0, 0, 8 * PAGE_SIZE)
            assert r.exists(locks.intent_key(dst.mapping))
        finally:
            stack.services_up(crashy, ["pagecache"], timeout=60)
        _until_reachable(lambda: src.read(0, 4))   # the filesystem's channel to the new page cache is up again
        assert not src.unlink().orphaned                       # the source's lock knows nothing of the clone
        assert dst.read(0, SIZE) == b"B" * SIZE                # the clone did not happen
        _settled(r, fs.name, [dst.mapping], 16)
        assert dst.stat().shared_blocks == 0
