"""`mmsim` commands for what the kernel keeps for debugging: CONFIG_DEBUG_VM-style invariants, the recovery
passes, the large-folio counters of sysfs, and the eviction of an orphan inode.

    mmsim check --json      mmsim recover      mmsim thp stats      mmsim evict xfs0/1
"""

from __future__ import annotations

from typing import Annotated

from mmsim.cli_base import EXIT_ERROR, Mapping, Out, app, command, connect, group, number, opt, table
from mmsim.cli_ops import on_file


@command(app, "check", panel="Inspect")
def check(limit: Annotated[int, opt("report at most this many violations (0 = all)", "--max",
                                    parser=number(0, 1 << 20), metavar="N")] = 0) -> Out:
    """Every service's invariants, as CONFIG_DEBUG_VM would check them: every pfn has exactly one owner (buddy,
    page cache, process pages, vmalloc, in flight), free lists agree with struct pages, nr_free_pages is the
    sum of buddyinfo, cached folios are live, aligned and below EOF, _mapcount equals the PTEs. Exits 1 on
    any violation.

    Example: mmsim check --json
    """
    with connect() as mm:
        report = mm.check(limit)
    lines = [f"{v.rule:<28} {v.service:<10} pfn={v.pfn:#x} key={v.key or '-'}  {v.message}" for v in report.violations]
    owners = ", ".join(f"{k} {n}" for k, n in sorted(report.owners.items()))
    lines.append(f"{len(report.violations)} violation(s){' (truncated)' if report.truncated else ''}; "
                 f"pages by owner: {owners}")
    return Out(report.to_dict(), "\n".join(lines), EXIT_ERROR if report.violations else 0)


@command(app, "recover", panel="Inspect")
def recover(older_than_ms: Annotated[int, opt("treat in-flight allocations older than this as abandoned "
                                              "(milliseconds; 0 = MMSIM_LEDGER_DEADLINE_MS)", "--older-than-ms",
                                              parser=number(0, 1 << 40), metavar="MS")] = 0) -> Out:
    """Run the recovery passes now: abandoned in-flight allocations back to the buddy lists, interrupted
    truncates, hole punches, unlinks and reflinks finished.

    Example: mmsim recover --older-than-ms 0
    """
    with connect() as mm:
        pages = mm.recover(older_than_ms)
    return Out({"pages_reclaimed": pages}, f"pages reclaimed: {pages}")


thp_app = group("thp", "Large folios: /sys/kernel/mm/transparent_hugepage/hugepages-<size>kB/stats.")


@command(thp_app, "stats")
def thp_stats() -> Out:
    """Per size: file_alloc, file_fallback, split, split_failed (the sysfs stats files), then the THP
    events of /proc/vmstat.

    Example: mmsim thp stats --json
    """
    with connect() as mm:
        stats = mm.thp_stats()
    rows = [[s.path, s.file_alloc, s.file_fallback, s.split, s.split_failed] for s in stats.sizes]
    vm = "\n".join(f"{k} {v}" for k, v in sorted(stats.vmstat.items()))

    def render():
        from rich.console import Group  # noqa: PLC0415

        return Group(table(["stats directory", "file_alloc", "file_fallback", "split", "split_failed"], rows), vm)

    return Out(stats.to_dict(), render)


@command(app, "evict", panel="Files")
def evict(mapping: Mapping) -> Out:
    """iput_final -> evict: free an unlinked file nothing maps any more (the last munmap or exit does this
    itself; this finishes one a crash interrupted). Idempotent.

    Example: mmsim evict xfs0/1
    """
    return on_file(mapping, lambda f: f.evict())
