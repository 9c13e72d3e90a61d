"""Reclaim benchmark (issue 10): the fill-twice pressure workload (mmsim.pressure) on a small machine.

    .venv/bin/python benchmarks/bench_reclaim.py [--memory 8MiB] [--factor 2] [--rounds 3] [--accesses 64]

Printed as tables: faults per second under pressure, the share of reclaim done by kswapd against direct
reclaim, the refault rate (workingset_refault_file per major fault), and the large-folio success rate under
pressure (allocations of order > 0 that succeeded, from the allocator's per-order counters). Compaction is not
modelled (compact_zone migrates nothing), so there is no "with compaction" column: the rate shown is what
reclaim alone achieves. Each run uses a fresh stack per filesystem allocation context (scope, gfp_nofs, none).
"""

from __future__ import annotations

import argparse
import tempfile

from mmsim import pressure, stack
from mmsim.client import Cluster
from mmsim.runtime import config

CONTEXTS = ("scope", "gfp_nofs", "none")


def large_folio_rate(before: dict, after: dict) -> tuple[int, int]:
    ok = sum(after.get(f"mmsim_alloc_success_order_{o}", 0) - before.get(f"mmsim_alloc_success_order_{o}", 0)
             for o in range(1, 10))
    fail = sum(after.get(f"mmsim_alloc_fail_order_{o}", 0) - before.get(f"mmsim_alloc_fail_order_{o}", 0)
               for o in range(1, 10))
    return ok, ok + fail


def run(memory: str, context: str, args) -> dict:
    settings = stack.pick_free_settings(config.load({"MMSIM_MEMORY": memory, "MMSIM_LOG_LEVEL": "warning"}),
                                        tempfile.mkdtemp(prefix="bench-reclaim-"))
    stack.up(settings, timeout=60, tied=True)
    try:
        with Cluster.connect(settings, timeout=120) as mm:
            before = mm.vmstat()
            r = pressure.run(mm, args.factor, args.files, args.processes, args.rounds, args.accesses, context)
            ok, tried = large_folio_rate(before, mm.vmstat())
    finally:
        stack.down(settings)
    v = r.vmstat
    return {"context": context, "faults/s": r.faults_per_s, "faults": r.faults,
            "kswapd share": f"{r.kswapd_share:.0%}",
            "steal kswapd/direct": f"{v['pgsteal_kswapd']}/{v['pgsteal_direct']}",
            "scan kswapd/direct": f"{v['pgscan_kswapd']}/{v['pgscan_direct']}",
            "refault rate": f"{r.refault_rate:.2f}", "refaults": v["workingset_refault_file"],
            "large folios ok": f"{ok}/{tried}" + (f" ({ok / tried:.0%})" if tried else ""),
            "pageout writes": v["nr_vmscan_write"], "ok": r.ok}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--memory", default="8MiB")
    ap.add_argument("--factor", type=float, default=2.0)
    ap.add_argument("--files", type=int, default=4)
    ap.add_argument("--processes", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--accesses", type=int, default=64)
    ap.add_argument("--contexts", default=",".join(CONTEXTS))
    args = ap.parse_args()
    rows = [run(args.memory, c, args) for c in args.contexts.split(",")]
    cols = list(rows[0])
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in cols]
    print(f"pressure: {args.factor:g}x {args.memory} in {args.files} files, {args.processes} processes, "
          f"{args.rounds} rounds x {args.accesses} accesses")
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths)))
    for r in rows:
        print("  ".join(str(r[c]).ljust(w) for c, w in zip(cols, widths)))


if __name__ == "__main__":
    main()
