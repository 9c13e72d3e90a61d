"""Reclaim benchmark (issue 10): the fill-twice pressure workload (mmsim.pressure) on a small machine.

    .venv/bin/python benchmarks/bench_reclaim.py [--memory 8MiB] [--factor 2] [--rounds 3] [--accesses 64]
        [--frag-pages 128]

Printed as tables: faults per second under pressure, the share of reclaim done by kswapd against direct
reclaim, the refault rate (workingset_refault_file per major fault), and the large-folio success rate under
pressure (allocations of order > 0 that succeeded, from the allocator's per-order counters), each run on a
fresh stack per filesystem allocation context (scope, gfp_nofs, none). A second table gives the large-folio
success rate of the faults on a fragmented machine (`mmsim fragment --movable`: single free pages between
movable ones) with direct compaction and without it (MMSIM_COMPACTION=0), with the compaction counters.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time

from mmsim import pressure, stack
from mmsim.client import PAGE_SIZE, Cluster
from mmsim.runtime import config

CONTEXTS = ("scope", "gfp_nofs", "none")


def large_folio_rate(before: dict, after: dict) -> tuple[int, int]:
    ok = sum(after.get(f"mmsim_alloc_success_order_{o}", 0) - before.get(f"mmsim_alloc_success_order_{o}", 0)
             for o in range(1, 10))
    fail = sum(after.get(f"mmsim_alloc_fail_order_{o}", 0) - before.get(f"mmsim_alloc_fail_order_{o}", 0)
               for o in range(1, 10))
    return ok, ok + fail


@contextlib.contextmanager
def _stack(memory: str, **env: str):
    settings = stack.pick_free_settings(config.load({"MMSIM_MEMORY": memory, "MMSIM_LOG_LEVEL": "warning", **env}),
                                        tempfile.mkdtemp(prefix="bench-reclaim-"))
    stack.up(settings, timeout=60, tied=True)
    try:
        with Cluster.connect(settings, timeout=120) as mm:
            yield mm
    finally:
        stack.down(settings)


def _rate(ok: int, tried: int) -> str:
    return f"{ok}/{tried}" + (f" ({ok / tried:.0%})" if tried else "")


def run(memory: str, context: str, args) -> dict:
    with _stack(memory) as mm:
        before = mm.vmstat()
        r = pressure.run(mm, args.factor, args.files, args.processes, args.rounds, args.accesses, context)
        ok, tried = large_folio_rate(before, mm.vmstat())
    v = r.vmstat
    return {"context": context, "faults/s": r.faults_per_s, "faults": r.faults,
            "kswapd share": f"{r.kswapd_share:.0%}",
            "steal kswapd/direct": f"{v['pgsteal_kswapd']}/{v['pgsteal_direct']}",
            "scan kswapd/direct": f"{v['pgscan_kswapd']}/{v['pgscan_direct']}",
            "refault rate": f"{r.refault_rate:.2f}", "refaults": v["workingset_refault_file"],
            "large folios ok": _rate(ok, tried),
            "pageout writes": v["nr_vmscan_write"], "ok": r.ok}


def run_fragmented(memory: str, compaction: bool, files: int, pages: int) -> dict:
    """Faults through ``files`` files of ``pages`` pages each (written, then dropped from the cache) on a machine
    fragmented with movable pages: how many large-folio attempts of the page cache succeed (the per-size
    file_alloc / file_fallback counters), with or without compaction."""
    with _stack(memory, MMSIM_COMPACTION=str(int(compaction))) as mm:
        fs = mm.mkfs("frag")
        handles = [fs.create(f"/f{i}") for i in range(files)]
        for f in handles:
            f.write(0, b"f" * (pages * PAGE_SIZE))
            f.fsync()
            f.fadvise_dontneed()
        mm.allocator.fragment(max_free_order=0, movable=True)
        before, sizes = mm.vmstat(), mm.thp_stats().sizes
        proc = mm.spawn("faulter")
        largest, start = 0, time.perf_counter()
        for f in handles:
            vma, i = proc.mmap(f, pages * PAGE_SIZE), 0
            while i < pages:
                r = proc.fault(vma.start + i * PAGE_SIZE)
                largest, i = max(largest, r.folio_order), i + max(1, r.pages_mapped)
        seconds = time.perf_counter() - start
        after = mm.vmstat()
        ok = sum(a.file_alloc - b.file_alloc for a, b in zip(mm.thp_stats().sizes, sizes))
        tried = ok + sum(a.file_fallback - b.file_fallback for a, b in zip(mm.thp_stats().sizes, sizes))
    d = {k: after.get(k, 0) - before.get(k, 0) for k in COMPACT_COUNTERS}
    return {"compaction": "on" if compaction else "off", "large folios ok": _rate(ok, tried),
            "largest order": largest, "fault s": f"{seconds:.2f}", **d}


COMPACT_COUNTERS = ("compact_stall", "compact_success", "compact_fail", "compact_migrate_scanned",
                    "compact_free_scanned", "compact_isolated", "pgmigrate_success")


def table(rows: list[dict]) -> None:
    cols = list(rows[0])
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in cols]
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths)))
    for r in rows:
        print("  ".join(str(r[c]).ljust(w) for c, w in zip(cols, widths)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--memory", default="8MiB")
    ap.add_argument("--factor", type=float, default=2.0)
    ap.add_argument("--files", type=int, default=4)
    ap.add_argument("--processes", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--accesses", type=int, default=64)
    ap.add_argument("--contexts", default=",".join(CONTEXTS))
    ap.add_argument("--frag-pages", type=int, default=128, help="pages per file in the fragmented-machine run")
    args = ap.parse_args()
    rows = [run(args.memory, c, args) for c in args.contexts.split(",")]
    print(f"pressure: {args.factor:g}x {args.memory} in {args.files} files, {args.processes} processes, "
          f"{args.rounds} rounds x {args.accesses} accesses")
    table(rows)
    print(f"\nfragmented (mmsim fragment --movable), {args.memory}: faults through {args.files} files of "
          f"{args.frag_pages} pages")
    table([run_fragmented(args.memory, on, args.files, args.frag_pages) for on in (True, False)])


if __name__ == "__main__":
    main()
