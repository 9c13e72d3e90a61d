"""`mmsim` commands for memory pressure (issue 10): the fill-twice workload and /proc/zoneinfo.

    mmsim pressure --factor 2 --rounds 3 --json      mmsim proc zoneinfo
"""

from __future__ import annotations

from typing import Annotated

from mmsim.cli_base import EXIT_ERROR, Out, app, choice, command, connect, number, opt, table
from mmsim.cli_inspect import proc_app


def _factor(text: str) -> float:
    import typer  # noqa: PLC0415

    try:
        value = float(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a number") from None
    if not 0.1 <= value <= 16:
        raise typer.BadParameter(f"the factor must be 0.1..16 (times the memory), got {value:g}")
    return value


@command(app, "pressure", panel="Inspect")
def pressure(
    factor: Annotated[float, opt("file data written, as a multiple of the machine's memory", "--factor",
                                 parser=_factor, metavar="X")] = 2.0,
    files: Annotated[int, opt("files the data is spread over", "--files", parser=number(1, 64), metavar="N")] = 4,
    processes: Annotated[int, opt("processes mapping every file shared", "--processes", parser=number(1, 64),
                                  metavar="N")] = 3,
    rounds: Annotated[int, opt("rounds of mapped accesses (`mmsim check` after each)", "--rounds",
                               parser=number(1, 1000), metavar="N")] = 3,
    accesses: Annotated[int, opt("mapped pages each process touches per round (every fourth a store)", "--accesses",
                                 parser=number(1, 100000), metavar="N")] = 64,
    alloc_context: Annotated[str, opt("the filesystem's allocations under its inode lock: scope, gfp_nofs or none "
                                      "(empty: the profile's)", "--alloc-context",
                                      parser=choice("scope", "gfp_nofs", "none"), metavar="CTX")] = "",
    seed: Annotated[int, opt("seed of the access pattern", "--seed", parser=number(0, 1 << 32), metavar="N")] = 0,
) -> Out:
    """Fill memory FACTOR times over with file pages (dirty, clean and mapped) across several processes and keep
    faulting: reclaim (kswapd and direct) must make room. Reports faults per second, the reclaim counters of
    /proc/vmstat (kswapd's share, refaults), the LRU sizes, and whether every byte read back as written and
    `mmsim check` stayed clean (exit 1 if not).

    Example: mmsim pressure --factor 2 --rounds 3 --json
    """
    from mmsim import pressure as workload  # noqa: PLC0415

    with connect() as mm:
        r = workload.run(mm, factor, files, processes, rounds, accesses, alloc_context, seed)
    rows = [[k, v] for k, v in r.vmstat.items()] + [[k, v] for k, v in r.lru.items()]
    summary = (f"{r.file_pages} file pages on a machine of {r.memory_pages}; {r.faults} faults in {r.elapsed_s} s "
               f"({r.faults_per_s}/s); reclaimed by kswapd {r.kswapd_share:.0%}; refaults per major fault "
               f"{r.refault_rate:.2f}; check clean {r.checks_clean}/{r.rounds}; bytes verified {r.bytes_verified}"
               + (f"; MISMATCHES {', '.join(r.mismatches[:5])}" if r.mismatches else "")
               + (f"; VIOLATIONS {'; '.join(r.violations[:3])}" if r.violations else ""))
    return Out(r.to_dict(), lambda: table(["counter", "value"], rows, title=summary), 0 if r.ok else EXIT_ERROR)


@command(proc_app, "zoneinfo")
def zoneinfo() -> Out:
    """/proc/zoneinfo: per zone its free pages against the min/low/high watermarks (kswapd wakes below low and
    reclaims up to high; direct reclaim starts below min), managed pages and lowmem_reserve.

    Example: mmsim proc zoneinfo --json
    """
    with connect() as mm:
        info = mm.allocator.zoneinfo()
    return Out({"zones": [z.to_dict() for z in info.zones]}, info.text.rstrip("\n"))
