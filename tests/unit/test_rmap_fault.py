"""The rmap logic against a real Redis: fault, finish_fault, zap, unmap_mapping_range, exit, mapcount policy.

The page cache and the allocator are stand-ins (their RPCs answered in-process); struct page is the
allocator's real vmemmap record format, edited by the real Lua library inside the rmap scripts.
"""

from __future__ import annotations

import struct
import types

import pytest

from mmsim.allocator import vmemmap
from mmsim.rmap import lua
from mmsim.rmap.rmap import ReverseMap
from mmsim.runtime import config, keys
from mmsim.runtime.errors import FailedPrecondition, NotFound, ResourceExhausted
from mmsim.runtime.vmfault import VmFault
from mmsim.v1 import common_pb2, page_allocator_pb2, page_cache_pb2

MAPPING = "xfs0/12"
PG_HEAD = vmemmap.PG["head"]


class FakePageCache:
    """filemap_fault over a dict of index -> folio (first lookup of a folio is a miss: MAJOR)."""

    def __init__(self, i_size, redis):
        self.redis = redis
        self.folios = {}  # folio_index -> (pfn, order)
        self.seen = set()
        self.tagged = []
        self.writeback_races = 0    # TagFolio calls after which a writeback cleans the folio again
        self.i_size = i_size
        self.calls = 0

    def add(self, index, pfn, order):
        self.folios[index] = (pfn, order)

    async def Fault(self, req):
        self.calls += 1
        resp = page_cache_pb2.FaultResponse(i_size=self.i_size)
        if req.index >= (self.i_size + 4095) // 4096:
            resp.vm_fault.extend(VmFault.SIGBUS.to_proto())
            return resp
        for idx, (pfn, order) in self.folios.items():
            if idx <= req.index < idx + (1 << order):
                flags = VmFault.LOCKED
                if idx not in self.seen:
                    flags |= VmFault.MAJOR
                    self.seen.add(idx)
                resp.folio.CopyFrom(common_pb2.Folio(pfn=pfn, order=order, node=0))
                resp.folio_index = idx
                resp.vm_fault.extend(flags.to_proto())
                return resp
        resp.vm_fault.extend(VmFault.LOCKED.to_proto())  # a hole: no folio (zero entry)
        return resp

    async def TagFolio(self, req):
        """folio_mark_dirty: the tag, and PG_dirty on the head page (what wp_page_shared's step checks)."""
        self.tagged.append((req.mapping, req.index, req.tag))
        for idx, (pfn, order) in self.folios.items():
            if idx <= req.index < idx + (1 << order) and req.tag == page_cache_pb2.PAGECACHE_TAG_DIRTY:
                key, off = keys.node(0, f"vmemmap:{pfn // 4096}"), (pfn % 4096) * vmemmap.RECORD_SIZE
                flags = struct.unpack("<I", await self.redis.getrange(key, off, off + 3))[0]
                bit = vmemmap.PG["dirty"]
                clear = req.clear or self.writeback_races > 0
                self.writeback_races -= 1
                await self.redis.setrange(key, off, struct.pack("<I", flags & ~bit if clear else flags | bit))
        return page_cache_pb2.TagFolioResponse()


class FakeAllocator:
    def __init__(self, redis, next_pfn):
        self.redis, self.next, self.freed = redis, next_pfn, []

    async def AllocPages(self, req):
        pfn = self.next
        self.next += 1
        await set_record(self.redis, pfn, vmemmap.pack_record(refcount=1))
        return page_allocator_pb2.AllocPagesResponse(folio=common_pb2.Folio(pfn=pfn, order=0, node=0))

    async def FreePages(self, req):
        self.freed.append((req.pfn, req.order))
        return page_allocator_pb2.FreePagesResponse()


class FakePeers:
    def __init__(self, pc, alloc):
        self._s = {"pagecache": pc, "allocator": alloc}

    def stub(self, name):
        return self._s[name]


async def set_record(redis, pfn, rec):
    await redis.setrange(keys.node(0, f"vmemmap:{pfn // 4096}"), (pfn % 4096) * vmemmap.RECORD_SIZE, rec)


async def page(redis, pfn):
    raw = await redis.getrange(keys.node(0, f"vmemmap:{pfn // 4096}"), (pfn % 4096) * 56, (pfn % 4096) * 56 + 55)
    return vmemmap.decode_page(pfn, raw, 0, "Normal")


