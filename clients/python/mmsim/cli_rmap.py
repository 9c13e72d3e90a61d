"""`mmsim mapcount-overflow` (the LSFMM 2018 four-billion-mappings workload under one policy), `mmsim rmap`
(the reverse-map walk of one page) and the rest of the address space: `mmsim fork`, `mmsim mprotect`.

    mmsim mapcount-overflow --policy none       mmsim mapcount-overflow --policy kill --bits 16 --json
    mmsim rmap 4096                             mmsim rmap 4096 --node 0 --json
    mmsim fork 1                                mmsim fork 1 --json
    mmsim mprotect 1 0x7ffff7e00000 8KiB r      mmsim mprotect 1 0x7ffff7e00000 4096 none --json
"""

from __future__ import annotations

from typing import Annotated

import typer

from mmsim.cli_base import I64, U32, U64, Address, Out, Pid, app, arg, choice, command, connect, number, opt, process_handle, table


@command(app, "mapcount-overflow", panel="Memory")
def mapcount_overflow(
    policy: Annotated[str, opt("what the kernel does about it: none (mainline: _mapcount wraps), kill (Wilcox: kill "
                               "the process mapping a page more than 5000 times) or leak (Morton: pin the page)",
                               "--policy", parser=choice("none", "kill", "leak"), metavar="POLICY")] = "none",
    bits: Annotated[int, opt("width of _mapcount/_refcount, 8..32 (16 for a classroom demo; 32 = the kernel's "
                             "2**32 mappings)", "--bits", parser=number(8, 32), metavar="BITS")] = 32,
    keep: Annotated[bool, opt("leave the processes mapped afterwards (inspect them, then exit them)", "--keep")] = False,
) -> Out:
    """Map one page 2**BITS times over as many processes as vm.max_map_count forces, and show what happens.

    Example: mmsim mapcount-overflow --policy none
    """
    from mmsim.mapcount_overflow import format_report  # noqa: PLC0415  (the CLI imports no protobuf up front)

    with connect() as mm:
        report = mm.mapcount_overflow(policy, bits, keep)
    return Out(report.to_dict(), format_report(report))


@command(app, "rmap", panel="Memory")
def rmap(
    pfn: Annotated[int, arg("page frame number (e.g. 4096)", number(0, U64), "PFN")],
    node: Annotated[int, opt("NUMA node of the page", "--node", parser=number(0, U32), metavar="NODE")] = 0,
) -> Out:
    """rmap_walk of one page: every process and address mapping it (i_mmap for file pages, anon_vma for COW
    pages; a MapMany run is one line with its count).

    Example: mmsim rmap 4096
    """
    with connect() as mm:
        walk = mm.rmap.rmap_walk(pfn, node)
    rows = [[m.pid, f"{m.address:#x}", m.kind, m.vmas, m.tasks] for m in walk.mappings]
    return Out(walk.to_dict(), table(["pid", "address", "via", "VMAs", "processes"], rows,
                                     title=f"pfn {pfn}: {walk.ptes} PTEs"))


@command(app, "fork", panel="Processes")
def fork(pid: Pid) -> Out:
    """fork(2): a child with a copy of the process's VMAs; private pages it wrote become copy-on-write in both
    (copy_present_pte), the rest the child refaults. Prints the child's pid.

    Example: mmsim fork 1
    """
    with connect() as mm:
        r = process_handle(mm, pid).fork().fork_result
    return Out({**r.to_dict(), "parent": pid}, f"{r.pid}  ({r.vmas} VMAs, {r.ptes_copied} PTEs copied, "
                                                f"{r.cow_pages} pages copy-on-write)")


def _prot(text: str) -> str:
    """'none' (PROT_NONE) or letters from 'rwx'."""
    if text == "none":
        return ""
    if not text or set(text) - set("rwx"):
        raise typer.BadParameter(f"prot must be 'none' or letters from 'rwx', got {text!r}")
    return text


@command(app, "mprotect", panel="Processes")
def mprotect(
    pid: Pid,
    addr: Address,
    length: Annotated[int, arg("bytes (e.g. 8KiB), rounded up to pages", number(0, I64, sizes=True), "LENGTH")],
    prot: Annotated[str, arg("new protection: letters from rwx, or none (PROT_NONE)", _prot, "PROT")],
) -> Out:
    """mprotect(2): a new protection for a range; VMAs split at its ends and merge with alike neighbours, PTEs
    are write-protected (the next store faults: copy-on-write in a private mapping) or made inaccessible.

    Example: mmsim mprotect 1 0x7ffff7e00000 8KiB r
    """
    with connect() as mm:
        r = process_handle(mm, pid).mprotect(addr, length, prot)
    return Out(r.to_dict(), f"{r.vmas_replaced} VMAs -> {r.vmas_now}, {r.ptes_changed} PTEs changed")
