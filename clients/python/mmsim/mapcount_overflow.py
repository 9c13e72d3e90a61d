"""The LSFMM 2018 mapcount overflow, for real: map one page 2**bits times and see what each policy does.

"If an application uses mmap() to map the same page four-billion times, the map count in the kernel will
overflow" (LWN, "Willy's memory-management to-do list"). The workload, as an exploit would run it:

1. a victim maps a page of its file (one PTE: _mapcount 0, _refcount 2 = the page cache + the PTE);
2. attackers map the same page 2**bits - 1 more times, as many one-page VMAs per process as vm.max_map_count
   (65530) allows, in as many processes as that forces (bulk Spawn + MapMany: counted runs, O(1) each);
3. ``none`` (mainline): _mapcount wraps back to -1 and _refcount to 1: the page looks unmapped and referenced
   by the page cache alone, so invalidate_mapping_pages (drop_caches, POSIX_FADV_DONTNEED) frees it while
   2**bits PTEs still map it; the next allocation hands it to someone else and the victim reads their data;
   ``kill`` (Wilcox's patch): every process that maps the page more than 5000 times is killed, nothing wraps;
   ``leak`` (Morton): the page is pinned, the counter saturates, the page is never freed;
4. try_get_page (v5.1): 2**32 get_user_pages pins on another page are refused before _refcount overflows;
5. ``mmsim check``, then every process exits.

The memory a real kernel needs for the same mappings is computed (``kernel_memory``): the article's "30GB of
RAM" is the page tables (8 bytes per PTE); the VMAs themselves cost far more (Jann Horn: ~800 GiB).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

from mmsim import errors
from mmsim.v1 import page_cache_pb2

PAGE_SIZE = 4096
PTRS_PER_TABLE = 512              # entries per page-table page (x86-64, 4-level paging)
SIZEOF_VM_AREA_STRUCT = 200       # bytes, include/linux/mm_types.h on x86-64 (Jann Horn's ~200 B per VMA)
THREAD_SIZE = 16 << 10            # the kernel stack of each task (arch/x86/include/asm/page_64_types.h)
DEFAULT_MAX_MAP_COUNT = 65530     # include/linux/mm.h: USHRT_MAX - 5
WILCOX_LIMIT = 5000               # the posted fix: kill a process mapping one page more than 5000 times
POLICIES = ("none", "kill", "leak")
INTRUDER_PAGES = 64               # order-0 pages the intruder writes looking for the freed page


def _tables(entries: int) -> int:
    return -(-entries // PTRS_PER_TABLE)


def kernel_memory(processes: list[tuple[int, int]]) -> dict:
    """Bytes a real x86-64 kernel needs for ``processes`` = [(tasks, one-page VMAs each)], the VMAs adjacent:
    one vm_area_struct per VMA; page tables (PTE pages, PMD, PUD pages and the PGD) per task; a kernel stack
    per task. task_struct and mm_struct (a few KiB each) are left out."""
    vmas = sum(t * n for t, n in processes) * SIZEOF_VM_AREA_STRUCT
    tables = sum(t * (_tables(n) + _tables(_tables(n)) + 1 + 1) * PAGE_SIZE for t, n in processes)
    stacks = sum(t for t, _ in processes) * THREAD_SIZE
    return {"vm_area_structs": vmas, "page_tables": tables, "kernel_stacks": stacks, "total": vmas + tables + stacks}


@dataclass
class OverflowReport:
    """What happened to the page, step by step, and the bill a real kernel would have paid."""

    policy: str
    counter_bits: int
    mappings: int                  # mappings of the page made (victim + attackers)
    processes: int                 # attacker processes vm.max_map_count forced
    per_process: int               # one-page VMAs per attacker process (vm.max_map_count)
    pfn: int
    mapcount_raw: int              # the page's _mapcount after the attack
    refcount: int
    looks_unmapped: bool           # _mapcount == -1 while mapped
    wraps: int
    killed: int                    # attacker processes the kill policy killed
    pinned: bool                   # the leak policy pinned the page
    saturated: int                 # mappings the saturated counter did not count (leak)
    freed_while_mapped: bool       # invalidate_mapping_pages freed the page under its PTEs
    free_trace: str = ""           # the trace of that free
    reused_by: str = ""            # who the next allocation handed the page to
    victim_reads: str = ""         # what the victim's PTE shows afterwards
    gup: dict = field(default_factory=dict)        # try_get_page: pins taken and refused
    violations: dict = field(default_factory=dict)  # mmsim check: rule -> count
    bad_page_maps: int = 0         # "BUG: Bad page map" at exit: PTEs of a page that is no longer theirs
    kernel_memory: dict = field(default_factory=dict)
    seconds: float = 0.0           # running time of the whole workload

    def to_dict(self) -> dict:
        return asdict(self)


def _plan(total: int, per_process: int) -> list[tuple[int, int]]:
    """[(tasks, VMAs each)]: full processes, then one with the rest."""
    full, rest = divmod(total, per_process)
    return [(t, n) for t, n in ((full, per_process), (1, rest)) if t and n]


def run(mm, policy: str, counter_bits: int = 32, keep: bool = False) -> OverflowReport:
    """Run the workload on cluster ``mm`` (mmsim.client.Cluster) under ``policy``; every process exits at the
    end unless ``keep``."""
    if policy not in POLICIES:
        raise errors.InvalidArgument(f"policy must be one of {', '.join(POLICIES)}, got {policy!r}")
    if not 8 <= counter_bits <= 32:
        raise errors.InvalidArgument(f"counter bits must be 8..32, got {counter_bits}")
    t0 = time.monotonic()
    tag = f"ovf{time.time_ns() % 10**9}"
    fs = mm.mkfs(tag, profile="lsfmm2018", max_folio_order=0)
    secret = fs.create("/victim")
    secret.write(0, b"victim's secret".ljust(PAGE_SIZE, b"."))
    secret.write(PAGE_SIZE, b"pinned page".ljust(PAGE_SIZE, b"."))
    secret.fsync()   # written back: clean, so only the mapcount keeps invalidate_mapping_pages away
    limit = WILCOX_LIMIT if policy != "none" else 0
    victim = mm.spawn("victim", mapcount_limit=limit, mapcount_action=policy)
    vma = victim.mmap(secret, 2 * PAGE_SIZE, "r", shared=True)
    victim.fault(vma.start)

    gup_page = victim.fault(vma.start + PAGE_SIZE)
    pins = victim.pin_pages(vma.start + PAGE_SIZE, 1 << 32)
    gup = {"asked": 1 << 32, "pinned": pins.pinned, "refused": pins.refused, "refcount": pins.refcount,
           "pfn": gup_page.pfn}

    attack = _plan((1 << counter_bits) - 1, DEFAULT_MAX_MAP_COUNT)
    attackers, last = [], None
    killed = saturated = wraps = 0
    pinned = False
    for tasks, n in attack:
        proc = mm.spawn("attacker", mapcount_limit=limit, mapcount_action=policy, count=tasks)
        attackers.append(proc)
        last = proc.map_many(secret, 0, n, "r", shared=True, counter_bits=counter_bits)
        killed += last.killed
        saturated += last.saturated
        wraps += last.wraps
        pinned = pinned or last.pinned
    pfn = last.folio.pfn
    state = mm.rmap.folio_mapcount(pfn, last.folio.node)
    report = OverflowReport(
        policy, counter_bits, 1 + sum(t * n for t, n in attack), sum(t for t, _ in attack), DEFAULT_MAX_MAP_COUNT,
        pfn, state.page_mapcount_raw, state.refcount, state.page_mapcount_raw == -1, wraps, killed, pinned,
        saturated, False, gup=gup, kernel_memory=kernel_memory(attack))  # fmt: skip

    # drop_caches / POSIX_FADV_DONTNEED: invalidate_mapping_pages frees clean folios that look unmapped
    trace_id, resp = mm._traced_call("pagecache", "InvalidateMapping",
                                     page_cache_pb2.InvalidateMappingRequest(mapping=secret.mapping))
    if resp.pages_freed:
        report.freed_while_mapped, report.free_trace = True, trace_id
        intruder_fs = mm.mkfs(f"{tag}i", max_folio_order=0)
        intruder = intruder_fs.create("/intruder")
        for i in range(INTRUDER_PAGES):
            intruder.write(i * PAGE_SIZE, f"intruder's data, page {i}".encode().ljust(PAGE_SIZE, b"."))
            seen = victim.read_memory(vma.start, 32).data
            if seen.startswith(b"intruder"):
                report.reused_by = f"{intruder.mapping} page {i}"
                break
    report.victim_reads = victim.read_memory(vma.start, 32).data.rstrip(b".").decode(errors="replace")
    found = mm.check(max_violations=50)
    report.violations = {}
    for v in found.violations:
        report.violations[v.rule] = report.violations.get(v.rule, 0) + 1
    if not keep:
        before = mm.vmstat().get("mmsim_bad_page_map", 0)
        for proc in [*attackers, victim]:
            proc.exit()
        report.bad_page_maps = mm.vmstat().get("mmsim_bad_page_map", 0) - before
    report.seconds = round(time.monotonic() - t0, 3)
    return report


def _size(n: int) -> str:
    return f"{n / (1 << 30):,.1f} GiB" if n >= 1 << 30 else f"{n / (1 << 20):,.1f} MiB"


def format_report(r: OverflowReport) -> str:
    km = r.kernel_memory
    lines = [
        f"policy {r.policy}: {r.mappings:,} mappings of pfn {r.pfn} ({r.counter_bits}-bit counters), "
        f"{r.processes:,} attacker processes x up to {r.per_process:,} VMAs (vm.max_map_count)",
        f"after the attack: _mapcount {r.mapcount_raw}, _refcount {r.refcount}"
        + (" -> the page looks unmapped" if r.looks_unmapped else ""),
    ]
    if r.wraps:
        lines.append(f"_mapcount wrapped {r.wraps} time(s)")
    if r.killed:
        lines.append(f"killed {r.killed:,} processes (mapping the page more than {WILCOX_LIMIT} times); nothing wrapped")
    if r.pinned:
        lines.append(f"the page is pinned (leaked, never freed); {r.saturated:,} mappings left uncounted (saturated)")
    if r.freed_while_mapped:
        lines.append(f"invalidate_mapping_pages freed the page while {r.mappings - 1:,} PTEs still map it "
                     f"(trace {r.free_trace})")
        lines.append(f"reallocated to {r.reused_by or 'nobody yet'}; the victim now reads {r.victim_reads!r}")
    else:
        lines.append(f"the page stayed cached; the victim reads {r.victim_reads!r}")
    lines.append(f"try_get_page: {r.gup['pinned']:,} of {r.gup['asked']:,} pins taken, {r.gup['refused']:,} refused "
                 f"(_refcount {r.gup['refcount']:,}, no overflow)")
    rules = ", ".join(f"{k} x{n}" for k, n in sorted(r.violations.items())) or "none"
    lines.append(f"mmsim check: {rules}")
    if r.bad_page_maps:
        lines.append(f"exit: {r.bad_page_maps} bad page map(s) (PTEs of a page that was no longer theirs)")
    lines.append(f"a real kernel would need {_size(km['total'])}: page tables {_size(km['page_tables'])} (the article's "
                 f"\"30GB of RAM\"), VMAs {_size(km['vm_area_structs'])}, kernel stacks {_size(km['kernel_stacks'])}")
    lines.append(f"ran in {r.seconds:.2f} s")
    return "\n".join(lines)
