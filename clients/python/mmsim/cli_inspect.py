"""`mmsim` commands that only look: /proc files, a mapping's XArray, traces.

    mmsim proc buddyinfo --json     mmsim proc status 1     mmsim xa stats xfs0/1     mmsim trace last
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from mmsim.cli_base import (
    Mapping,
    Out,
    Pid,
    app,
    arg,
    choice,
    command,
    connect,
    group,
    number,
    opt,
    process_handle,
    result_out,
)

proc_app = group("proc", "/proc files in the kernel's formats: buddyinfo, pagetypeinfo, vmstat, meminfo, "
                         "PID's status and maps.")

_ZONE_LINE = re.compile(r"Node\s+(\d+),\s*zone\s+(\S+)(?:,\s*type\s+(\S+))?\s+([\d\s]+)$")


def parse_buddyinfo(text: str) -> list[dict]:
    """/proc/buddyinfo as [{node, zone, free: [blocks per order 0..10]}] (mm/vmstat.c frag_show_print)."""
    out = []
    for line in text.splitlines():
        m = _ZONE_LINE.match(line.strip())
        if m:
            out.append({"node": int(m[1]), "zone": m[2], "free": [int(n) for n in m[4].split()]})
    return out


def parse_pagetypeinfo(text: str) -> dict:
    """/proc/pagetypeinfo as {page_block_order, pages_per_block, free: [{node, zone, type, free: [per order]}],
    blocks: [{node, zone, blocks: {type: count}}]} (mm/vmstat.c pagetypeinfo_show)."""
    out: dict = {"page_block_order": None, "pages_per_block": None, "free": [], "blocks": []}
    block_types: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("Page block order:"):
            out["page_block_order"] = int(line.split(":")[1])
        elif line.startswith("Pages per block:"):
            out["pages_per_block"] = int(line.split(":")[1])
        elif line.startswith("Number of blocks type"):
            block_types = line.removeprefix("Number of blocks type").split()
        elif (m := _ZONE_LINE.match(line)) is not None:
            counts = [int(n) for n in m[4].split()]
            if m[3]:
                out["free"].append({"node": int(m[1]), "zone": m[2], "type": m[3], "free": counts})
            else:
                out["blocks"].append({"node": int(m[1]), "zone": m[2], "blocks": dict(zip(block_types, counts))})
    return out


def image_path(text: str) -> str:
    """A parser for a picture's file name: .png or .svg, in a directory that exists."""
    if text and Path(text).suffix.lower() not in (".png", ".svg"):
        raise typer.BadParameter(f"{text!r}: the picture is written as .png or .svg (by the file's suffix)")
    return out_path(text)


def out_path(text: str) -> str:
    """A parser for an output file: in a directory that exists ('' = stdout)."""
    if text and not Path(text).parent.is_dir():
        raise typer.BadParameter(f"{text!r}: directory {str(Path(text).parent)!r} does not exist")
    return text


@command(proc_app, "buddyinfo")
def buddyinfo(plot: Annotated[str, opt("also draw it as a bar chart into FILE (.png or .svg)", "--plot",
                                       parser=image_path, metavar="FILE")] = "") -> Out:
    """/proc/buddyinfo: free blocks per order, per zone (JSON: one object per zone).

    Example: mmsim proc buddyinfo --json; mmsim proc buddyinfo --plot buddy.png
    """
    with connect() as mm:
        text = mm.allocator.buddyinfo()
    zones = parse_buddyinfo(text)
    if plot:
        from mmsim.cli_pictures import buddyinfo_plot  # noqa: PLC0415

        return Out(zones, f"{text.rstrip()}\nwrote {buddyinfo_plot(zones, plot)}")
    return Out(zones, text)


@command(proc_app, "pagetypeinfo")
def pagetypeinfo() -> Out:
    """/proc/pagetypeinfo: free blocks per order and migrate type.

    Example: mmsim proc pagetypeinfo
    """
    with connect() as mm:
        text = mm.allocator.pagetypeinfo()
    return Out(parse_pagetypeinfo(text), text)


@command(proc_app, "vmstat")
def vmstat() -> Out:
    """/proc/vmstat: the counters by the kernel's names (pgfault, pgmajfault, nr_free_pages, ...).

    Example: mmsim proc vmstat | grep pgmajfault
    """
    with connect() as mm:
        text = mm.allocator.vmstat_text()
    values = {name: int(value) for name, value in (line.split() for line in text.splitlines() if line.strip())}
    return Out(values, text)


@command(proc_app, "meminfo")
def meminfo() -> Out:
    """/proc/meminfo (JSON: values in kB by name).

    Example: mmsim proc meminfo
    """
    with connect() as mm:
        text = mm.allocator.meminfo_text()
        values = mm.allocator.meminfo()
    return Out(values, text)


