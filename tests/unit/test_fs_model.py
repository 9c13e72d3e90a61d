"""Data integrity against a bytes model: random writes, truncates, punches, reflinks and fsyncs, read back
through Read and through faults (populate), at block sizes 4K, 16K and 64K; crash safety of writeback."""

from __future__ import annotations

import random

import pytest

from mmsim.filesystem import fileio, inode, reflink, superblock, truncate, writeback
from mmsim.runtime import keys

from test_fs_fakes import make_env

PAGE = 4096


async def _check(env, ports, m, model: bytearray, via_faults: bool):
    got = await fileio.read(env, m, 0, len(model) + 10000)
    assert got == bytes(model)
    if via_faults:
        for idx in range(-(-len(model) // PAGE)):
            page = await ports.fault_read(env, m, idx)
            assert page == bytes(model[idx * PAGE:(idx + 1) * PAGE]).ljust(PAGE, b"\0"), idx


@pytest.mark.parametrize("profile", ["lsfmm2018", "linux-6.12"])
@pytest.mark.parametrize("bs", [4096, 16384, 65536])
async def test_random_ops_match_a_bytes_model(aredis, bs, profile):
    rng = random.Random(bs * 31 + len(profile))
    env, ports = make_env(aredis)
    await superblock.mkfs(aredis, "m", bs, profile, None, "lsfmm2018")
    files = [(await inode.create(aredis, "m", f"/f{i}")).mapping for i in range(2)]
    model = {m: bytearray() for m in files}
    limit = 6 * bs + 5000
    hist = []
    for step in range(60):
        op = rng.choice(["write", "write", "write", "truncate", "punch", "fsync", "reflink", "drop", "fault"])
        m = rng.choice(files)
        mod = model[m]
        if op == "write":
            off = rng.randrange(0, limit)
            data = bytes(rng.randrange(1, 256) for _ in range(rng.randrange(1, 3 * bs)))
            await fileio.write(env, m, off, data)
            if off > len(mod):
                mod.extend(bytes(off - len(mod)))
            mod[off:off + len(data)] = data
        elif op == "truncate":
            size = rng.randrange(0, limit)
            await truncate.truncate(env, m, size)
            del mod[size:]
            mod.extend(bytes(size - len(mod)))
        elif op == "punch" and mod:
            off = rng.randrange(0, len(mod))
            ln = rng.randrange(1, 2 * bs)
            await truncate.punch_hole(env, m, off, ln)
            end = min(off + ln, len(mod))
            mod[off:end] = bytes(end - off)
        elif op == "fsync":
            await writeback.fsync(env, m)
        elif op == "reflink":
            src, dst = files[0], files[1]
            s, d = model[src], model[dst]
            nblk_src = len(s) // bs
            if nblk_src == 0:
                continue
            so = rng.randrange(0, nblk_src) * bs
            ln = rng.randrange(1, nblk_src - so // bs + 1) * bs
            do = rng.randrange(0, limit // bs) * bs
            await reflink.reflink(env, src, so, dst, do, ln)
            if do > len(d):
                d.extend(bytes(do - len(d)))
            d[do:do + ln] = s[so:so + ln]
        elif op == "drop":
            for f in files:
                await writeback.fsync(env, f)
            await ports.drop_cache()
        hist.append((step, op, m))
        try:
            await _check(env, ports, m, mod, via_faults=(op in ("fault", "drop") or step % 15 == 0))
        except AssertionError:
            print(hist)
            raise
    for f in files:
        await writeback.fsync(env, f)
    await ports.drop_cache()
    for f in files:
        await _check(env, ports, f, model[f], via_faults=True)
    # no block leaked: every block in use is referenced by as many extents as its refcount says
    refs: dict[int, int] = {}
    for f in files:
        for b in await aredis.hvals(keys.mapping(f, "extents")):
            refs[int(b)] = refs.get(int(b), 0) + 1
    stored = {int(k): int(v) for k, v in (await aredis.hgetall(keys.fs("m", "blkref"))).items()}
    assert stored == refs
    assert int(await aredis.hget(keys.fs("m", "sb"), "blocks_used")) == len(refs)
    assert set(ports.live) == ports.cached_pfns()


async def test_reflink_shares_blocks_and_a_write_copies_on_fsync(aredis):
    env, ports = make_env(aredis)
    await superblock.mkfs(aredis, "r", 16384, "linux-6.12", None, "lsfmm2018")
    a = (await inode.create(aredis, "r", "/a")).mapping
    b = (await inode.create(aredis, "r", "/b")).mapping
    await fileio.write(env, a, 0, b"A" * 65536)
    st = await reflink.reflink(env, a, 0, b, 0, 0)
    assert st.blocks_shared == 4 and st.i_size == 65536
    _, blocks, shared = await inode.stat(aredis, b)
    assert blocks == 4 and shared == 4
    await fileio.write(env, b, 16384, b"B" * 100)
    wb = await writeback.fsync(env, b)
    assert wb.blocks_cowed == 1
    assert await fileio.read(env, a, 0, 65536) == b"A" * 65536
    assert (await fileio.read(env, b, 16384, 200)) == b"B" * 100 + b"A" * 100
    _, _, shared = await inode.stat(aredis, a)
    assert shared == 3


async def test_a_crash_during_writeback_never_corrupts_synced_data(aredis):
    env, ports = make_env(aredis)
    await superblock.mkfs(aredis, "c", 4096, "lsfmm2018", None, "lsfmm2018")
    a = (await inode.create(aredis, "c", "/a")).mapping
    b = (await inode.create(aredis, "c", "/b")).mapping
    await fileio.write(env, a, 0, b"1" * 8192)
    await writeback.fsync(env, a)
    await reflink.reflink(env, a, 0, b, 0, 0)
    await fileio.write(env, b, 0, b"2" * 8192)      # unsynced overwrite of shared blocks
    with pytest.raises(RuntimeError, match="injected"):
        await writeback.writeback_locked(env, b, crash_before_blocks=True)
    await ports.drop_cache_after_crash() if hasattr(ports, "drop_cache_after_crash") else None
    ports.cache.clear()   # the crashed "machine" loses its page cache
    assert await fileio.read(env, a, 0, 8192) == b"1" * 8192
    assert await fileio.read(env, b, 0, 8192) == b"1" * 8192   # the unsynced write is lost, not torn
    sb = await aredis.hgetall(keys.fs("c", "sb"))
    refs = await aredis.hgetall(keys.fs("c", "blkref"))
    assert int(sb[b"blocks_used"]) == len(refs) == 2              # no block leaked, none over-referenced


async def test_the_next_writeback_writes_what_a_crashed_one_left_clean(aredis):
    """A writeback killed after folio_clear_dirty_for_io leaves clean folios tagged WRITEBACK whose bytes are
    not on disk; the page cache survives (it is in Redis, not in the dead process), so the next fsync must
    write them, or a later eviction would lose an acknowledged write."""
    env, ports = make_env(aredis)
    await superblock.mkfs(aredis, "w", 4096, "lsfmm2018", None, "lsfmm2018")
    a = (await inode.create(aredis, "w", "/a")).mapping
    await fileio.write(env, a, 0, b"1" * 8192)
    with pytest.raises(RuntimeError, match="injected"):
        await writeback.writeback_locked(env, a, crash_before_blocks=True)
    assert (await writeback.fsync(env, a)).blocks_written == 2
    ports.cache.clear()
    assert await fileio.read(env, a, 0, 8192) == b"1" * 8192


async def test_unlink_frees_blocks_unless_mapped(aredis):
    env, ports = make_env(aredis)
    await superblock.mkfs(aredis, "u", 4096, "lsfmm2018", None, "lsfmm2018")
    a = (await inode.create(aredis, "u", "/a")).mapping
    await fileio.write(env, a, 0, b"x" * 10000)
    await writeback.fsync(env, a)
    m, orphaned, freed = await truncate.unlink(env, "u", "/a")
    assert m == a and not orphaned and freed == 3
    assert not await aredis.exists(keys.mapping(a, "inode"))
    assert set(ports.live) == ports.cached_pfns() == set()
    b = (await inode.create(aredis, "u", "/b")).mapping
    await aredis.zadd(keys.mapping(b, "i_mmap"), {"1:4096": 4096})
    _, orphaned, _ = await truncate.unlink(env, "u", "/b")
    assert orphaned
    from mmsim.runtime.errors import FailedPrecondition
    with pytest.raises(FailedPrecondition, match="unlinked"):
        await fileio.write(env, b, 0, b"x")
