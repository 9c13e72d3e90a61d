"""Orphan inodes over the real stack (fs/namei.c vfs_unlink, fs/inode.c iput_final / evict): a file
unlinked while mapped lives on through its mappings; its last munmap or exit frees its folios (back to
the buddy allocator) and its blocks; the orphans are counted in Stat and /proc/vmstat."""

from __future__ import annotations

import asyncio
import secrets
import threading

import grpc
import pytest
import redis

from mmsim import errors
from mmsim.filesystem import evict, ports
from mmsim.filesystem.env import Env
from mmsim.runtime import keys, peers, redis_client
from mmsim.v1 import filesystem_pb2 as fs_pb
from mmsim.v1 import reverse_map_pb2 as rm

PAGE = 4096


@pytest.fixture()
def db(stack_settings):
    client = redis.Redis.from_url(stack_settings.redis_url)
    yield client
    client.close()


def _blocks_used(db, fs_name: str) -> int:
    return int(db.hget(keys.fs(fs_name, "sb"), "blocks_used") or 0)


def _free_and_cached(mm) -> tuple[int, int, int]:
    v = mm.vmstat()
    return v["nr_free_pages"], v["nr_file_pages"], v["nr_dirty"]


def _status(err) -> grpc.StatusCode:
    return err.value.code()


@pytest.mark.parametrize("last", ["munmap", "exit"])
@pytest.mark.parametrize("block_size", [4096, 16384])
def test_an_unlinked_mapped_file_lives_until_its_last_unmap(mm, db, last, block_size):
    fs = mm.mkfs("o" + secrets.token_hex(4), block_size=block_size)
    start = _free_and_cached(mm)
    orphans0 = mm.vmstat().get("mmsim_orphan_inodes", 0)
    evictions0 = mm.vmstat().get("mmsim_orphan_evictions", 0)
    f = fs.create("/orphan")
    f.write(0, b"o" * 64 * 1024)
    f.fsync()
    f.fadvise_dontneed()
    assert _blocks_used(db, fs.name) == 64 * 1024 // block_size
    a, b = mm.spawn("orph-a"), mm.spawn("orph-b")
    va = a.mmap(f, 64 * 1024, prot="rw", shared=True)
    vb = b.mmap(f, 64 * 1024, prot="r", shared=True)
    assert b.read(vb.start + 8 * PAGE, 2) == b"oo"

    un = f.unlink()
    assert un.orphaned and un.blocks_freed == 0
    st = f.stat()
    assert st.nlink == 0 and st.orphan and st.fs_orphans == 1
    assert mm.vmstat()["mmsim_orphan_inodes"] == orphans0 + 1
    # still usable through its mappings, shared between the two processes
    assert a.write_memory(va.start + 8 * PAGE, b"alive").written == 5
    assert b.read(vb.start + 8 * PAGE, 5) == b"alive"
    assert b.read(vb.start + 15 * PAGE, 2) == b"oo" and a.read(va.start, 2) == b"oo"   # faults populate it
    # but no new way in: no name, no read(2), no new mmap
    with pytest.raises(errors.FailedPrecondition):
        f.read(0, 1)
    with pytest.raises(errors.FailedPrecondition, match="unlinked"):
        a.mmap(f, PAGE)

    b.exit()                                        # not the last mapping: nothing freed yet
    assert f.stat().orphan and _blocks_used(db, fs.name) > 0
    if last == "munmap":
        a.munmap(va.start, va.length)
    else:
        a.exit()
    with pytest.raises(errors.NotFound):
        f.stat()
    assert _blocks_used(db, fs.name) == 0 and not db.hlen(keys.fs(fs.name, "blkref"))
    assert _free_and_cached(mm) == start            # every folio back in the buddy lists, none dirty
    v = mm.vmstat()
    assert v["mmsim_orphan_inodes"] == orphans0 and v["mmsim_orphan_evictions"] == evictions0 + 1
    if last == "munmap":
        a.exit()


def test_unlink_of_an_unmapped_file_frees_it_at_once(mm, db):
    fs = mm.mkfs("o" + secrets.token_hex(4))
    start = _free_and_cached(mm)
    f = fs.create("/gone")
    f.write(0, b"g" * 3 * PAGE)
    f.fsync()
    p = mm.spawn("gone")
    v = p.mmap(f, 3 * PAGE)
    p.read(v.start, 3 * PAGE)
    p.munmap(v.start, v.length)                     # unmapped before the unlink
    un = f.unlink()
    assert not un.orphaned and un.blocks_freed == 3
    assert _free_and_cached(mm) == start and _blocks_used(db, fs.name) == 0
    p.exit()