@command(proc_app, "status")
def proc_status(pid: Pid) -> Out:
    """/proc/PID/status and stat: state (killed by the mapcount limit?), faults, RSS, map count, limits.

    Example: mmsim proc status 1
    """
    with connect() as mm:
        return result_out(process_handle(mm, pid).status())


def _maps(pid: int) -> Out:
    with connect() as mm:
        lines = process_handle(mm, pid).maps()
    return Out({"pid": pid, "lines": lines}, "\n".join(lines))


@command(proc_app, "maps")
def proc_maps(pid: Pid) -> Out:
    """/proc/PID/maps: one line per VMA, as fs/proc/task_mmu.c prints it.

    Example: mmsim proc maps 1
    """
    return _maps(pid)


@command(app, "maps", panel="Processes")
def maps(pid: Pid) -> Out:
    """/proc/PID/maps (the same as `mmsim proc maps`).

    Example: mmsim maps 1
    """
    return _maps(pid)


xa_app = group("xa", "A mapping's XArray: stats (entries, nodes, height, Redis bytes) or dump (the tree).")


@command(xa_app, "stats")
def xa_stats(mapping: Mapping) -> Out:
    """Entries, folio and zero entries, nodes, height, Redis bytes, indexing mode.

    Example: mmsim xa stats xfs0/1 --json
    """
    with connect() as mm:
        return result_out(mm.pagecache.xa_stats(mapping))


@command(xa_app, "dump")
def xa_dump(mapping: Mapping) -> Out:
    """The tree: levels, slots, sibling/value/zero entries, marks.

    Example: mmsim xa dump xfs0/1
    """
    with connect() as mm:
        text = mm.pagecache.xa_dump(mapping)
    return Out({"mapping": mapping, "text": text}, text)


trace_app = group("trace", "The span tree of one operation across the services.")

TraceId = Annotated[str, arg("trace id, 32 hex digits, as printed by fault (e.g. 4bf92f3577b34da6a3ce929d0e0e4736)",
                             metavar="TRACE_ID")]


Format = Annotated[str, opt("tree (the span tree, the default), waterfall (bars on a time axis), mermaid (a "
                             "sequence diagram of the fault delegation protocol) or svg (the waterfall as SVG, gfp "
                             "and order on hover)", "--format", parser=choice("tree", "waterfall", "mermaid", "svg"),
                             metavar="FORMAT")]
Output = Annotated[str, opt("write the picture to FILE instead of stdout (e.g. trace.svg)", "--output", "-o",
                            parser=out_path, metavar="FILE")]


def _trace_out(tree, fmt: str, output: str) -> Out:
    from mmsim.cli_pictures import trace_out  # noqa: PLC0415

    return trace_out(tree, fmt, output)


def _show(trace_id: str, fmt: str = "", output: str = "") -> Out:
    with connect() as mm:
        tree = mm.trace(trace_id)
    return _trace_out(tree, fmt, output)


@command(trace_app, "show")
def trace_show(trace_id: TraceId, fmt: Format = "", output: Output = "") -> Out:
    """The span tree of one trace: each hop's service, RPC, key arguments, outcome, time and Redis round trips;
    or a picture of it.

    Example: mmsim trace show 4bf92f3577b34da6a3ce929d0e0e4736 --format waterfall
    """
    if not re.fullmatch(r"[0-9a-f]{32}", trace_id):
        raise typer.BadParameter(f"{trace_id!r} is not 32 lowercase hex digits", param_hint="TRACE_ID")
    return _show(trace_id, fmt, output)


@command(trace_app, "last")
def trace_last(any_kind: Annotated[bool, opt("the newest trace of any user operation (a write, an mmap, ...), "
                                             "not only of a fault", "--any")] = False,
               fmt: Format = "", output: Output = "") -> Out:
    """The newest fault's span tree (inspection commands make no traces), or a picture of it.

    Example: mmsim fault 1 0x7ffff7f00000; mmsim trace last --format mermaid
    """
    with connect() as mm:
        tree = mm.last_trace("any" if any_kind else "fault")
    return _trace_out(tree, fmt, output)


@command(trace_app, "list")
def trace_list(
    limit: Annotated[int, opt("at most this many, 1..1000 (e.g. 20)", "--limit", parser=number(1, 1000),
                              metavar="N")] = 20,
    faults: Annotated[bool, opt("only traces started by a fault", "--faults")] = False,
) -> Out:
    """The newest trace ids, newest first.

    Example: mmsim trace list --limit 5 --faults
    """
    with connect() as mm:
        ids = mm.traces(limit, "fault" if faults else "any")
    return Out(ids, "\n".join(ids))
