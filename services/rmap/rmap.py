"""Processes, VMAs and the file reverse map (mm/mmap.c, mm/vma.c, mm/rmap.c, mm/memory.c), over Redis.

Redis layout (see mmsim.runtime.keys):

* ``{mm:PID}:mm`` hash: comm, state (running | killed), killed_reason, min_flt, maj_flt, rss_file, rss_anon,
  map_count, max_map_count, mapcount_limit, mapcount_action, mmap_base.
* ``{mm:PID}:vmas`` zset: score vm_start, member the VMA's JSON (mmsim.rmap.mm.Vma.to_json).
* ``{mm:PID}:pte`` hash: virtual page number -> "PFN:HEAD:ORDER:NODE:BITS" (mmsim.rmap.lua PTE_*).
* ``{mm:PID}:pte_idx`` zset: the virtual page numbers that have a PTE (range walks for zap).
* ``{mm:PID}:pagemaps`` hash: "NODE:PFN" -> PTEs of this process mapping that page (the per-process
  counter the LSFMM 2018 mapcount limit is checked against).
* ``{mm:PID}:runs`` hash: vm_start -> JSON of a MapMany run (n one-page VMAs of one page, in each of the mm's
  ``nr_tasks`` processes: a bulk Spawn), and "VM_START:c" -> the PTEs of the run that raised the counters.
* ``{mm:PID}:pins`` hash: "NODE:HEAD:ORDER" -> get_user_pages references (PinPages), dropped at exit.
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

import grpc

from mmsim.rmap import lua
from mmsim.rmap.fault import FaultHandler, _s, mm_keys, resolve_policy
from mmsim.rmap.mm import (
    DEFAULT_MAX_MAP_COUNT, MMAP_BASE, MMAP_MIN_ADDR, PAGE_SHIFT, PAGE_SIZE, TASK_SIZE, VM_EXEC, VM_READ, VM_WRITE, Vma,
    dev_of_fs, format_maps_line, get_unmapped_area, mprotect_plan, page_align, prot_to_vm_flags, split_for_munmap, split_run_for_munmap,
    thp_get_unmapped_area, validate_comm, validate_mmap,
)  # fmt: skip
from mmsim.runtime import idempotency, keys, profiles, tracing
from mmsim.runtime.errors import (
    Aborted, AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied, ResourceExhausted, require,
)  # fmt: skip
from mmsim.v1 import page_cache_pb2

MAPCOUNT_ACTIONS = {0: "", 1: "none", 2: "kill", 3: "leak"}
PID_MAX_LIMIT = 4 * 1024 * 1024   # include/linux/threads.h on 64-bit: the most processes pid_max allows
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

    async def spawn(self, comm: str, limit: int, action: int, max_map_count: int, count: int = 1) -> int:
        """A process, or ``count`` processes created in bulk: consecutive pids sharing one mm record (a run:
        whatever MapMany maps, each of them maps), as an exploit forks as many as vm.max_map_count forces."""
        validate_comm(comm)
        require(action in MAPCOUNT_ACTIONS, f"unknown mapcount_action {action}")
        count = count or 1
        require(count <= PID_MAX_LIMIT, f"count must be 1..{PID_MAX_LIMIT} (PID_MAX_LIMIT), got {count}")
        mmc = max_map_count or DEFAULT_MAX_MAP_COUNT
        r = await lua.SPAWN(self.redis, pids=keys.cluster("pids"), procs=keys.cluster("procs"), comm=comm,
                            mapcount_limit=limit, mapcount_action=MAPCOUNT_ACTIONS[action], max_map_count=mmc,
                            mmap_base=MMAP_BASE, count=count)  # fmt: skip
        return r.pid

    async def _mm_and_file(self, pid: int, mapping: str) -> tuple[dict, dict, list, dict]:
        """One pipeline: the file's inode hash, the live process's mm hash, its VMAs and its MapMany runs."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(keys.mapping(mapping, "inode"))
        pipe.hgetall(keys.mm(pid, "mm"))
        pipe.zrange(keys.mm(pid, "vmas"), 0, -1)
        pipe.hgetall(keys.mm(pid, "runs"))
        inode, mmh, members, runs = await pipe.execute()
        if not mmh:
            raise NotFound(f"no process with pid {pid}")
        if mmh.get(b"state") != b"running":
            raise FailedPrecondition(f"process {pid} was killed: {_s(mmh.get(b'killed_reason', b''))}")
        if not inode:
            raise NotFound(f"no file {mapping!r}")
        return inode, mmh, members, runs

    async def mmap(self, pid: int, mapping: str, length: int, offset: int, prot: set[str], shared: bool,
                   addr: int, placement: int = 0) -> Vma:  # fmt: skip
        """do_mmap (mm/mmap.c). ``placement`` 1 = MAP_FIXED (whatever [addr, addr + length) held is unmapped
        first, as do_mmap's mmap_region does), 2 = MAP_FIXED_NOREPLACE (EEXIST when anything is there)."""
        require(bool(mapping), "mapping must name a file as FS/INO, got an empty string")
        require(placement in (0, 1, 2), f"unknown placement {placement}")
        plen = validate_mmap(length, offset, addr)
        if placement:
            require(addr != 0, "MAP_FIXED needs an address (EINVAL)")
            require(addr + plen <= TASK_SIZE, f"[{addr:#x}, {addr + plen:#x}) is past TASK_SIZE (ENOMEM)")
            if addr < MMAP_MIN_ADDR:
                raise PermissionDenied(f"{addr:#x} is below vm.mmap_min_addr {MMAP_MIN_ADDR:#x} (EPERM)")
        inode, mmh, members, runs = await self._mm_and_file(pid, mapping)
        fs = _s(inode.get(b"fs", mapping.split("/")[0].encode()))
        prof = profiles.get(_s(inode.get(b"profile", b"")) or self.ctx.settings.profile)
        base = Vma(0, plen, offset >> PAGE_SHIFT, prot_to_vm_flags(prot, shared), mapping,
                   int(_s(inode.get(b"ino", b"0"))), dev_of_fs(fs), f"/mnt/{fs}{_s(inode.get(b'path', b''))}",
                   prof.mapcount_limit, prof.mapcount_action)  # fmt: skip
        mmap_base = int(_s(mmh.get(b"mmap_base", str(MMAP_BASE).encode())))
        for _ in range(MAX_MMAP_RETRIES):
            vmas = [Vma.from_json(m) for m in members] + _run_spans(runs)
            if placement == 1 and any(v.start < addr + plen and v.end > addr for v in vmas):
                await self.munmap(pid, addr, plen)   # MAP_FIXED replaces the old mappings
            start = addr if placement else thp_get_unmapped_area(vmas, plen, addr, mmap_base, offset)
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
            if placement == 2:
                raise AlreadyExists(f"[{addr:#x}, {addr + plen:#x}) is already mapped in pid {pid} (MAP_FIXED_NOREPLACE: EEXIST)")
            members = await self.redis.zrange(keys.mm(pid, "vmas"), 0, -1)
        raise ResourceExhausted(f"mmap kept racing with other mmaps of pid {pid}")

    async def map_many(self, pid: int, mapping: str, offset: int, count: int, prot: set[str], shared: bool,
                       counter_bits: int) -> dict:  # fmt: skip
        """``count`` one-page VMAs of the file page at ``offset`` in every process of pid's run, as one counted
        run (mm/mmap.c mmap_region + mm/memory.c finish_fault, ``count`` x nr_tasks times in one step). The page
        must be in the page cache (a fault brought it in): one PageCache.FindFolio hop finds it. Returns what the
        mapcount policy did."""
        require(bool(mapping), "mapping must name a file as FS/INO, got an empty string")
        require(offset % PAGE_SIZE == 0, f"offset must be page aligned, got {offset}")
        require(count > 0, "count must be positive (one-page VMAs per process)")
        require(counter_bits == 0 or 8 <= counter_bits <= 32, f"counter_bits must be 8..32 or 0, got {counter_bits}")
        inode, mmh, members, runs = await self._mm_and_file(pid, mapping)
        mc, mmc = int(mmh[b"map_count"]), int(mmh[b"max_map_count"])
        if mc + count > mmc:
            raise ResourceExhausted(f"process {pid} has {mc} VMAs; {count} more pass vm.max_map_count {mmc} (ENOMEM)")
        prof = profiles.get(_s(inode.get(b"profile", b"")) or self.ctx.settings.profile)
        limit, action = resolve_policy(Vma(0, 0, 0, 0, mapping, limit=prof.mapcount_limit, action=prof.mapcount_action),
                                       _s(mmh.get(b"mapcount_limit", b"")), _s(mmh.get(b"mapcount_action", b"")))
        index = offset >> PAGE_SHIFT
        try:
            resp = await self.ctx.peers.stub("pagecache").FindFolio(
                page_cache_pb2.FindFolioRequest(mapping=mapping, index=index))
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:       # FindFolio: no such file
                raise NotFound(exc.details() or f"no such file {mapping}") from None
            if exc.code() != grpc.StatusCode.INVALID_ARGUMENT:
                raise
            raise FailedPrecondition(f"page {index} of {mapping}: {exc.details()}") from None
        if not resp.found:
            raise FailedPrecondition(f"page {index} of {mapping} is not in the page cache: fault it in first")
        if not resp.HasField("folio"):
            raise FailedPrecondition(f"page {index} of {mapping} is a hole: the zero page has no mapcount")
        f = resp.folio
        flags = prot_to_vm_flags(prot, shared)
        for _ in range(MAX_MMAP_RETRIES):
            start = get_unmapped_area([Vma.from_json(m) for m in members] + _run_spans(runs), count * PAGE_SIZE, 0,
                                      int(mmh.get(b"mmap_base", MMAP_BASE)))  # fmt: skip
            run = {"s": start, "n": count, "m": mapping, "pg": index, "f": flags, "node": f.node, "head": f.pfn,
                   "pfn": f.pfn + (index - resp.folio_index), "order": f.order, "index": resp.folio_index,
                   "b": counter_bits or prof.mapcount_bits}  # fmt: skip
            r = lua.live(await lua.MAP_MANY(
                self.redis, **mm_keys(pid, ("mm", "vmas", "runs", "pagemaps")), i_mmap=keys.mapping(mapping, "i_mmap"),
                inode=keys.mapping(mapping, "inode"), spans=self.spans, pid=pid, run=json.dumps(run), limit=limit,
                action=action), pid)  # fmt: skip
            out = {"address": start, "folio": (run["head"], run["order"], run["node"]), "pfn": run["pfn"]}
            if r.kind == "ok":
                return {**out, "mappings": r.mappings, "tasks": r.tasks, "killed": 0, "pinned": bool(r.pinned),
                        "saturated": r.saturated, "wraps": r.wraps, "mapcount": r.mapcount, "refcount": r.refcount,
                        "killed_reason": ""}  # fmt: skip
            if r.kind == "killed_now":
                await self.faults.free_folios(lua.freed(r.freed))
                await self.faults.evict_inodes(r.evict)
                d = await self.folio_mapcount(f.node, run["pfn"])
                return {**out, "mappings": 0, "tasks": int(mmh.get(b"nr_tasks", 1)), "killed": int(mmh.get(b"nr_tasks", 1)),
                        "pinned": False, "saturated": 0, "wraps": 0, "mapcount": d["raw"], "refcount": d["refcount"],
                        "killed_reason": r.reason}  # fmt: skip
            if r.kind == "enomem":
                raise ResourceExhausted(f"process {pid} has {r.map_count} VMAs: vm.max_map_count reached (ENOMEM)")
            if r.kind == "unlinked":
                raise FailedPrecondition(f"{mapping} was unlinked; only its existing mappings remain")
            members = await self.redis.zrange(keys.mm(pid, "vmas"), 0, -1)
            runs = await self.redis.hgetall(keys.mm(pid, "runs"))
        raise Aborted(f"MapMany kept racing with other changes of pid {pid} or {mapping}; retry")

    async def pin_pages(self, pid: int, address: int, count: int) -> dict:
        """get_user_pages(FOLL_GET) ``count`` times on the page mapped at ``address`` (try_get_page)."""
        require(0 < count <= 1 << 32, f"count must be 1..{1 << 32}, got {count}")
        r = lua.live(await lua.PIN_PAGES(self.redis, **mm_keys(pid, ("mm", "pte", "pins")), spans=self.spans,
                                         vpn=address >> PAGE_SHIFT, count=count), pid)  # fmt: skip
        if r.kind == "nopte":
            raise FailedPrecondition(f"no page is mapped at {address:#x} in pid {pid}: fault it in first")
        if r.kind == "zero":
            raise FailedPrecondition(f"{address:#x} maps the shared zero page, which takes no references")
        return {"pinned": r.pinned, "refused": r.refused, "refcount": r.refcount, "pfn": r.pfn}

    async def munmap(self, pid: int, addr: int, length: int) -> int:
        require(addr % PAGE_SIZE == 0, f"addr must be page aligned, got {addr:#x} (EINVAL)")
        require(length > 0, "length must be positive (EINVAL)")
        end = addr + page_align(length)
        for _ in range(MAX_MMAP_RETRIES):
            pipe = self.redis.pipeline(transaction=False)
            pipe.exists(keys.mm(pid, "mm"))
            pipe.zrangebyscore(keys.mm(pid, "vmas"), "-inf", f"({end}")
            pipe.hgetall(keys.mm(pid, "runs"))
            exists, members, runs = await pipe.execute()
            if not exists:
                raise NotFound(f"no process with pid {pid}")
            plan = []
            for m in members:
                v = Vma.from_json(m)
                if v.end > addr:
                    plan.append({"old": _s(m), "new": [p.to_json() for p in split_for_munmap(v, addr, end)]})
            run_plan = []
            for k, text in runs.items():
                run = json.loads(text)
                if b":" not in k and run["s"] < end and run["s"] + run["n"] * PAGE_SIZE > addr:
                    gone, left = split_run_for_munmap(run, addr, end)
                    run_plan.append({"old": _s(text), "k": gone, "new": [json.dumps(p) for p in left]})
            r = lua.live(await lua.MUNMAP(self.redis, **mm_keys(pid, ("mm", "vmas", "runs")), spans=self.spans,
                                          pid=pid, start=addr, stop=end, plan=json.dumps(plan),
                                          run_plan=json.dumps(run_plan)), pid)  # fmt: skip
            if r.kind == "ok":
                await self.faults.free_folios(lua.freed(r.freed))
                await self.faults.evict_inodes(r.evict)
                return r.zapped
            if r.kind == "enomem":
                raise ResourceExhausted(f"splitting would pass vm.max_map_count of pid {pid} (ENOMEM)")
        raise ResourceExhausted(f"munmap kept racing with other changes of pid {pid}")

    async def fork(self, pid: int) -> dict:
        """fork(2)'s dup_mmap (kernel/fork.c) in ONE script: a child with the parent's VMAs and MapMany runs,
        sharing its anon_vma; private VMAs with anonymous pages have their page tables copied and those pages
        made copy-on-write in both processes (mm/memory.c copy_present_pte); the rest the child refaults
        (vma_needs_copy). Returns the child's pid, its VMAs, the PTEs copied and the COW pages shared."""
        r = lua.live(await lua.FORK(self.redis, **mm_keys(pid, ("mm", "vmas", "pte", "pte_idx", "runs")),
                                    pids=keys.cluster("pids"), procs=keys.cluster("procs"), spans=self.spans,
                                    pid=pid), pid)  # fmt: skip
        if r.kind == "bulk":
            raise FailedPrecondition(f"pid {pid} stands for a bulk Spawn of {r.tasks} processes; fork one made alone")
        if r.kind == "overflow":
            raise ResourceExhausted(f"fork of pid {pid} refused: {r.why} (try_get_page)")
        return {"pid": r.child, "vmas": r.vmas, "ptes": r.ptes, "cow": r.cow}

    async def mprotect(self, pid: int, addr: int, length: int, prot: set[str]) -> dict:
        """mprotect(2) (mm/mprotect.c): the VMAs of [addr, addr + length) take the new protection, split and
        merged (mprotect_plan), and their PTEs follow (MPROTECT) in one script. Returns the VMAs replaced, the
        VMAs now standing for them and the PTEs changed. Length 0 changes nothing, as in the kernel."""
        require(addr % PAGE_SIZE == 0, f"addr must be page aligned, got {addr:#x} (EINVAL)")
        end = addr + page_align(length)
        require(end <= TASK_SIZE, f"[{addr:#x}, {end:#x}) is past TASK_SIZE (ENOMEM)")
        bits = prot_to_vm_flags(prot, False) & (VM_READ | VM_WRITE | VM_EXEC)
        for _ in range(MAX_MMAP_RETRIES):
            pipe = self.redis.pipeline(transaction=False)
            pipe.hmget(keys.mm(pid, "mm"), "state", "killed_reason")
            pipe.zrange(keys.mm(pid, "vmas"), 0, -1)
            pipe.hgetall(keys.mm(pid, "runs"))
            (state, why), members, runs = await pipe.execute()
            if state is None:
                raise NotFound(f"no process with pid {pid}")
            if state != b"running":
                raise FailedPrecondition(f"process {pid} was killed: {_s(why or b'')}")
            if length == 0:
                return {"old": 0, "new": 0, "ptes": 0}
            for run in _run_spans(runs):
                if run.start < end and run.end > addr:
                    raise FailedPrecondition(f"[{addr:#x}, {end:#x}) overlaps a MapMany run at {run.start:#x}; "
                                             "mprotect of runs is not modelled")
            old, new = mprotect_plan([Vma.from_json(m) for m in members], addr, end, bits)
            if not old:
                return {"old": 0, "new": 0, "ptes": 0}
            r = lua.live(await lua.MPROTECT(
                self.redis, **mm_keys(pid, ("mm", "vmas", "pte", "pte_idx")), spans=self.spans, pid=pid, start=addr, stop=end,
                old=json.dumps([v.to_json() for v in old]), new=json.dumps([v.to_json() for v in new]),
                wrprotect=int(not bits & VM_WRITE), protnone=int(bits == 0)), pid)  # fmt: skip
            if r.kind == "ok":
                return {"old": len(old), "new": len(new), "ptes": r.ptes}
            if r.kind == "enomem":
                raise ResourceExhausted(f"process {pid} has {r.map_count} VMAs: splitting passes vm.max_map_count (ENOMEM)")
        raise Aborted(f"mprotect kept racing with other changes of pid {pid}; retry")

    async def exit(self, pid: int) -> tuple[int, int, int]:
        """exit_mmap; (pages unmapped, VMAs, folios freed). A retry whose first attempt released the pid (and
        then died or lost its answer) answers that attempt's counts; the ledger's and the due evictions'
        recovery passes finish what it left (the free of its folios, the eviction of orphans)."""
        r = await lua.EXIT(self.redis, mm=keys.mm(pid, "mm"), procs=keys.cluster("procs"), spans=self.spans, pid=pid,
                           **idempotency.marker())
        if r.kind == "nopid" and (done := await idempotency.first_did(self.redis)) is not None:
            d = json.loads(done)
            tracing.annotate(retried_exit=f"pid {pid}: the first attempt released it")
            return d["zapped"], d["vmas"], d["freed"]
        r = lua.live(r, pid)
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
        """/proc/PID/maps: one line per VMA; a MapMany run of n one-page VMAs shows its first and last VMA
        and, between them, one line saying how many alike VMAs it stands for (not a maps line: it starts
        with '...')."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.exists(keys.mm(pid, "mm"))
        pipe.zrange(keys.mm(pid, "vmas"), 0, -1)
        pipe.hgetall(keys.mm(pid, "runs"))
        exists, members, runs = await pipe.execute()
        if not exists:
            raise NotFound(f"no process with pid {pid}")
        lines = [(v.start, [format_maps_line(v)]) for v in map(Vma.from_json, members)]
        run_list = [json.loads(v) for k, v in runs.items() if b":" not in k]
        names = sorted({r["m"] for r in run_list})
        pipe = self.redis.pipeline(transaction=False)
        for m in names:
            pipe.hget(keys.mapping(m, "inode"), "path")
        paths = dict(zip(names, await pipe.execute()))
        for r in run_list:
            fs, ino = r["m"].split("/", 1)
            one = Vma(r["s"], r["s"] + PAGE_SIZE, r["pg"], r["f"], r["m"], int(ino), dev_of_fs(fs),
                      f"/mnt/{fs}{_s(paths[r['m']] or b'')}")  # fmt: skip
            out = [format_maps_line(one)]
            if r["n"] > 2:
                out.append(f"... {r['n'] - 2} more one-page VMAs like these (a MapMany run of {r['n']})")
            if r["n"] > 1:
                last = r["s"] + (r["n"] - 1) * PAGE_SIZE
                out.append(format_maps_line(Vma(last, last + PAGE_SIZE, one.pgoff, one.flags, one.mapping, one.ino,
                                                one.dev, one.path)))  # fmt: skip
            lines.append((r["s"], out))
        return [line for _, group in sorted(lines, key=lambda x: x[0]) for line in group]

    async def proc_status(self, pid: int) -> dict[str, str]:
        h = await self.redis.hgetall(keys.mm(pid, "mm"))
        if not h:
            raise NotFound(f"no process with pid {pid}")
        return {_s(k): _s(v) for k, v in h.items()}

    async def rmap_walk(self, node: int, pfn: int) -> list[dict]:
        """rmap_walk (mm/rmap.c) of one page: every process and address mapping it (anon_vma for a COW page, the
        file's i_mmap for a page-cache page; a MapMany run is one entry with its count), in one script."""
        require(0 <= node < self.ctx.settings.numa_nodes, f"node must be 0..{self.ctx.settings.numa_nodes - 1}, got {node}")
        e = (await lua.RMAP_WALK(self.redis, spans=self.spans, node=node, pfn=pfn)).entries
        return [{"pid": int(e[i]), "address": int(e[i + 1]), "kind": e[i + 2], "vmas": int(e[i + 3]),
                 "tasks": int(e[i + 4])} for i in range(0, len(e), 5)]  # fmt: skip

    async def folio_mapcount(self, node: int, pfn: int) -> dict:
        require(0 <= node < self.ctx.settings.numa_nodes, f"node must be 0..{self.ctx.settings.numa_nodes - 1}, got {node}")
        r = await lua.FOLIO_MAPCOUNT(self.redis, spans=self.spans, node=node, pfn=pfn)
        per = dict(zip(r.per_process[::2], r.per_process[1::2]))
        return {"folio_mapcount": r.total, "raw": r.raw, "refcount": r.refcount, "pinned": r.pinned == 1,
                "head": r.head, "order": r.order, "per_process": per, "entire": r.entire,
                "page_mapcount": r.page_mapcount}  # fmt: skip


def _run_spans(runs: dict) -> list[Vma]:
    """The address ranges MapMany's runs occupy, as VMAs for the free-range search."""
    out = []
    for k, v in runs.items():
        if b":" not in k:
            d = json.loads(v)
            out.append(Vma(d["s"], d["s"] + d["n"] * PAGE_SIZE, d["pg"], d["f"], d["m"]))
    return out


def prot_letters(values) -> set[str]:
    letters = {1: "r", 2: "w", 4: "x"}
    out = set()
    for v in values:
        if v not in letters:
            raise InvalidArgument(f"unknown prot value {v}")
        out.add(letters[v])
    return out


__all__ = ["ReverseMap", "mm_keys", "prot_letters"]