async def make_folio(redis, pfn, order, index, mapping_id=1):
    """A page-cache folio as the allocator + page cache leave it: the cache's one reference."""
    for i in range(1 << order):
        if i == 0:
            flags = PG_HEAD if order else 0
            rec = vmemmap.pack_record(flags=flags | vmemmap.PG["uptodate"], w=(0, 0, mapping_id, index, 0), refcount=1)
        else:
            w1 = order if i == 1 else 0
            rec = vmemmap.pack_record(w=(pfn * 2 + 1, w1, 0, 0, 0))
        await set_record(redis, pfn + i, rec)


@pytest.fixture()
async def env(aredis):
    await aredis.set(keys.node(0, "vmemmap:0"), vmemmap.FREE_RECORD * 4096)
    await aredis.hset(keys.node(0, "intern"), mapping={f"n:{MAPPING}": 1, "i:1": MAPPING})
    await aredis.hset(keys.mapping(MAPPING, "inode"),
                      mapping={"fs": "xfs0", "ino": 12, "path": "/data/a", "i_size": 64 * 4096, "profile": "lsfmm2018"})
    pc = FakePageCache(64 * 4096, aredis)
    alloc = FakeAllocator(aredis, 3000)
    ctx = types.SimpleNamespace(redis=aredis, settings=config.Settings(memory_bytes=64 << 20),
                                peers=FakePeers(pc, alloc))
    return types.SimpleNamespace(rm=ReverseMap(ctx), pc=pc, alloc=alloc, redis=aredis)


async def test_first_touch_maps_the_whole_folio_second_is_spurious(env):
    await make_folio(env.redis, 1024, 2, 4)
    env.pc.add(4, 1024, 2)
    await env.redis.set(keys.node(0, "mem:1024"), b"A" * 4096 + b"B" * 4096)
    pid = await env.rm.spawn("reader", 0, 0, 0)
    v = await env.rm.mmap(pid, MAPPING, 16 * 4096, 0, {"r"}, True, 0)
    f = env.rm.faults
    r = await f.handle_mm_fault(pid, v.start + 5 * 4096 + 3, False)
    assert r.ok and r.major and r.pages_mapped == 4 and r.pfn == 1025 and r.folio == (1024, 2, 0)
    assert r.vm_fault == VmFault.MAJOR | VmFault.LOCKED
    head = await page(env.redis, 1024)
    assert head.refcount == 1 + 4  # the page cache's reference + one per PTE
    assert [(await page(env.redis, 1024 + i)).mapcount for i in range(4)] == [0, 0, 0, 0]
    r2 = await f.handle_mm_fault(pid, v.start + 6 * 4096, False)
    assert r2.spurious and not r2.major and r2.pfn == 1026 and env.pc.calls == 1
    st = await env.rm.proc_status(pid)
    assert (st["maj_flt"], st["min_flt"], st["rss_file"]) == ("1", "1", "4")
    assert int(await env.redis.hget(keys.node(0, "vmstat"), "pgfault")) == 2
    data, vmf, faults = await f.read_memory(pid, v.start + 4 * 4096 + 4090, 12)
    assert data == b"A" * 6 + b"B" * 6 and faults == 0 and not vmf
    m = await env.rm.folio_mapcount(0, 1025)
    assert m["folio_mapcount"] == 4 and m["raw"] == 0 and m["per_process"] == {pid: 1} and m["order"] == 2


async def test_segv_sigbus_hole_and_unknown_pid(env):
    pid = await env.rm.spawn("p", 0, 0, 0)
    v = await env.rm.mmap(pid, MAPPING, 128 * 4096, 0, {"r"}, False, 0)
    f = env.rm.faults
    assert (await f.handle_mm_fault(pid, v.start - 4096, False)).vm_fault == VmFault.SIGSEGV
    assert (await f.handle_mm_fault(pid, v.start, True)).vm_fault == VmFault.SIGSEGV  # no VM_WRITE
    assert (await f.handle_mm_fault(pid, v.start + 64 * 4096, False)).vm_fault == VmFault.SIGBUS  # beyond EOF
    hole = await f.handle_mm_fault(pid, v.start + 9 * 4096, False)
    assert hole.ok and hole.zero_page
    data, vmf, _ = await f.read_memory(pid, v.start + 9 * 4096, 100)
    assert data == bytes(100) and not vmf
    data, vmf, _ = await f.read_memory(pid, v.start + 63 * 4096, 8192)
    assert len(data) == 4096 and vmf == VmFault.SIGBUS
    with pytest.raises(NotFound):
        await f.handle_mm_fault(999, v.start, False)
    with pytest.raises(NotFound):
        await env.rm.mmap(pid, "xfs0/404", 4096, 0, {"r"}, False, 0)


