"""In-process fakes of the allocator, page cache and reverse map for the filesystem's unit tests only.

They keep folio memory where the real services do (keys.node(n, 'mem:PFN') in the same Redis), so the
filesystem logic runs unchanged. No tests here."""

from __future__ import annotations

from dataclasses import dataclass, field

from mmsim.filesystem.env import Env
from mmsim.filesystem.populate import Attempt, _vmstat_fields
from mmsim.filesystem.ports import TAG_DIRTY, Added, FolioRef, Found
from mmsim.runtime import keys


@dataclass
class Entry:
    order: int
    folio: FolioRef | None
    tags: set = field(default_factory=set)


class FakePorts:
    def __init__(self, redis):
        self.redis = redis
        self.next_pfn = 1 << 20
        self.live: dict[int, FolioRef] = {}
        self.fail_above: int | None = None     # allocations above this order fail (fragmentation)
        self.fail_all = False
        self.cache: dict[str, dict[int, Entry]] = {}
        self.calls: list[str] = []
        self.unmaps: list[tuple] = []

    # allocator --------------------------------------------------------------------------------------
    async def alloc_pages(self, order, gfp, mapping, index):
        self.calls.append(f"alloc:{order}")
        if self.fail_all or (self.fail_above is not None and order > self.fail_above):
            return None, f"no free block of order {order}"
        pfn = self.next_pfn
        self.next_pfn += 1 << order
        f = FolioRef(pfn, order, 0)
        self.live[pfn] = f
        return f, ""

    async def free_pages(self, folio):
        self.calls.append(f"free:{folio.order}")
        assert self.live.pop(folio.pfn, None) is not None, "double free"
        await self.redis.delete(keys.node(folio.node, f"mem:{folio.pfn}"))

    # page cache -------------------------------------------------------------------------------------
    def _entries(self, mapping):
        return self.cache.setdefault(mapping, {})

    def _covering(self, mapping, index):
        for s, e in self._entries(mapping).items():
            if s <= index < s + (1 << e.order):
                return s, e
        return None

    async def add_folio(self, mapping, index, folio, zero_order=0, data_seq=None, fill=None):
        """The insert; a populate's fill (contents and counts) is stored as the real page cache stores it, with
        the filesystem's own counting; the lock is left to the caller to release (no unlock here)."""
        self.calls.append("add")
        order = zero_order if folio is None else folio.order
        assert index % (1 << order) == 0, "unaligned folio"
        ents = self._entries(mapping)
        overlap = [s for s, e in ents.items() if s < index + (1 << order) and index < s + (1 << e.order)]
        if any(ents[s].folio is not None for s in overlap) or (folio is None and overlap):
            return None
        replaced = sum(1 << ents[s].order for s in overlap)   # zero entries (a folio overlap returned above)
        for s in overlap:
            del ents[s]
        ents[index] = Entry(order, folio, {TAG_DIRTY} if fill is not None and fill.dirty else set())
        if fill is not None and fill.contents is not None:
            tried = [Attempt(o, False) for o in fill.fallback_orders] + [Attempt(folio.order, True)]
            # as the real insert's step: the contents and the counters at once (one MULTI on the folio's node)
            vm, mthp = _vmstat_fields(tried)
            pipe = self.redis.pipeline(transaction=True)
            pipe.set(keys.node(folio.node, f"mem:{folio.pfn}"), fill.contents)
            for k, v in vm.items():
                pipe.hincrby(keys.node(folio.node, "vmstat"), k, v)
            for k, v in mthp.items():
                pipe.hincrby(keys.node(folio.node, "mthp_stats"), k, v)
            await pipe.execute()
        return Added(zero_replaced=replaced)

    async def write_folio(self, mapping, offset, data):
        self.calls.append("write")
        hit = self._covering(mapping, offset // 4096)
        if hit is None or hit[1].folio is None:
            return (None if hit is None else Found(hit[0], None, True)), 0
        s, e = hit
        n = min(len(data), (s + (1 << e.order)) * 4096 - offset)
        await self.redis.setrange(keys.node(e.folio.node, f"mem:{e.folio.pfn}"), offset - s * 4096, data[:n])
        e.tags.add(TAG_DIRTY)
        return Found(s, e.folio, False, set(e.tags)), n

    async def find_folio(self, mapping, index):
        self.calls.append("find")
        hit = self._covering(mapping, index)
        if hit is None:
            return None
        s, e = hit
        return Found(s, e.folio, e.folio is None, set(e.tags))

    async def truncate_range(self, mapping, lstart, lend):
        self.calls.append("truncate")
        ents = self._entries(mapping)
        stats = {"folios_removed": 0, "pages_freed": 0, "folios_split": 0, "bytes_zeroed": 0}
        end = float("inf") if lend is None else lend + 1
        for s in sorted(ents):
            e = ents[s]
            fb, fe = s * 4096, (s + (1 << e.order)) * 4096
            if fe <= lstart or fb >= end:
                continue
            # a clean partial folio goes whole, as after a refused split (truncate_inode_partial_folio); the real
            # page cache splits it and drops only what lies inside: the file's bytes are the same either way
            if lstart <= fb and fe <= end or e.folio is None or TAG_DIRTY not in e.tags:
                del ents[s]
                if e.folio is not None:
                    await self.free_pages(e.folio)
                    stats["folios_removed"] += 1
                continue
            key = keys.node(e.folio.node, f"mem:{e.folio.pfn}")
            data = bytearray((await self.redis.get(key) or b"").ljust(fe - fb, b"\0"))
            lo, hi = max(lstart, fb) - fb, min(end, fe) - fb
            data[lo:hi] = bytes(hi - lo)
            await self.redis.set(key, bytes(data).rstrip(b"\0"))
            stats["bytes_zeroed"] += hi - lo
        return stats

    async def tag_folio(self, mapping, index, tag, clear=False):
        self.calls.append("tag")
        s, e = self._covering(mapping, index)
        (e.tags.discard if clear else e.tags.add)(tag)

    async def find_tagged(self, mapping, tag, start, limit=256):
        self.calls.append("find_tagged")
        out = [Found(s, e.folio, e.folio is None, set(e.tags)) for s, e in sorted(self._entries(mapping).items())
               if s >= start and tag in e.tags]
        return out[:limit]

    # reverse map ------------------------------------------------------------------------------------
    async def unmap_mapping_range(self, mapping, start, length, even_cows):
        self.calls.append("unmap")
        self.unmaps.append((mapping, start, length, even_cows))
        return 0

    # helpers for the tests --------------------------------------------------------------------------
    async def fault_read(self, env, mapping, index):
        """What a read fault sees at page ``index``: the cached folio's bytes (populating on a miss)."""
        from mmsim.filesystem.populate import populate  # noqa: PLC0415

        hit = self._covering(mapping, index)
        if hit is None:
            res = await populate(env, mapping, index)
            if res.vm_fault:
                return res.vm_fault
            hit = self._covering(mapping, index)
        s, e = hit
        if e.folio is None:
            return bytes(4096)
        data = (await self.redis.get(keys.node(e.folio.node, f"mem:{e.folio.pfn}")) or b"")
        off = (index - s) * 4096
        return data[off:off + 4096].ljust(4096, b"\0")

    async def drop_cache(self):
        """echo 1 > drop_caches: free every cached folio (after fsync, so nothing dirty is lost)."""
        for ents in self.cache.values():
            for e in ents.values():
                if e.folio is not None:
                    assert not e.tags, "dropping a dirty folio"
                    await self.free_pages(e.folio)
        self.cache.clear()

    def cached_pfns(self):
        return {e.folio.pfn for ents in self.cache.values() for e in ents.values() if e.folio is not None}


def make_env(redis, profile="lsfmm2018"):
    ports = FakePorts(redis)
    return Env(redis, ports, default_profile=profile), ports