def test_eviction_is_idempotent_and_finishes_an_interrupted_one(mm, db, stack_settings):
    """A crash after the last unmap and before the eviction leaves an orphan nothing maps: the next
    EvictInode of the filesystem finishes it; asking again for a gone or linked inode changes nothing."""
    fs = mm.mkfs("o" + secrets.token_hex(4))
    start = _free_and_cached(mm)
    stuck, other = fs.create("/stuck"), fs.create("/other")
    for f in (stuck, other):
        f.write(0, b"s" * 2 * PAGE)
    p = mm.spawn("crash")
    vs, vo = p.mmap(stuck, 2 * PAGE), p.mmap(other, 2 * PAGE)
    p.read(vs.start, 2 * PAGE)
    assert stuck.unlink().orphaned and other.unlink().orphaned
    # the reverse map "crashed" after its unmap step: the VMA left i_mmap, no eviction was asked for
    db.zrem(keys.mapping(stuck.mapping, "i_mmap"), f"{p.pid}:{vs.start}")
    assert stuck.stat().fs_orphans == 2
    p.munmap(vo.start, vo.length)                   # the last unmap of /other: its eviction runs...
    with pytest.raises(errors.NotFound):            # ...and finishes /stuck's first
        stuck.stat()
    again = mm.call("filesystem", "EvictInode", fs_pb.EvictInodeRequest(mapping=stuck.mapping))
    assert not again.evicted
    linked = fs.create("/linked")
    linked.write(0, b"l")
    assert not mm.call("filesystem", "EvictInode", fs_pb.EvictInodeRequest(mapping=linked.mapping)).evicted
    assert linked.read(0, 1) == b"l"
    linked.unlink()
    p.exit()
    assert _free_and_cached(mm) == start and _blocks_used(db, fs.name) == 0
    mc = mm.call("rmap", "ProcMaps", rm.ProcMapsRequest(pid=mm.spawn("alive").pid))
    assert not mc.lines


def test_a_killed_process_releases_the_orphan_it_was_the_last_to_map(mm, db):
    """The mapcount-limit kill tears the mm down like exit_mmap: an orphan it was the last to map is evicted."""
    fs = mm.mkfs("o" + secrets.token_hex(4))
    start = _free_and_cached(mm)
    f = fs.create("/killed")
    f.write(0, b"k" * PAGE)
    pid = mm.call("rmap", "Spawn", rm.SpawnRequest(comm="killme", mapcount_limit=1,
                                                    mapcount_action=rm.MAPCOUNT_ACTION_KILL)).pid  # fmt: skip
    starts = [mm.call("rmap", "Mmap", rm.MmapRequest(pid=pid, mapping=f.mapping, length=PAGE, prot=[rm.PROT_READ],
                                                      shared=True)).start for _ in range(2)]  # fmt: skip
    mm.call("rmap", "HandleFault", rm.HandleFaultRequest(pid=pid, address=starts[0]))
    assert f.unlink().orphaned
    with pytest.raises(grpc.RpcError) as err:
        mm.call("rmap", "HandleFault", rm.HandleFaultRequest(pid=pid, address=starts[1]))
    assert _status(err) == grpc.StatusCode.FAILED_PRECONDITION and "killed" in err.value.details()
    with pytest.raises(errors.NotFound):
        f.stat()
    mm.call("rmap", "Exit", rm.ExitRequest(pid=pid))
    assert _free_and_cached(mm) == start and _blocks_used(db, fs.name) == 0


def test_check_waits_for_an_eviction_in_flight_and_flags_one_that_never_ends(mm, stack_settings):
    """Between evict's two steps (page cache truncated, evict script not yet run) an inode is unlinked and
    unmapped but still there. `mmsim check` must not call that a leak while the eviction holds the inode's
    locks: it judges such an inode again under its locks. Here the test process is the evicting replica (the
    real filesystem modules, on the stack's Redis and services): the check is seen waiting for its lock (its
    waiter registration in the lock's hash), the eviction ends, and the check finds nothing. An inode left
    unlinked and unmapped by a holder that let go without evicting is still flagged."""
    fs = mm.mkfs("o" + secrets.token_hex(4))
    f = fs.create("/inflight")
    f.write(0, b"i" * 3 * PAGE)
    rwsem = keys.mapping(f.mapping, "lock:i_rwsem")

    def flagged(report) -> list:
        return [v for v in report.violations if v.rule == "unlinked_file_not_freed" and f.mapping in v.message]

    async def as_replica(finish: bool) -> list:
        r, via = redis_client.connect(stack_settings.redis_url), peers.Peers(stack_settings, "test-replica")
        env = Env(r, ports.GrpcPorts(via), settings=stack_settings)
        report: list = []
        async with env.locks.hold_all([f.mapping]):
            await evict.drop_nlink(r, f.mapping)          # unlinked; nothing maps it: evict is due
            checker = threading.Thread(target=lambda: report.append(mm.check()))
            checker.start()
            for _ in range(600):                          # until the check waits for our i_rwsem
                if any(k.startswith(b"rw:") for k in await r.hkeys(rwsem)):
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the check never waited for the inode's lock")
            if finish:
                await evict.evict_locked(env, f.mapping)
        await asyncio.to_thread(checker.join)
        await via.close()
        await r.aclose()
        return flagged(report[0])

    assert len(asyncio.run(as_replica(finish=False))) == 1      # let go without evicting: a leak, reported
    assert asyncio.run(as_replica(finish=True)) == []           # evicted while the check waited: nothing
    with pytest.raises(errors.NotFound):
        f.stat()
