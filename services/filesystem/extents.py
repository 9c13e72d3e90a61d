"""The block map (file block -> disk block), block contents and reference counts.

Every change to a file's blocks is ONE fenced script (extents.lua, :func:`update`): the new block images
are written (in place for blocks this file owns alone, into new blocks for holes and for shared blocks:
copy on write), the extents point at them or are dropped with the inode fields that change with them
(i_size), and the blocks the file no longer uses lose one reference (freed at zero:
xfs_refcount_decrease_extent + xfs_free_extent). A crash leaves the old blocks or the new ones, never a
leaked block or one with a reference too many (fsck's view, `mmsim check`'s ``block_refcount`` rule), and a
shared block is never written in place, so data already synced cannot be corrupted by a crash.

The script is fenced (mmsim.runtime.lua.SpecScript(fenced=True)): it checks first that the caller still holds
the inode's lock (its fencing token), so a holder whose lease ran out cannot write blocks or extents another
holder now owns. It crosses the ``{fs}`` tag (blocks, refcounts) and the ``{m}`` tag (extents, inode):
docs/sharding.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mmsim.runtime import keys, locks
from mmsim.runtime.lua import Spec, SpecScript, source
from mmsim.filesystem.inode import Inode

UPDATE = SpecScript(Spec("extents", keys=("sb", "blkref", "extents", "inode"),
                         args=("prefix", "writes", "drops", "releases", "*items"),
                         replies={"updated": ("freed:int", "*written:int")}), __file__, source(__file__, "blocks"),
                    fenced=True)
"""extents.lua. KEY sb, blkref (the filesystem's), extents, inode (the file's); ARG prefix (the block key
prefix), the counts of ``BlockUpdate.writes``, ``drop`` and ``release``, and items (``BlockUpdate.items``)."""


@dataclass
class BlockUpdate:
    """The arguments of extents.lua (UPDATE), by name.

    ``writes``: (disk block, or 0 to allocate one; file block it is mapped at; the block's image) — a new
    block is linked at its file block, a block written in place keeps its extent. ``drop``: file blocks whose
    extents go. ``release``: disk blocks that lose one reference. ``fields``: inode fields to set."""

    writes: list[tuple[int, int, bytes]] = field(default_factory=list)
    drop: list[int] = field(default_factory=list)
    release: list[int] = field(default_factory=list)
    fields: dict = field(default_factory=dict)

    def args(self, prefix: str) -> dict:
        """UPDATE's ARG: the counts, and items: the writes' triples, the drops, the releases, the field pairs."""
        items: list = []
        for block, fb, data in self.writes:
            items += [block, fb, data.rstrip(b"\0")]
        release = [b for b in self.release if b]
        items += [*self.drop, *release]
        for k, v in self.fields.items():
            items += [k, v]
        return {"prefix": prefix, "writes": len(self.writes), "drops": len(self.drop), "releases": len(release),
                "items": items}


@dataclass
class BlockUpdateResult:
    freed: int            # blocks whose last reference went
    written: list[int]    # the disk block written for each of ``writes``, in order


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


async def update(redis, inode: Inode, change: BlockUpdate) -> BlockUpdateResult:
    """Apply ``change`` to ``inode``'s blocks in one fenced step (extents.lua)."""
    if not (change.writes or change.drop or any(change.release) or change.fields):
        return BlockUpdateResult(0, [])
    r = await UPDATE(redis, sb=inode.fskey("sb"), blkref=inode.fskey("blkref"), extents=inode.key("extents"),
                     inode=inode.key("inode"), **change.args(keys.fs(inode.fs, "blk:")), fence=locks.fence_for(inode.mapping))
    return BlockUpdateResult(r.freed, r.written)


def block_bytes(content: bytes, block_size: int) -> bytes:
    """A block's stored bytes padded to block_size (stored short = zero tail)."""
    return content + b"\0" * (block_size - len(content))
