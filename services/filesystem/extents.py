"""The block map (file block -> disk block), block contents and reference counts.

Every change to blocks follows one crash-safe order, each step ONE atomic round trip in ONE hash tag:

1. ``stage`` (``{fs}``, Lua): allocate the new blocks the change needs (holes being filled, shared
   blocks being copied) and write their contents; overwrite in place only blocks this file owns alone.
2. ``link`` (``{m}``, MULTI): point the file's extents at the new blocks / drop extents, with any inode
   fields that change with them (i_size).
3. ``release`` (``{fs}``, Lua): drop one reference from each block the file no longer uses; a block whose
   count reaches zero is deleted (xfs_refcount_decrease_extent + xfs_free_extent).

Every step is a fenced script (mmsim.runtime.lua.Script(fenced=True)): it checks first that the caller still
holds the inode's lock (its fencing token), so a holder whose lease ran out cannot write blocks or
extents another holder now owns. ``stage`` and ``release`` so cross from ``{fs}`` to the lock's ``{m}``
(docs/sharding.md).

A crash between 1 and 2 leaks the new blocks; between 2 and 3 leaves an old block with one reference too
many (never freed). Neither can change what a file reads: a shared block is never written in place, so
data already synced (by fsync) cannot be corrupted by a crash.
"""

from __future__ import annotations

from mmsim.runtime import keys, locks
from mmsim.runtime.lua import Script
from mmsim.filesystem.inode import Inode

# KEYS: sb, blkref. ARGV: blk key prefix, then pairs (disk block or 0 for a new one, contents).
# Returns the disk block of each pair (new numbers for the zeros). New block keys share the {fs} tag.
_STAGE = """
local prefix = ARGV[1]
local out = {}
local new = 0
for i = 2, #ARGV, 2 do
  local b = tonumber(ARGV[i])
  if b == 0 then
    b = redis.call('HINCRBY', KEYS[1], 'next_block', 1)
    redis.call('HSET', KEYS[2], b, 1)
    new = new + 1
  end
  if ARGV[i + 1] == '' then
    redis.call('DEL', prefix .. b)
  else
    redis.call('SET', prefix .. b, ARGV[i + 1])
  end
  out[#out + 1] = b
end
if new > 0 then redis.call('HINCRBY', KEYS[1], 'blocks_used', new) end
return out
"""

# KEYS: sb, blkref, blk:B... ARGV: B... (one per blk key). Returns the number of blocks freed.
_RELEASE = """
local freed = 0
for i = 1, #ARGV do
  local n = redis.call('HINCRBY', KEYS[2], ARGV[i], -1)
  if n <= 0 then
    redis.call('HDEL', KEYS[2], ARGV[i])
    redis.call('DEL', KEYS[i + 2])
    freed = freed + 1
  end
end
if freed > 0 then redis.call('HINCRBY', KEYS[1], 'blocks_used', -freed) end
return freed
"""

# KEYS: extents, inode. ARGV: number of (file block, disk block) pairs, the pairs, number of file blocks to
# drop, those blocks, then inode field/value pairs. Returns 1.
_LINK = """
local n = tonumber(ARGV[1])
local i = 2
for _ = 1, n do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) i = i + 2 end
local d = tonumber(ARGV[i])
i = i + 1
for _ = 1, d do redis.call('HDEL', KEYS[1], ARGV[i]) i = i + 1 end
while i < #ARGV do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) i = i + 2 end
return 1
"""


def blk_key(inode: Inode, block: int) -> str:
    return keys.fs(inode.fs, f"blk:{block}")


async def read_map(redis, inode: Inode, first: int, count: int) -> list[int]:
    """Disk blocks of file blocks [first, first + count) (0 = hole): one HMGET."""
    if count <= 0:
        return []
    raw = await redis.hmget(inode.key("extents"), list(range(first, first + count)))
    return [int(b) if b is not None else 0 for b in raw]


async def read_blocks(redis, inode: Inode, blocks: list[int]) -> dict[int, bytes]:
    """Contents of the given disk blocks (zeros skipped): one MGET."""
    wanted = sorted({b for b in blocks if b})
    if not wanted:
        return {}
    raw = await redis.mget([blk_key(inode, b) for b in wanted])
    return {b: (r or b"") for b, r in zip(wanted, raw)}


async def refcounts(redis, inode: Inode, blocks: list[int]) -> dict[int, int]:
    wanted = sorted({b for b in blocks if b})
    if not wanted:
        return {}
    raw = await redis.hmget(inode.fskey("blkref"), wanted)
    return {b: int(r or 0) for b, r in zip(wanted, raw)}


async def stage(redis, inode: Inode, writes: list[tuple[int, bytes]]) -> list[int]:
    """Step 1: write each (disk block or 0 = allocate, contents); returns the disk blocks written."""
    if not writes:
        return []
    argv: list = [keys.fs(inode.fs, "blk:")]
    for block, data in writes:
        argv += [block, data.rstrip(b"\0")]
    out = await Script.on(redis, _STAGE, fenced=True)([inode.fskey("sb"), inode.fskey("blkref")], argv,
                                                      fence=locks.fence_for(inode.mapping))
    return [int(b) for b in out]


async def link(redis, inode: Inode, set_map: dict[int, int], drop: list[int], fields: dict | None = None) -> None:
    """Step 2: point extents at disk blocks / drop extents, with inode fields, in one script."""
    if not set_map and not drop and not fields:
        return
    argv: list = [len(set_map)]
    for k, v in set_map.items():
        argv += [k, v]
    argv += [len(drop), *drop]
    for k, v in (fields or {}).items():
        argv += [k, v]
    await Script.on(redis, _LINK, fenced=True)([inode.key("extents"), inode.key("inode")], argv,
                                               fence=locks.fence_for(inode.mapping))


async def release(redis, inode: Inode, blocks: list[int]) -> int:
    """Step 3: drop a reference from each block; returns how many were freed."""
    blocks = [b for b in blocks if b]
    if not blocks:
        return 0
    return int(await Script.on(redis, _RELEASE, fenced=True)(
        [inode.fskey("sb"), inode.fskey("blkref"), *[blk_key(inode, b) for b in blocks]], blocks,
        fence=locks.fence_for(inode.mapping)))


def block_bytes(content: bytes, block_size: int) -> bytes:
    """A block's stored bytes padded to block_size (stored short = zero tail)."""
    return content + b"\0" * (block_size - len(content))