async def test_shared_write_tags_dirty_and_private_write_copies(env):
    await make_folio(env.redis, 1024, 0, 0)
    env.pc.add(0, 1024, 0)
    await env.redis.set(keys.node(0, "mem:1024"), b"file")
    pid = await env.rm.spawn("w", 0, 0, 0)
    shared = await env.rm.mmap(pid, MAPPING, 4096, 0, {"r", "w"}, True, 0)
    private = await env.rm.mmap(pid, MAPPING, 4096, 0, {"r", "w"}, False, 0)
    f = env.rm.faults
    n, vmf, faults = await f.write_memory(pid, shared.start + 1, b"XY")
    assert n == 2 and not vmf and faults == 1 and env.pc.tagged == [(MAPPING, 0, page_cache_pb2.PAGECACHE_TAG_DIRTY)]
    assert await env.redis.get(keys.node(0, "mem:1024")) == b"fXYe"
    # private: read maps the page-cache page, the write copies it (do_wp_page -> wp_page_copy)
    assert (await f.handle_mm_fault(pid, private.start, False)).pfn == 1024
    n, vmf, _ = await f.write_memory(pid, private.start, b"Q")
    assert n == 1 and not vmf
    assert await env.redis.get(keys.node(0, "mem:1024")) == b"fXYe"  # the file is untouched
    data, _, _ = await f.read_memory(pid, private.start, 4)
    assert data == b"QXYe"
    assert (await page(env.redis, 1024)).refcount == 2  # cache + the shared PTE; the private one went
    st = await env.rm.proc_status(pid)
    assert (st["rss_file"], st["rss_anon"]) == ("1", "1")
    # unmap_mapping_range without even_cows keeps the COW copy; with even_cows zaps it and frees it
    n, nv, freed = await env.rm.unmap_mapping_range(MAPPING, 0, 0, False)
    assert (n, nv, freed) == (1, 2, 0)
    n, nv, freed = await env.rm.unmap_mapping_range(MAPPING, 0, 0, True)
    assert (n, freed) == (1, 1) and env.alloc.freed == [(3000, 0)]
    assert (await page(env.redis, 1024)).refcount == 1


@pytest.mark.parametrize("mapped_first", [False, True])
async def test_a_writeback_between_mkwrite_and_the_pte_step_makes_the_fault_retry(env, mapped_first):
    """do_page_mkwrite dirtied the folio, then a writeback cleaned it before the PTE step: the PTE must not
    become writable on a clean folio (its stores would escape the next writeback). FINISH_FAULT (PTE none)
    and WP_SHARED (PTE read-only) both answer retry; the next attempt dirties the folio again and maps it.
    If writeback wins every attempt, the fault gives up with VM_FAULT_RETRY and no writable PTE, and
    reports the read-only page that is mapped there, if any."""
    for i in range(2):
        await make_folio(env.redis, 1024 + i, 0, i)
        env.pc.add(i, 1024 + i, 0)
    pid = await env.rm.spawn("w", 0, 0, 0)
    vma = await env.rm.mmap(pid, MAPPING, 2 * 4096, 0, {"r", "w"}, True, 0)
    f = env.rm.faults

    async def pte_bits(i):
        pte = await env.redis.hget(keys.mm(pid, "pte"), str((vma.start >> 12) + i))
        return None if pte is None else int(pte.split(b":")[-1])

    if mapped_first:
        for i in range(2):
            assert (await f.handle_mm_fault(pid, vma.start + i * 4096, False)).pfn == 1024 + i   # read-only PTEs
    env.pc.writeback_races = 1
    res = await f.handle_mm_fault(pid, vma.start, True)
    assert res.ok and res.pfn == 1024 and len(env.pc.tagged) == 2   # the first attempt retried
    assert await pte_bits(0) & lua.PTE_WRITE and (await page(env.redis, 1024)).flags & vmemmap.PG["dirty"]
    env.pc.writeback_races = 8
    res = await f.handle_mm_fault(pid, vma.start + 4096, True)
    assert res.vm_fault & VmFault.RETRY and not (await page(env.redis, 1025)).flags & vmemmap.PG["dirty"]
    if mapped_first:
        assert res.pfn == 1025 and res.folio == (1025, 0, 0) and not await pte_bits(1) & lua.PTE_WRITE
    else:
        assert res.pfn == 0 and res.folio is None and await pte_bits(1) is None


