"""Processes, VMAs and the file reverse map (mm/mmap.c, mm/vma.c, mm/rmap.c, mm/memory.c), over Redis.

Redis layout (see mmsim.runtime.keys):

* ``{mm:PID}:mm`` hash: comm, state (running | killed), killed_reason, min_flt, maj_flt, rss_file, rss_anon,
  map_count, max_map_count, mapcount_limit, mapcount_action, mmap_base.
* ``{mm:PID}:vmas`` zset: score vm_start, member the VMA's JSON (mmsim.rmap.mm.Vma.to_json).
* ``{mm:PID}:pte`` hash: virtual page number -> "PFN:HEAD:ORDER:NODE:BITS" (mmsim.rmap.lua PTE_*).
* ``{mm:PID}:pte_idx`` zset: the virtual page numbers that have a PTE (range walks for zap).
* ``{mm:PID}:pagemaps`` hash: "NODE:PFN" -> PTEs of this process mapping that page (the per-process
  counter the LSFMM 2018 mapcount limit is checked against).
* ``{m:MAPPING}:i_mmap`` zset: member "PID:VM_START", score vm_pgoff (the i_mmap interval tree's keys).
* ``{node:N}:rmap_pinned`` set: head pfns pinned by the mapcount leak policy (their extra reference is
  never dropped, so they are never freed).

The mapcount-overflow policy (LSFMM 2018, fact sheet 6.3): when installing a PTE would give a process more
than ``mapcount_limit`` mappings of one page (or push _mapcount past INT_MAX):

* ``kill`` (Wilcox's posted fix): the process is killed. The mm is torn down as exit_mmap would, the
  process stays a zombie (state "killed") until Exit reaps it, and the RPC fails with FAILED_PRECONDITION.
  Not VM_FAULT_SIGSEGV: SIGSEGV is a catchable signal the task survives to handle; a kill is SIGKILL,
  after which no fault result reaches the task at all, so the faithful answer is that the caller's
  precondition (a live process) no longer holds.
* ``leak`` (Morton's alternative): the folio gets one extra reference that is never dropped (it can never
  be freed, so a wrapped count can never free a mapped page) and the mapping goes ahead.
* ``none`` (mainline): no per-process limit.
"""

from __future__ import annotations

import json

from mmsim.rmap import lua
from mmsim.rmap.fault import FaultHandler, _s, mm_keys
from mmsim.rmap.mm import (
    DEFAULT_MAX_MAP_COUNT, MMAP_BASE, PAGE_SHIFT, PAGE_SIZE, Vma, dev_of_fs, format_maps_line, thp_get_unmapped_area,
    page_align, prot_to_vm_flags, split_for_munmap, validate_comm, validate_mmap,
)  # fmt: skip
from mmsim.runtime import keys, profiles
from mmsim.runtime.errors import FailedPrecondition, InvalidArgument, NotFound, ResourceExhausted, require

MAPCOUNT_ACTIONS = {0: "", 1: "none", 2: "kill", 3: "leak"}
ACTION_NUMBERS = {v: k for k, v in MAPCOUNT_ACTIONS.items()}
MAX_MMAP_RETRIES = 8
MKCLEAN_BATCH = 4096


