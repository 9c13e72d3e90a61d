"""Inodes: create, look up, unlink, stat; the per-inode locks (models fs/namei.c, fs/inode.c, fs/stat.c).

An inode lives in the mapping's hash tag ``{m:FS/INO}``:

| key        | type | contents                                                                          |
|------------|------|-----------------------------------------------------------------------------------|
| ``inode``  | hash | fs, ino, path, i_size (bytes), block_size (bytes), profile, nlink, min_order, max_order, policy, indexing, alloc_context, ra_next (pages), ra_order, data_seq, nrpages (page cache's) |
| ``extents``| hash | file block number -> disk block number (absent = hole)                           |

``data_seq`` is bumped by every truncate and hole punch and by every change of the file's blocks (writeback
writing them, mmsim.filesystem.extents.update): a seqcount that a populate reads with the blocks and the page
cache compares when it inserts the folio filled from them (filemap.lua fm_stale). The kernel needs none: it
adds the locked folio to the page cache before it reads into it (filemap_create_folio), so nothing can write
the blocks back from under the read; mmsim reads first and inserts after, and in between a write may insert
a folio, writeback may write it to the blocks and reclaim may evict it clean. XFS's iomap_valid (the data
fork's if_seq) is the same idea for a write's stale block map.

The locks are the kernel's ``inode->i_rwsem`` and ``mapping->invalidate_lock``, in Redis, shared by
every replica (mmsim.runtime.locks, where the lock order is written): Write, Fsync, Truncate,
PunchHole, Reflink and Unlink take i_rwsem exclusive (Read shared); Truncate, PunchHole, Reflink and
Unlink also take invalidate_lock exclusive and Populate takes it shared, so truncation never runs
while a populate is filling the cache, on any replica.
"""

from __future__ import annotations

from dataclasses import dataclass

from mmsim.runtime import keys, locks, profiles
from mmsim.runtime.lua import Spec, SpecScript
from mmsim.runtime.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, require
from mmsim.filesystem import superblock
from mmsim.filesystem.superblock import PAGE_SIZE

MAX_PATH = 4096


@dataclass
class Inode:
    mapping: str
    fs: str
    ino: int
    path: str
    i_size: int
    block_size: int
    profile: profiles.Profile
    nlink: int
    min_order: int
    max_order: int
    ra_next: int
    ra_order: int
    data_seq: int
    nrpages: int

    @property
    def policy(self) -> str:
        return self.profile.populate_policy

    @property
    def eof_pages(self) -> int:
        """Number of page indices below EOF: ceil(i_size / PAGE_SIZE)."""
        return (self.i_size + PAGE_SIZE - 1) // PAGE_SIZE

    @property
    def pages_per_block(self) -> int:
        return self.block_size // PAGE_SIZE

    def key(self, suffix: str) -> str:
        return keys.mapping(self.mapping, suffix)

    def fskey(self, suffix: str) -> str:
        return keys.fs(self.fs, suffix)


def parse_mapping(mapping: str) -> tuple[str, int]:
    """'FS/INO' -> (fs, ino); INVALID_ARGUMENT when malformed."""
    fs, sep, ino = (mapping or "").partition("/")
    require(bool(sep) and ino.isdigit() and bool(fs), f"mapping must be FS/INO (e.g. xfs0/1), got {mapping!r}")
    superblock.check_name(fs)
    return fs, int(ino)


def from_hash(mapping: str, raw: dict) -> Inode:
    d = {k.decode() if isinstance(k, bytes) else k: v.decode() if isinstance(v, bytes) else v for k, v in raw.items()}
    return Inode(
        mapping=mapping, fs=d["fs"], ino=int(d["ino"]), path=d.get("path", ""), i_size=int(d.get("i_size", 0)),
        block_size=int(d["block_size"]), nlink=int(d.get("nlink", 1)),
        profile=profiles.get(d["profile"], **superblock.overrides(d.get("alloc_context", ""), d.get("indexing", ""))),
        min_order=int(d["min_order"]), max_order=int(d["max_order"]), ra_next=int(d.get("ra_next", -1)),
        ra_order=int(d.get("ra_order", 0)), data_seq=int(d.get("data_seq", 0)), nrpages=int(d.get("nrpages", 0)),
    )


def check_live(inode: Inode, allow_unlinked: bool = False) -> Inode:
    if inode.nlink == 0 and not allow_unlinked:
        raise FailedPrecondition(f"{inode.mapping} ({inode.path}) was unlinked; only its existing mappings remain")
    return inode


def from_grant(mapping: str, raw: dict, allow_unlinked: bool = False) -> Inode:
    """The inode read with a lock grant (mmsim.runtime.locks.Locks.hold(load=True))."""
    if not raw:
        raise NotFound(f"no such file {mapping}")
    return check_live(from_hash(mapping, raw), allow_unlinked)