async def test_munmap_splits_and_exit_releases_everything(env):
    await make_folio(env.redis, 1024, 0, 2)
    env.pc.add(2, 1024, 0)
    pid = await env.rm.spawn("m", 0, 0, 0)
    v = await env.rm.mmap(pid, MAPPING, 8 * 4096, 0, {"r"}, False, 0)
    await env.rm.faults.handle_mm_fault(pid, v.start + 2 * 4096, False)
    assert await env.rm.munmap(pid, v.start + 2 * 4096, 4096) == 1
    lines = await env.rm.proc_maps(pid)
    assert len(lines) == 2 and " 00003000 " in lines[1] and lines[0].startswith(f"{v.start:08x}-{v.start + 8192:08x} r--p")
    assert (await page(env.redis, 1024)).refcount == 1
    assert (await page(env.redis, 1024)).mapcount == -1
    n, nv, freed = await env.rm.exit(pid)
    assert nv == 2 and n == 0
    with pytest.raises(NotFound):
        await env.rm.proc_status(pid)
    assert await env.redis.zcard(keys.mapping(MAPPING, "i_mmap")) == 0


async def test_max_map_count_is_enforced(env):
    pid = await env.rm.spawn("many", 0, 0, 3)
    for _ in range(3):
        await env.rm.mmap(pid, MAPPING, 4096, 0, {"r"}, True, 0)
    with pytest.raises(ResourceExhausted):
        await env.rm.mmap(pid, MAPPING, 4096, 0, {"r"}, True, 0)


@pytest.mark.parametrize("action", ["kill", "leak"])
async def test_mapcount_limit(env, action):
    await make_folio(env.redis, 1024, 0, 0)
    env.pc.add(0, 1024, 0)
    pid = await env.rm.spawn("lim", 3, {"kill": 2, "leak": 3}[action], 0)
    vmas = [await env.rm.mmap(pid, MAPPING, 4096, 0, {"r"}, True, 0) for _ in range(4)]
    for v in vmas[:3]:
        assert (await env.rm.faults.handle_mm_fault(pid, v.start, False)).ok
    if action == "kill":
        with pytest.raises(FailedPrecondition, match="killed"):
            await env.rm.faults.handle_mm_fault(pid, vmas[3].start, False)
        st = await env.rm.proc_status(pid)
        assert st["state"] == "killed" and st["rss_file"] == "0"
        assert (await page(env.redis, 1024)).refcount == 1 and (await page(env.redis, 1024)).mapcount == -1
        with pytest.raises(FailedPrecondition):
            await env.rm.mmap(pid, MAPPING, 4096, 0, {"r"}, True, 0)
        await env.rm.exit(pid)  # reap the zombie
    else:
        r = await env.rm.faults.handle_mm_fault(pid, vmas[3].start, False)
        assert r.ok and r.pinned
        m = await env.rm.folio_mapcount(0, 1024)
        assert m["pinned"] and m["folio_mapcount"] == 4 and m["refcount"] == 1 + 4 + 1
        await env.rm.exit(pid)
        assert (await page(env.redis, 1024)).refcount == 2  # the pin outlives every mapping


async def test_mapcount_overflow_is_checked_not_wrapped(env):
    await make_folio(env.redis, 1024, 0, 0)
    env.pc.add(0, 1024, 0)
    await set_record(env.redis, 1024, vmemmap.pack_record(w=(0, 0, 1, 0, 0), mapcount=2**31 - 1, refcount=5))
    pid = await env.rm.spawn("wrap", 0, 3, 0)  # leak: saturate and pin instead of wrapping
    v = await env.rm.mmap(pid, MAPPING, 4096, 0, {"r"}, True, 0)
    r = await env.rm.faults.handle_mm_fault(pid, v.start, False)
    assert r.ok and r.pinned
    p = await page(env.redis, 1024)
    assert p.mapcount == 2**31 - 1 and p.refcount == 5 + 1 + 1
    await env.rm.exit(pid)
    p = await page(env.redis, 1024)
    assert p.mapcount == 2**31 - 1 and p.refcount == 6  # the NOMC PTE did not decrement; the pin stays


async def test_lua_pte_bits_match_python():
    assert (lua.PTE_WRITE, lua.PTE_ANON, lua.PTE_DIRTY, lua.PTE_YOUNG, lua.PTE_NOMC, lua.PTE_ZERO) == (1, 2, 4, 8, 16, 32)
