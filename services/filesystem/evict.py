"""Orphan inodes and their eviction (models fs/inode.c iput_final / evict, fs/namei.c vfs_unlink and the
orphan list ext4 and XFS keep for unlinked-but-open inodes).

An inode unlinked while some VMA maps it (``{m:FS/INO}:i_mmap`` not empty) becomes an orphan: nlink 0,
no name, still readable and writable through its mappings, and a member of ``{fs:FS}:orphans``. The
reverse map's unmap scripts (munmap, exit, a kill) remove VMAs from i_mmap; the one that empties the
i_mmap of an inode with nlink 0 names it in its reply, and the reverse map then calls
FilesystemService.EvictInode. New mmaps of an unlinked inode are refused, so once i_mmap is empty it
stays empty.

Crash safety: the orphan list is the durable record. An orphan whose i_mmap is empty is an eviction
that is due, whatever crashed in between; eviction is idempotent and resumable:

1. TruncateRange(0, EOF) on the page cache (frees the folios; again = nothing to do),
2. one script (evict.lua): the blocks lose their reference, the inode and its block map go, the orphan
   list loses it.

``EvictInode`` first finishes any due eviction of the filesystem's orphan list, so an eviction interrupted
by a crash (of the reverse map before its call, or of this service inside it) completes at the next one;
calling it again for the same inode is always safe.

Counters (node 0 vmstat): ``mmsim_orphan_inodes`` (orphans now) and ``mmsim_orphan_evictions`` (orphans
evicted since boot).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from mmsim.filesystem.inode import parse_mapping
from mmsim.runtime import keys, locks
from mmsim.runtime.errors import NotFound
from mmsim.runtime.lua import Spec, SpecScript, source

EVICT = SpecScript(Spec("evict", keys=("inode", "extents", "i_mmap", "orphans", "mappings", "sb", "blkref", "vmstat",
                                   "intent"), args=("prefix", "mapping"), replies={
    "gone": (), "linked": (), "mapped": ("vmas:int",), "evicted": ("freed:int", "orphan:int")}),
    __file__, source(__file__, "blocks"), fenced=True)
UNLINK_INODE = SpecScript(Spec("unlink_inode", keys=("inode", "i_mmap", "orphans", "vmstat"), args=("mapping",),
                                replies={"orphaned": (), "unmapped": ()}), __file__, fenced=True)


@dataclass
class EvictStats:
    evicted: bool = False
    blocks_freed: int = 0
    pages_freed: int = 0


def orphans_key(fs_name: str) -> str:
    return keys.fs(fs_name, "orphans")


async def count(redis, fs_name: str) -> int:
    """The filesystem's orphan inodes right now (the length of its orphan list)."""
    return int(await redis.scard(orphans_key(fs_name)))


async def drop_nlink(redis, mapping: str) -> bool:
    """vfs_unlink's drop_nlink + the orphan-list insert, in one step (caller holds the inode's locks): True
    when VMAs keep the inode alive."""
    fs_name, _ = parse_mapping(mapping)
    r = await UNLINK_INODE(redis, inode=keys.mapping(mapping, "inode"), i_mmap=keys.mapping(mapping, "i_mmap"),
                           orphans=orphans_key(fs_name), vmstat=keys.node(0, "vmstat"), mapping=mapping,
                           fence=locks.fence_for(mapping))
    return r.kind == "orphaned"


async def evict_locked(env, mapping: str) -> EvictStats:
    """evict() of an unlinked, unmapped inode (caller holds its i_rwsem and invalidate_lock exclusively: the
    last step is fenced by them); a linked, mapped or already evicted inode is left as it is."""
    fs_name, _ = parse_mapping(mapping)
    redis = env.redis
    if await redis.hget(keys.mapping(mapping, "inode"), "nlink") != b"0" or await redis.zcard(keys.mapping(mapping, "i_mmap")):
        return EvictStats()
    cache = await env.ports.truncate_range(mapping, 0, None)
    r = await EVICT(redis, inode=keys.mapping(mapping, "inode"), extents=keys.mapping(mapping, "extents"),
                    i_mmap=keys.mapping(mapping, "i_mmap"), orphans=orphans_key(fs_name),
                    mappings=keys.cluster("mappings"), sb=keys.fs(fs_name, "sb"), blkref=keys.fs(fs_name, "blkref"),
                    vmstat=keys.node(0, "vmstat"), intent=locks.intent_key(mapping), prefix=keys.fs(fs_name, "blk:"),
                    mapping=mapping, fence=locks.fence_for(mapping))
    if r.kind != "evicted":
        return EvictStats()
    return EvictStats(True, r.freed, cache["pages_freed"])


async def evict(env, mapping: str) -> EvictStats:
    """EvictInode: evict ``mapping`` if it is due, after finishing any other due eviction of its filesystem."""
    fs_name, _ = parse_mapping(mapping)
    await evict_due(env, fs_name, skip=mapping)
    try:
        async with env.locks.hold_all([mapping]):
            return await evict_locked(env, mapping)
    except NotFound:   # evicted already (by a call that got there first): nothing to do, as evict_locked says
        return EvictStats()


async def evict_due(env, fs_name: str, skip: str = "") -> None:
    """Finish the evictions a crash interrupted: orphans of ``fs_name`` that nothing maps any more."""
    members = [m.decode() for m in await env.redis.smembers(orphans_key(fs_name))]
    pipe = env.redis.pipeline(transaction=False)
    for m in members:
        pipe.zcard(keys.mapping(m, "i_mmap"))
    for m, mapped in zip(members, await pipe.execute()):
        if m != skip and not mapped:
            with contextlib.suppress(NotFound):   # another eviction got there first
                async with env.locks.hold_all([m]):
                    await evict_locked(env, m)