INODE_SET = SpecScript(Spec("inode_set", keys=("inode",), args=("i_size", "bump_seq", "nlink"),
                             replies={"set": (), "gone": ()}), __file__, fenced=True)


async def set_fields(redis, mapping: str, i_size: int | None = None, bump_seq: bool = False,
                     nlink: int | None = None) -> bool:
    """i_size / data_seq / nlink in one fenced script (the caller holds the inode's lock). False: inode gone."""
    r = await INODE_SET(redis, inode=keys.mapping(mapping, "inode"), i_size="" if i_size is None else i_size,
                        bump_seq=int(bump_seq), nlink="" if nlink is None else nlink, fence=locks.fence_for(mapping))
    return r.kind == "set"


async def load(redis, mapping: str, allow_unlinked: bool = False) -> Inode:
    parse_mapping(mapping)
    raw = await redis.hgetall(keys.mapping(mapping, "inode"))
    if not raw:
        raise NotFound(f"no such file {mapping}")
    return check_live(from_hash(mapping, raw), allow_unlinked)


def check_path(path: str) -> None:
    require(bool(path) and path.startswith("/"), f"path must be absolute, got {path!r}")
    require(len(path) <= MAX_PATH, f"path must be at most {MAX_PATH} bytes, got {len(path)}")
    require(path != "/" and not path.endswith("/") and "//" not in path and "\0" not in path,
            f"path must name a file (no empty components, no trailing '/'), got {path!r}")


CREATE = SpecScript(Spec("create", keys=("dir", "inode", "mappings"), args=("path", "ino", "mapping", "*fields"),
                          replies={"created": (), "exists": ()}), __file__)
"""create.lua. KEY dir (the filesystem's path -> ino hash), inode (the new inode's hash), mappings (the
cluster's set of files); ARG path, ino, mapping (FS/INO), fields (the inode's field, value pairs)."""


async def create(redis, fs_name: str, path: str, indexing: str = "") -> Inode:
    """Create a regular file: reserve an inode number, write the inode, then link the name (O_EXCL).

    Crash-safe: the name, the inode and its place in the cluster's mappings are one script (create.lua);
    a crash before it leaves only a skipped inode number. ``indexing`` (multi-order, order-0, hugetlb) overrides the filesystem's for this file."""
    check_path(path)
    sb = await superblock.load(redis, fs_name)
    prof = profiles.get(sb.profile.name, **superblock.overrides(sb.profile.fs_alloc_context, indexing or sb.profile.indexing))
    min_order, max_order = superblock.folio_orders(prof, superblock.block_order(sb.block_size), sb.max_order)
    if await redis.hexists(keys.fs(fs_name, "dir"), path):   # before an inode number is spent on it
        raise AlreadyExists(f"{fs_name}:{path} already exists")
    ino = await redis.hincrby(keys.fs(fs_name, "sb"), "next_ino", 1)
    mapping = f"{fs_name}/{ino}"
    fields = {"fs": fs_name, "ino": ino, "path": path, "i_size": 0, "block_size": sb.block_size,
              "profile": prof.name, "nlink": 1, "min_order": min_order, "max_order": max_order,
              "policy": prof.populate_policy, "ra_next": -1, "ra_order": 0, "data_seq": 0,
              "alloc_context": prof.fs_alloc_context, "indexing": prof.indexing}
    r = await CREATE(redis, dir=keys.fs(fs_name, "dir"), inode=keys.mapping(mapping, "inode"),
                     mappings=keys.cluster("mappings"), path=path, ino=ino, mapping=mapping,
                     fields=[x for kv in fields.items() for x in kv])
    if r.kind == "exists":   # a racing create took the name in between
        raise AlreadyExists(f"{fs_name}:{path} already exists")
    return from_hash(mapping, fields)


async def lookup(redis, fs_name: str, path: str) -> str:
    check_path(path)
    superblock.check_name(fs_name)
    ino = await redis.hget(keys.fs(fs_name, "dir"), path)
    if ino is None:
        raise NotFound(f"no such file {fs_name}:{path}")
    return f"{fs_name}/{int(ino)}"


async def stat(redis, mapping: str) -> tuple[Inode, int, int]:
    """(inode, allocated blocks, blocks shared with another file)."""
    inode = await load(redis, mapping, allow_unlinked=True)
    blocks = [int(b) for b in await redis.hvals(inode.key("extents"))]
    shared = 0
    if blocks:
        refs = await redis.hmget(inode.fskey("blkref"), blocks)
        shared = sum(1 for r in refs if r is not None and int(r) > 1)
    return inode, len(blocks), shared


def require_offset(name: str, value: int) -> None:
    if value < 0:
        raise InvalidArgument(f"{name} must not be negative, got {value}")
