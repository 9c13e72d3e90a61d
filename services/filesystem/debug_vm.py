"""The filesystem's consistency check (in the manner of xfs_repair -n / e2fsck -n, served as a Check domain).

For every filesystem of ``{cluster}:filesystems``: the reference count of each disk block (``{fs}:blkref``,
xfs's refcount btree) equals the extents pointing at it over all the filesystem's files, and ``blocks_used``
in the superblock equals the blocks with a reference. For every file: once unlinked (nlink 0) and mapped by no
VMA (empty ``i_mmap``), it must have been evicted (iput -> evict: page cache, blocks and inode freed). Rules:
``block_refcount`` (a block's count differs from its extents: a leaked staged block, or a block still
referenced after its count reached zero), ``blocks_used`` and ``unlinked_file_not_freed``.
"""

from __future__ import annotations

from collections import Counter

from mmsim.runtime import keys


async def check(redis, report) -> None:
    mappings: dict[str, list[str]] = {}
    async for raw in redis.sscan_iter(keys.cluster("mappings"), count=200):
        m = raw.decode()
        mappings.setdefault(m.rsplit("/", 1)[0], []).append(m)
    async for raw in redis.sscan_iter(keys.cluster("filesystems"), count=200):
        await _filesystem(redis, raw.decode(), mappings.get(raw.decode(), []), report)


async def _filesystem(redis, fs: str, files: list[str], report) -> None:
    refs: Counter = Counter()
    for m in files:
        pipe = redis.pipeline(transaction=False)
        pipe.hmget(keys.mapping(m, "inode"), "nlink")
        pipe.zcard(keys.mapping(m, "i_mmap"))
        (nlink,), mapped = await pipe.execute()
        if nlink is not None and int(nlink) == 0 and mapped == 0:
            report.add("unlinked_file_not_freed", f"{m} is unlinked and mapped by no VMA, but its inode, page cache "
                       "and blocks are still there (evict did not run)", key=keys.mapping(m, "inode"))
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