class ReverseMap:
    def __init__(self, ctx):
        self.ctx = ctx
        self.redis = ctx.redis
        self.faults = FaultHandler(ctx)

    @property
    def spans(self) -> str:
        return self.faults.spans

    async def spawn(self, comm: str, limit: int, action: int, max_map_count: int) -> int:
        validate_comm(comm)
        require(action in MAPCOUNT_ACTIONS, f"unknown mapcount_action {action}")
        mmc = max_map_count or DEFAULT_MAX_MAP_COUNT
        r = await lua.SPAWN(self.redis, pids=keys.cluster("pids"), procs=keys.cluster("procs"), comm=comm,
                            mapcount_limit=limit, mapcount_action=MAPCOUNT_ACTIONS[action], max_map_count=mmc,
                            mmap_base=MMAP_BASE)  # fmt: skip
        return r.pid

    async def mmap(self, pid: int, mapping: str, length: int, offset: int, prot: set[str], shared: bool,
                   addr: int) -> Vma:  # fmt: skip
        require(bool(mapping), "mapping must name a file as FS/INO, got an empty string")
        plen = validate_mmap(length, offset, addr)
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(keys.mapping(mapping, "inode"))
        pipe.hgetall(keys.mm(pid, "mm"))
        pipe.zrange(keys.mm(pid, "vmas"), 0, -1)
        inode, mmh, members = await pipe.execute()
        if not mmh:
            raise NotFound(f"no process with pid {pid}")
        if mmh.get(b"state") != b"running":
            raise FailedPrecondition(f"process {pid} was killed: {_s(mmh.get(b'killed_reason', b''))}")
        if not inode:
            raise NotFound(f"no file {mapping!r}")
        fs = _s(inode.get(b"fs", mapping.split("/")[0].encode()))
        prof = profiles.get(_s(inode.get(b"profile", b"")) or self.ctx.settings.profile)
        base = Vma(0, plen, offset >> PAGE_SHIFT, prot_to_vm_flags(prot, shared), mapping,
                   int(_s(inode.get(b"ino", b"0"))), dev_of_fs(fs), f"/mnt/{fs}{_s(inode.get(b'path', b''))}",
                   prof.mapcount_limit, prof.mapcount_action)  # fmt: skip
        mmap_base = int(_s(mmh.get(b"mmap_base", str(MMAP_BASE).encode())))
        for _ in range(MAX_MMAP_RETRIES):
            vmas = [Vma.from_json(m) for m in members]
            start = thp_get_unmapped_area(vmas, plen, addr, mmap_base, offset)
            vma = Vma(start, start + plen, base.pgoff, base.flags, mapping, base.ino, base.dev, base.path,
                      base.limit, base.action)  # fmt: skip
            r = lua.live(await lua.MMAP_INSERT(
                self.redis, **mm_keys(pid, ("mm", "vmas")), i_mmap=keys.mapping(mapping, "i_mmap"),
                inode=keys.mapping(mapping, "inode"), vma=vma.to_json(), start=start, stop=vma.end, pgoff=vma.pgoff,
                pid=pid), pid)  # fmt: skip
            if r.kind == "ok":
                return vma
            if r.kind == "unlinked":
                raise FailedPrecondition(f"{mapping} was unlinked; only its existing mappings remain")
            if r.kind == "enomem":
                raise ResourceExhausted(f"process {pid} has {r.map_count} VMAs: vm.max_map_count reached (ENOMEM)")
            members = await self.redis.zrange(keys.mm(pid, "vmas"), 0, -1)
        raise ResourceExhausted(f"mmap kept racing with other mmaps of pid {pid}")

    async def munmap(self, pid: int, addr: int, length: int) -> int:
        require(addr % PAGE_SIZE == 0, f"addr must be page aligned, got {addr:#x} (EINVAL)")
        require(length > 0, "length must be positive (EINVAL)")
        end = addr + page_align(length)
        for _ in range(MAX_MMAP_RETRIES):
            pipe = self.redis.pipeline(transaction=False)
            pipe.exists(keys.mm(pid, "mm"))
            pipe.zrangebyscore(keys.mm(pid, "vmas"), "-inf", f"({end}")
            exists, members = await pipe.execute()
            if not exists:
                raise NotFound(f"no process with pid {pid}")
            plan = []
            for m in members:
                v = Vma.from_json(m)
                if v.end > addr:
                    plan.append({"old": _s(m), "new": [p.to_json() for p in split_for_munmap(v, addr, end)]})
            r = lua.live(await lua.MUNMAP(self.redis, **mm_keys(pid, ("mm", "vmas")), spans=self.spans, pid=pid,
                                          start=addr, stop=end, plan=json.dumps(plan)), pid)  # fmt: skip
            if r.kind == "ok":
                await self.faults.free_folios(lua.freed(r.freed))
                await self.faults.evict_inodes(r.evict)
                return r.zapped
            if r.kind == "enomem":
                raise ResourceExhausted(f"splitting would pass vm.max_map_count of pid {pid} (ENOMEM)")
        raise ResourceExhausted(f"munmap kept racing with other changes of pid {pid}")

    async def exit(self, pid: int) -> tuple[int, int, int]:
        r = lua.live(await lua.EXIT(self.redis, mm=keys.mm(pid, "mm"), procs=keys.cluster("procs"), spans=self.spans,
                                    pid=pid), pid)  # fmt: skip
        freed = lua.freed(r.freed)
        await self.faults.free_folios(freed)
        await self.faults.evict_inodes(r.evict)
        return r.zapped, r.vmas, len(freed)

    async def unmap_mapping_range(self, mapping: str, start: int, length: int, even_cows: bool) -> tuple[int, int, int]:
        """unmap_mapping_range: the byte range widened to whole pages; length 0 = to the end of the file."""
        require(bool(mapping), "mapping must name a file as FS/INO, got an empty string")
        if not await self.redis.exists(keys.mapping(mapping, "inode")):
            raise NotFound(f"no file {mapping!r}")
        first = start >> PAGE_SHIFT
        last = -1 if length == 0 else ((start + length + PAGE_SIZE - 1) >> PAGE_SHIFT) - 1
        r = await lua.UNMAP_MAPPING_RANGE(self.redis, i_mmap=keys.mapping(mapping, "i_mmap"), spans=self.spans,
                                          first=first, last=last, even_cows=int(even_cows))  # fmt: skip
        freed = lua.freed(r.freed)
        await self.faults.free_folios(freed)
        return r.zapped, r.vmas, len(freed)

    async def folio_mkclean(self, mapping: str, folios: list[tuple[int, int, int, int]]) -> tuple[int, list[tuple[int, bool]]]:
        """folio_mkclean for each (node, head pfn, order, file index) of ``mapping``, in ONE script whatever
        the number of folios, their orders or the PTEs mapping them. Returns (shared VMAs walked,
        [(PTEs cleaned, some PTE was dirty)] per folio)."""
        require(bool(mapping), "mapping must name a file as FS/INO, got an empty string")
        require(len(folios) <= MKCLEAN_BATCH, f"at most {MKCLEAN_BATCH} folios per call, got {len(folios)}")
        if not folios:
            return 0, []
        flat: list = []
        for node, head, order, index in folios:
            require(0 <= node < self.ctx.settings.numa_nodes, f"node must be 0..{self.ctx.settings.numa_nodes - 1}, got {node}")
            require(order <= 10, f"folio order must be 0..10, got {order}")
            flat += [node, head, order, index]
        r = await lua.FOLIO_MKCLEAN(self.redis, i_mmap=keys.mapping(mapping, "i_mmap"), spans=self.spans, folios=flat)
        per = r.per_folio
        return r.vmas, [(per[i], bool(per[i + 1])) for i in range(0, len(per), 2)]

    async def proc_maps(self, pid: int) -> list[str]:
        pipe = self.redis.pipeline(transaction=False)
        pipe.exists(keys.mm(pid, "mm"))
        pipe.zrange(keys.mm(pid, "vmas"), 0, -1)
        exists, members = await pipe.execute()
        if not exists:
            raise NotFound(f"no process with pid {pid}")
        return [format_maps_line(Vma.from_json(m)) for m in members]

    async def proc_status(self, pid: int) -> dict[str, str]:
        h = await self.redis.hgetall(keys.mm(pid, "mm"))
        if not h:
            raise NotFound(f"no process with pid {pid}")
        return {_s(k): _s(v) for k, v in h.items()}

    async def folio_mapcount(self, node: int, pfn: int) -> dict:
        require(0 <= node < self.ctx.settings.numa_nodes, f"node must be 0..{self.ctx.settings.numa_nodes - 1}, got {node}")
        r = await lua.FOLIO_MAPCOUNT(self.redis, spans=self.spans, node=node, pfn=pfn)
        per = dict(zip(r.per_process[::2], r.per_process[1::2]))
        return {"folio_mapcount": r.total, "raw": r.raw, "refcount": r.refcount, "pinned": r.pinned == 1,
                "head": r.head, "order": r.order, "per_process": per}  # fmt: skip


def prot_letters(values) -> set[str]:
    letters = {1: "r", 2: "w", 4: "x"}
    out = set()
    for v in values:
        if v not in letters:
            raise InvalidArgument(f"unknown prot value {v}")
        out.add(letters[v])
    return out


__all__ = ["ReverseMap", "mm_keys", "prot_letters"]
