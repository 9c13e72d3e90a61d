"""The filesystem's consistency check (in the manner of xfs_repair -n / e2fsck -n, served as a Check domain).

For every filesystem of ``{cluster}:filesystems``: the reference count of each disk block (``{fs}:blkref``,
xfs's refcount btree) equals the extents pointing at it over all the filesystem's files, and ``blocks_used``
in the superblock equals the blocks with a reference. For every file: once unlinked (nlink 0) and mapped by no
VMA (empty ``i_mmap``), it must have been evicted (iput -> evict: page cache, blocks and inode freed). Rules:
``block_refcount`` (a block's count differs from its extents: a leaked staged block, or a block still
referenced after its count reached zero), ``blocks_used`` and ``unlinked_file_not_freed``.

An unlinked, unmapped inode is also what an eviction in flight looks like between its two steps (the page
cache truncated, the evict script not yet run), so such a candidate is judged again under its inode's locks
(shared: evict holds them exclusively): the check waits for that eviction to end, and a lock whose holder
died is first recovered as every acquirer recovers it (the unlink's intent is finished). Only an inode still
unlinked and unmapped then is a violation.
"""

from __future__ import annotations

import contextlib
from collections import Counter

from mmsim.runtime import keys, locks
from mmsim.runtime.errors import NotFound


async def check(env, report) -> None:
    redis = env.redis
    mappings: dict[str, list[str]] = {}
    async for raw in redis.sscan_iter(keys.cluster("mappings"), count=200):
        m = raw.decode()
        mappings.setdefault(m.rsplit("/", 1)[0], []).append(m)
    async for raw in redis.sscan_iter(keys.cluster("filesystems"), count=200):
        await _filesystem(env, raw.decode(), mappings.get(raw.decode(), []), report)


async def _unlinked_unmapped(redis, m: str) -> str | None:
    """What is left of ``m`` when it is unlinked and unmapped (None otherwise): its cached pages, whether
    it is on its filesystem's orphan list, and the interrupted operation recorded on it, if any."""
    pipe = redis.pipeline(transaction=False)
    pipe.hmget(keys.mapping(m, "inode"), "nlink", "nrpages")
    pipe.zcard(keys.mapping(m, "i_mmap"))
    pipe.sismember(keys.fs(m.rsplit("/", 1)[0], "orphans"), m)
    pipe.hget(locks.intent_key(m), "op")
    (nlink, nrpages), mapped, orphan, intent = await pipe.execute()
    if nlink is None or int(nlink) != 0 or mapped:
        return None
    return (f"{int(nrpages or 0)} page(s) still cached, {'on' if orphan else 'not on'} the orphan list, "
            f"intent {intent.decode() if intent else 'none'}")


async def _not_freed(env, m: str) -> str | None:
    """What is left of ``m`` when it is unlinked and unmapped once no eviction of it is in flight (see the
    module's doc), else None."""
    if not await _unlinked_unmapped(env.redis, m):
        return None
    with contextlib.suppress(NotFound):   # evicted while we waited: freed
        async with env.locks.hold_all([m], mode=locks.READ):
            return await _unlinked_unmapped(env.redis, m)
    return None


async def _filesystem(env, fs: str, files: list[str], report) -> None:
    redis = env.redis
    refs: Counter = Counter()
    for m in files:
        left = await _not_freed(env, m)
        if left:
            report.add("unlinked_file_not_freed", f"{m} is unlinked and mapped by no VMA, but its inode and blocks "
                       f"are still there (evict did not run): {left}", key=keys.mapping(m, "inode"))
        async for _fb, disk in redis.hscan_iter(keys.mapping(m, "extents"), count=1000):
            refs[int(disk)] += 1
        report.checked["files"] += 1
    blkref_key = keys.fs(fs, "blkref")
    counted: dict[int, int] = {}
    async for b, n in redis.hscan_iter(blkref_key, count=1000):
        counted[int(b)] = int(n)
    for b in sorted(set(refs) | set(counted)):
        if refs.get(b, 0) != counted.get(b, 0):
            report.add("block_refcount", f"{fs}: disk block {b} has refcount {counted.get(b, 0)}, {refs.get(b, 0)} "
                       "extent(s) point at it", key=blkref_key)
    used = int(await redis.hget(keys.fs(fs, "sb"), "blocks_used") or 0)
    live = sum(1 for n in counted.values() if n > 0)
    if used != live:
        report.add("blocks_used", f"{fs}: superblock blocks_used = {used}, {live} blocks have a reference",
                   key=keys.fs(fs, "sb"))
    report.checked["blocks"] += len(counted)
    report.checked["filesystems"] += 1
