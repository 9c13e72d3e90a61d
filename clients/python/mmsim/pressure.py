"""``mmsim pressure``: fill memory several times over with file pages and keep faulting (issue 10's workload).

Files of one fresh filesystem are written through write(2) (dirty folios), half of them fsync'ed at once
(clean folios); several processes map them shared and keep reading and storing through their mappings
(mapped folios, dirty through PTEs) in rounds. Together the files hold ``factor`` times the machine's memory,
so the page cache can only keep going if reclaim (kswapd and direct reclaim, through the reverse map and
the filesystem) makes room. After each round `mmsim check` must be clean; at the end every byte of every
file is read back through read(2) and compared with what was written (a dirty folio reclaim wrote back
must have reached the blocks), and the /proc/vmstat deltas of the run are reported.
"""

from __future__ import annotations

import random
import secrets
import time
from dataclasses import asdict, dataclass, field

from mmsim import errors
from mmsim.client import PAGE_SIZE, Cluster

WRITE_CHUNK = 256 << 10
COUNTERS = ("pgscan_kswapd", "pgscan_direct", "pgsteal_kswapd", "pgsteal_direct", "pgactivate", "pgdeactivate",
            "pgrefill", "workingset_refault_file", "workingset_activate_file", "workingset_restore_file",
            "nr_vmscan_write", "pageoutrun", "oom_kill", "pgmajfault", "pgfault")
"""The /proc/vmstat events the run reports as deltas."""


def page_bytes(file_no: int, page: int, stamp: str = "") -> bytes:
    """What page ``page`` of file ``file_no`` holds: a readable header (and the last store's stamp), then a fill."""
    head = f"f{file_no}p{page}{stamp}".encode()[:64].ljust(64, b".")
    return head + bytes([(file_no * 31 + page) % 251 + 1]) * (PAGE_SIZE - 64)


@dataclass
class PressureResult:
    memory_pages: int                  # the machine's managed pages
    file_pages: int                    # pages written across all files (units: pages)
    files: int
    processes: int
    rounds: int
    faults: int                        # page faults the mapped accesses took (units: faults)
    elapsed_s: float                   # seconds for the rounds (writing excluded)
    faults_per_s: float
    checks_clean: int                  # rounds after which `mmsim check` was clean
    bytes_verified: int                # bytes read back and equal to what was written (units: bytes)
    mismatches: list[str] = field(default_factory=list)   # "file N page P" of every page read back wrong
    violations: list[str] = field(default_factory=list)   # what `mmsim check` found, by round
    vmstat: dict[str, int] = field(default_factory=dict)  # deltas of COUNTERS over the whole run
    lru: dict[str, int] = field(default_factory=dict)     # nr_inactive_file / nr_active_file at the end (pages)

    @property
    def ok(self) -> bool:
        return not self.mismatches and self.checks_clean == self.rounds

    @property
    def kswapd_share(self) -> float:
        """The share of reclaimed pages that kswapd reclaimed (0..1)."""
        total = self.vmstat.get("pgsteal_kswapd", 0) + self.vmstat.get("pgsteal_direct", 0)
        return self.vmstat.get("pgsteal_kswapd", 0) / total if total else 0.0

    @property
    def refault_rate(self) -> float:
        """Refaults per major fault (workingset_refault_file / pgmajfault)."""
        major = self.vmstat.get("pgmajfault", 0)
        return self.vmstat.get("workingset_refault_file", 0) / major if major else 0.0

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(ok=self.ok, kswapd_share=round(self.kswapd_share, 4), refault_rate=round(self.refault_rate, 4))
        return d


def run(mm: Cluster, factor: float = 2.0, files: int = 4, processes: int = 3, rounds: int = 3,
        accesses: int = 64, alloc_context: str = "", seed: int = 0) -> PressureResult:
    """The workload; ``accesses`` mapped pages each process touches per round (every fourth a store)."""
    if not 0.1 <= factor <= 16:
        raise errors.InvalidArgument(f"factor must be 0.1..16 (times the memory), got {factor}")
    for name, v, lo, hi in (("files", files, 1, 64), ("processes", processes, 1, 64), ("rounds", rounds, 1, 1000),
                            ("accesses", accesses, 1, 100000)):
        if not lo <= v <= hi:
            raise errors.InvalidArgument(f"{name} must be {lo}..{hi}, got {v}")
    rng = random.Random(seed)
    memory = mm.allocator.zoneinfo().managed_pages
    per_file = max(1, int(memory * factor) // files)
    before = mm.vmstat()
    fs = mm.mkfs("pressure" + secrets.token_hex(3), alloc_context=alloc_context)
    handles, expect = [], {}
    for i in range(files):
        f = fs.create(f"/f{i}")
        pages = [page_bytes(i, p) for p in range(per_file)]
        for p, content in enumerate(pages):
            expect[(i, p)] = content
        step = WRITE_CHUNK // PAGE_SIZE
        for p in range(0, per_file, step):
            f.write(p * PAGE_SIZE, b"".join(pages[p:p + step]))
        if i % 2:
            f.fsync()
        handles.append(f)
    procs = []
    for n in range(processes):
        proc = mm.spawn(f"pressure{n}")
        vmas = [proc.mmap(f, per_file * PAGE_SIZE, prot="rw", shared=True) for f in handles]
        procs.append((proc, vmas))
    faults, clean, violations = 0, 0, []
    t0 = time.perf_counter()
    for r in range(rounds):
        for n, (proc, vmas) in enumerate(procs):
            for a in range(accesses):
                i, p = rng.randrange(files), rng.randrange(per_file)
                addr = vmas[i].start + p * PAGE_SIZE
                if a % 4 == 3:
                    content = page_bytes(i, p, f":r{r}w{n}")
                    res = proc.write_memory(addr, content)
                    expect[(i, p)] = content
                else:
                    res = proc.read_memory(addr, PAGE_SIZE)
                    if res.ok and res.data != expect[(i, p)]:
                        raise errors.DataLoss(f"pressure: file {i} page {p} read through the mapping of pid "
                                              f"{proc.pid} differs from what was written")
                if not res.ok:
                    raise errors.ResourceExhausted(f"pressure: access of pid {proc.pid} failed: {res.vm_fault}")
                faults += res.faults
        report = mm.check()
        clean += report.ok
        violations += [f"round {r}: {v.rule} ({v.service}) pfn {v.pfn}: {v.message}" for v in report.violations]
    elapsed = time.perf_counter() - t0
    mismatches, verified = [], 0
    for i, f in enumerate(handles):
        for p in range(0, per_file, WRITE_CHUNK // PAGE_SIZE):
            n = min(WRITE_CHUNK // PAGE_SIZE, per_file - p)
            data = f.read(p * PAGE_SIZE, n * PAGE_SIZE)
            for k in range(n):
                if data[k * PAGE_SIZE:(k + 1) * PAGE_SIZE] == expect[(i, p + k)]:
                    verified += PAGE_SIZE
                else:
                    mismatches.append(f"file {i} page {p + k}")
    after = mm.vmstat()
    return PressureResult(
        memory_pages=memory, file_pages=per_file * files, files=files, processes=processes, rounds=rounds,
        faults=faults, elapsed_s=round(elapsed, 3), faults_per_s=round(faults / elapsed, 2) if elapsed else 0.0,
        checks_clean=clean, bytes_verified=verified, mismatches=mismatches, violations=violations[:20],
        vmstat={k: after.get(k, 0) - before.get(k, 0) for k in COUNTERS},
        lru={k: after.get(k, 0) for k in ("nr_inactive_file", "nr_active_file", "nr_free_pages")})
