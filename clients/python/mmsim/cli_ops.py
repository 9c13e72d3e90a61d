"""`mmsim` commands on filesystems, files and processes: mkfs, create, write, read, ..., spawn, mmap, fault.

    mmsim mkfs xfs0 --block-size 16KiB           mmsim spawn reader                    -> 1
    mmsim create xfs0 /data/a      -> xfs0/1     mmsim mmap 1 xfs0/1 1MiB              -> 0x7ffff7f00000
    mmsim write xfs0/1 0 hello --repeat 1000     mmsim fault 1 0x7ffff7f01000 --trace
    mmsim fsync xfs0/1; mmsim fadvise xfs0/1 dontneed      (the next fault is a major one)
"""

from __future__ import annotations

from typing import Annotated

from mmsim.cli_base import (
    I64,
    MAX_MESSAGE,
    U32,
    Address,
    Data,
    Hex,
    Mapping,
    Offset,
    Out,
    Pid,
    Repeat,
    app,
    arg,
    choice,
    command,
    connect,
    fault_exit_code,
    file_handle,
    fs_handle,
    mapping_id,
    number,
    opt,
    payload,
    process_handle,
    result_out,
    show_bytes,
)

MAX_MEMORY_IO = 16 << 20   # ReadMemory/WriteMemory per call

Length = Annotated[int, arg("length in bytes, decimal, 0x hex or a size (e.g. 4096, 1MiB)",
                            number(0, I64, sizes=True), "LENGTH")]
Fs = Annotated[str, arg("filesystem name, as given to mkfs (e.g. xfs0)", metavar="FS")]
Path = Annotated[str, arg("absolute path in the filesystem (e.g. /data/a)", metavar="PATH")]
Indexing = Annotated[str, opt("how the page cache indexes large folios: multi-order (one XArray entry per folio, "
                              "THP), order-0 (an entry per page) or hugetlb (indices in 2 MiB units); default "
                              "the filesystem's or profile's (e.g. hugetlb)", "--indexing",
                              parser=choice("multi-order", "order-0", "hugetlb"), metavar="MODE")]


def on_file(mapping: str, call) -> Out:
    """``call(file)`` on the file MAPPING names; its result as key/value lines (--json: its fields)."""
    with connect() as mm:
        return result_out(call(file_handle(mm, mapping)))


# Filesystems and files -------------------------------------------------------------------------------------


@command(app, "mkfs", panel="Files")
def mkfs(
    name: Annotated[str, arg("filesystem name, [a-z0-9_-], 1..32 chars (e.g. xfs0)", metavar="NAME")],
    block_size: Annotated[int, opt("block size: a power of two from 4KiB to 64KiB; above the 4 KiB page size the "
                                   "page cache needs large folios (e.g. 16KiB)", "--block-size",
                                   parser=number(1, U32, sizes=True), metavar="BYTES")] = 4096,
    profile: Annotated[str, opt("semantics profile: lsfmm2018, linux-6.12 or linux-7.3; default MMSIM_PROFILE "
                                "(e.g. linux-6.12)", "--profile", metavar="PROFILE")] = "",
    alloc_context: Annotated[str, opt("how allocations under the inode lock avoid FS reclaim: scope "
                                      "(memalloc_nofs_save), gfp_nofs or none (GFP_KERNEL: lockdep reports it); "
                                      "default the profile's (e.g. none)", "--alloc-context",
                                      parser=choice("scope", "gfp_nofs", "none"), metavar="CONTEXT")] = "",
    max_folio_order: Annotated[int | None, opt("largest folio populate asks for, 0..9 (0 = small pages only)",
                                               "--max-folio-order", parser=number(0, 9), metavar="ORDER")] = None,
    indexing: Indexing = "",
) -> Out:
    """mkfs: a filesystem whose block size may exceed the page size.

    Example: mmsim mkfs xfs0 --block-size 16KiB --profile lsfmm2018
    """
    with connect() as mm:
        info = mm.mkfs(name, block_size, profile, alloc_context, max_folio_order, indexing).statfs()
    return Out(info.to_dict(), f"{info.name}: block size {info.block_size} bytes, profile {info.profile}, "
                               f"folio orders {info.min_folio_order}..{info.max_folio_order} "
                               f"({info.populate_policy}), indexing {info.indexing}, alloc context {info.alloc_context}")


@command(app, "statfs", panel="Files")
def statfs(fs: Fs) -> Out:
    """statfs: a filesystem's block size, profile, folio orders, indexing, alloc context and blocks used.

    Example: mmsim statfs xfs0
    """
    with connect() as mm:
        return result_out(fs_handle(mm, fs).statfs())


@command(app, "create", panel="Files")
def create(fs: Fs, path: Path, indexing: Indexing = "") -> Out:
    """Create a regular file; prints its mapping id FS/INO (the name every file command takes).

    Example: mmsim create xfs0 /data/a      (prints xfs0/1)
    """
    with connect() as mm:
        f = fs_handle(mm, fs).create(path, indexing)
    return Out(f.to_dict(), f.mapping)


@command(app, "write", panel="Files")
def write(mapping: Mapping, offset: Offset, data: Data, repeat: Repeat = 1, as_hex: Hex = False) -> Out:
    """write(2) DATA (repeated --repeat times) at OFFSET; dirties the page cache.

    Example: mmsim write xfs0/1 0 hello --repeat 1000
    """
    body = payload(data, as_hex, repeat)
    with connect() as mm:
        r = file_handle(mm, mapping).write_result(offset, body)
    return Out(r.to_dict(), f"wrote {r.written} bytes; i_size {r.i_size}")


@command(app, "read", panel="Files")
def read(
    mapping: Mapping,
    offset: Offset,
    length: Annotated[int, arg("bytes to read, at most 4MiB - 64KiB (e.g. 16)", number(0, MAX_MESSAGE, sizes=True),
                               "LENGTH")],
    as_hex: Annotated[bool, opt("always print a hexdump -C", "--hex")] = False,
) -> Out:
    """read(2) LENGTH bytes at OFFSET (short at EOF; holes read as zeros). Prints text when the bytes are
    printable (a run of NULs as \\0{N}), else a hexdump.

    Example: mmsim read xfs0/1 0 16
    """
    from mmsim.cli_base import hexdump  # noqa: PLC0415

    with connect() as mm:
        data = file_handle(mm, mapping).read(offset, length)
    return Out(_bytes_dict(data, offset=offset), hexdump(data, offset) if as_hex else show_bytes(data))


def _bytes_dict(data: bytes, **extra) -> dict:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    return {**extra, "length": len(data), "text": text, "hex": data.hex()}


@command(app, "stat", panel="Files")
def stat(mapping: Mapping) -> Out:
    """stat(2): size, blocks, page-cache pages, links, profile and shared (reflinked) blocks.

    Example: mmsim stat xfs0/1
    """
    return on_file(mapping, lambda f: f.stat())


@command(app, "truncate", panel="Files")
def truncate(
    mapping: Mapping,
    size: Annotated[int, arg("new size in bytes (e.g. 100, 64KiB)", number(0, I64, sizes=True), "SIZE")],
) -> Out:
    """truncate(2): grow or shrink; shrinking drops, splits or zeroes the folios past the new EOF.

    Example: mmsim truncate xfs0/1 100
    """
    return on_file(mapping, lambda f: f.truncate(size))


@command(app, "punch-hole", panel="Files")
def punch_hole(mapping: Mapping, offset: Offset, length: Length) -> Out:
    """fallocate(FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE): free the blocks of a range, zero partial blocks.

    Example: mmsim punch-hole xfs0/1 16KiB 32KiB
    """
    return on_file(mapping, lambda f: f.punch_hole(offset, length))


@command(app, "reflink", panel="Files")
def reflink(
    src: Annotated[str, arg("source mapping id FS/INO (e.g. xfs0/1)", mapping_id, "SRC")],
    dst: Annotated[str, arg("destination mapping id FS/INO, same filesystem (e.g. xfs0/2)", mapping_id, "DST")],
    src_offset: Annotated[int, opt("source offset, a multiple of the block size (e.g. 0)", "--src-offset",
                                   parser=number(0, I64, sizes=True), metavar="BYTES")] = 0,
    dst_offset: Annotated[int, opt("destination offset, a multiple of the block size (e.g. 0)", "--dst-offset",
                                   parser=number(0, I64, sizes=True), metavar="BYTES")] = 0,
    length: Annotated[int, opt("bytes to share; 0 = to the source's EOF (e.g. 64KiB)", "--length",
                               parser=number(0, I64, sizes=True), metavar="BYTES")] = 0,
    share_folios: Annotated[bool, opt("also share the page-cache folios (PFN entries; profile lsfmm2018)",
                                      "--share-folios")] = False,
) -> Out:
    """ioctl(FICLONERANGE): DST shares SRC's blocks (copy on write); with --share-folios also its cached folios.

    Example: mmsim reflink xfs0/1 xfs0/2 --share-folios
    """
    return on_file(src, lambda f: f.reflink(file_handle(f.cluster, dst), src_offset, dst_offset, length, share_folios))


@command(app, "unlink", panel="Files")
def unlink(
    file: Annotated[str, arg("the file's mapping id FS/INO (e.g. xfs0/1), or its filesystem name when PATH "
                             "follows (e.g. xfs0)", metavar="MAPPING|FS")],
    path: Annotated[str | None, arg("absolute path in FS, when the file is given by name (e.g. /data/a)",
                                    metavar="PATH")] = None,
) -> Out:
    """unlink(2): remove the name; a file still mapped lives on with nlink 0 until the last unmap.

    Example: mmsim unlink xfs0/1; mmsim unlink xfs0 /data/a
    """
    if path is None and "/" not in file:
        import typer  # noqa: PLC0415

        raise typer.BadParameter(f"{file!r} is not a mapping id FS/INO; to unlink by name give FS and PATH "
                                 "(e.g. mmsim unlink xfs0 /data/a)", param_hint="MAPPING|FS")
    with connect() as mm:
        if path is None:
            return result_out(file_handle(mm, mapping_id(file)).unlink())
        return result_out(fs_handle(mm, file).unlink(path))


@command(app, "fsync", panel="Files")
def fsync(mapping: Mapping) -> Out:
    """fsync(2): write every dirty folio back to its blocks (afterwards they are clean and can be dropped).

    Example: mmsim fsync xfs0/1
    """
    return on_file(mapping, lambda f: f.fsync())


@command(app, "fadvise", panel="Files")
def fadvise(
    mapping: Mapping,
    advice: Annotated[str, arg("POSIX_FADV_* advice; dontneed drops the clean, unmapped folios (e.g. dontneed)",
                               choice("dontneed"), "ADVICE")] = "dontneed",
) -> Out:
    """posix_fadvise(POSIX_FADV_DONTNEED): drop the file's clean, unmapped folios from the page cache.

    Example: mmsim fsync xfs0/1; mmsim fadvise xfs0/1 dontneed     (the next fault is a major fault)
    """
    return on_file(mapping, lambda f: f.fadvise(advice))


@command(app, "drop-caches", panel="Files")
def drop_caches(
    mode: Annotated[int, arg("what to drop, as written to /proc/sys/vm/drop_caches: 1 the page cache, 2 the "
                             "reclaimable slab, 3 both; +4 no log line (e.g. 1)", number(1, 4), "MODE")] = 3,
) -> Out:
    """echo MODE > /proc/sys/vm/drop_caches: every file's clean, unmapped folios leave the page cache (dirty,
    writeback and mapped ones stay, so fsync first); counts drop_pagecache / drop_slab in /proc/vmstat.

    Example: mmsim fsync xfs0/1; mmsim drop-caches 1     (the next fault on the file is a major fault)
    """
    with connect() as mm:
        r = mm.drop_caches(mode)
    lines = []
    if mode & 1:
        lines.append(f"page cache: {r.folios_removed} clean folios dropped from {r.mappings_scanned} files "
                     f"({r.pages_freed} pages freed); {r.folios_busy} kept (dirty, writeback or mapped)")
    if mode & 2:
        lines.append("slab: nothing to drop (mmsim models no slab caches: kmalloc is page-backed, "
                     "no dentry or inode cache)")
    lines.append(f"vmstat: drop_pagecache {r.drop_pagecache}, drop_slab {r.drop_slab}")
    return Out(r.to_dict(), "\n".join(lines))


# Processes -------------------------------------------------------------------------------------------------


def _prot(text: str) -> str:
    import typer  # noqa: PLC0415

    if not text or set(text) - set("rwx"):
        raise typer.BadParameter(f"{text!r}: use the letters r, w, x (e.g. r, rw)")
    return text


@command(app, "spawn", panel="Processes")
def spawn(
    comm: Annotated[str, arg("process name, 1..15 chars (e.g. reader)", metavar="COMM")],
    mapcount_limit: Annotated[int, opt("mappings of one page this process may hold (PTEs); 0 = the profile's "
                                       "(lsfmm2018: 5000) (e.g. 10)", "--mapcount-limit",
                                       parser=number(0, U32), metavar="N")] = 0,
    mapcount_action: Annotated[str, opt("over the limit: kill (Wilcox: kill the process), leak (Morton: pin the "
                                        "page) or none (mainline); default the profile's (e.g. leak)",
                                        "--mapcount-action", parser=choice("kill", "leak", "none"),
                                        metavar="ACTION")] = "",
    max_map_count: Annotated[int, opt("vm.max_map_count for this process (VMAs); 0 = 65530 (e.g. 100)",
                                      "--max-map-count", parser=number(0, U32), metavar="N")] = 0,
    count: Annotated[int, opt("processes created in bulk as one run (consecutive pids, one mm record), "
                              "1..4194304 (e.g. 65542)", "--count", parser=number(1, 4194304), metavar="N")] = 1,
) -> Out:
    """Create a process (an mm_struct); prints its pid (the first of a --count run).

    Example: mmsim spawn reader --mapcount-limit 10 --mapcount-action kill
    """
    with connect() as mm:
        proc = mm.spawn(comm, mapcount_limit, mapcount_action, max_map_count, count)
    return Out(proc.to_dict(), str(proc.pid))


@command(app, "mmap", panel="Processes")
def mmap(
    pid: Pid,
    mapping: Mapping,
    length: Annotated[int, arg("bytes to map, rounded up to pages (e.g. 1MiB)", number(1, I64, sizes=True),
                               "LENGTH")],
    offset: Annotated[int, opt("file offset, page aligned (e.g. 64KiB)", "--offset",
                               parser=number(0, I64, sizes=True), metavar="BYTES")] = 0,
    prot: Annotated[str, opt("protection: letters from r, w, x (e.g. rw)", "--prot", parser=_prot,
                             metavar="PROT")] = "r",
    private: Annotated[bool, opt("MAP_PRIVATE (copy on write) instead of MAP_SHARED", "--private")] = False,
    addr: Annotated[int, opt("hint address; 0 lets the kernel choose (e.g. 0x7f0000000000)", "--addr",
                             parser=number(0, I64), metavar="ADDRESS")] = 0,
    fixed: Annotated[str, opt("use --addr exactly: fixed (MAP_FIXED: replace what is there) or noreplace "
                              "(MAP_FIXED_NOREPLACE: EEXIST if anything is)", "--fixed",
                              parser=choice("fixed", "noreplace"), metavar="HOW")] = "",
) -> Out:
    """mmap(2) a file into a process; prints the start address (vm_start), as mmap(2) returns it.

    Example: mmsim mmap 1 xfs0/1 1MiB --prot r
    """
    with connect() as mm:
        vma = process_handle(mm, pid).mmap(file_handle(mm, mapping), length, prot, not private, offset, addr, fixed)
    return Out({**vma.to_dict(), "pid": pid}, f"{vma.start:#x}")


@command(app, "munmap", panel="Processes")
def munmap(
    pid: Pid,
    addr: Address,
    length: Annotated[int, arg("bytes to unmap (e.g. 1MiB)", number(1, I64, sizes=True), "LENGTH")],
) -> Out:
    """munmap(2): zap the range's PTEs and drop the VMA (or the part of it in range).

    Example: mmsim munmap 1 0x7ffff7f00000 1MiB
    """
    with connect() as mm:
        n = process_handle(mm, pid).munmap(addr, length)
    return Out({"pages_unmapped": n}, f"{n} PTEs unmapped")


EXPLAIN = {
    "major": "major fault: the page cache missed and the filesystem populated it",
    "minor": "minor fault: the folio was in the page cache",
    "spurious": "spurious fault: the PTE was already present; nothing to do but mark it young",
    "zero-page": "a hole: mapped read-only to the shared zero page (no memory used)",
    "pinned": "over the mapcount limit: the leak policy pinned the folio (never freed)",
    "sigbus": "SIGBUS: beyond EOF, or an I/O error",
    "sigsegv": "SIGSEGV: no VMA at this address, or the access is not permitted",
    "oom": "VM_FAULT_OOM: the folio could not be allocated (the OOM killer would send SIGKILL)",
    "error": "the fault failed",
}


def fault_text(r) -> str:
    """One fault for a terminal: its vm_fault_t, what that means, what got mapped."""
    head = f"{r.vm_fault if r.vm_fault else 'vm_fault_t 0'}  {EXPLAIN.get(r.outcome, r.outcome)}"
    if r.zero_page:
        mapped = "pfn: the zero page"
    elif r.ok and not r.spurious:
        how = f"1 PMD mapped ({r.pages_mapped} pages)" if r.pmd else f"{r.pages_mapped} PTEs mapped"
        mapped = (f"pfn {r.pfn:#x} (folio {r.folio_pfn:#x}, order {r.folio_order}); "
                  f"{how} + {r.pages_mapped_around} around")
    elif r.spurious:
        mapped = f"pfn {r.pfn:#x} already mapped"
    else:
        mapped = "nothing mapped"
    return f"{head}\n{mapped}; trace {r.trace_id}"


@command(app, "fault", panel="Processes")
def fault(
    pid: Pid,
    address: Address,
    write: Annotated[bool, opt("a write access (FAULT_FLAG_WRITE)", "--write")] = False,
    trace: Annotated[bool, opt("also print the span tree of this fault across the services", "--trace")] = False,
) -> Out:
    """handle_mm_fault at ADDRESS: prints the vm_fault_t and what it means. A failed fault exits as the signal
    the kernel would send (SIGBUS 135, SIGSEGV 139, OOM 137).

    Example: mmsim fault 1 0x7ffff7f01000 --trace
    """
    with connect() as mm:
        r = process_handle(mm, pid).fault(address, write)
        tree = mm.trace(r.trace_id) if trace else None
    data = r.to_dict()
    text = fault_text(r)
    if tree is not None:
        data["trace"] = tree.to_dict()
        text += "\n" + tree.render()
    return Out(data, text, fault_exit_code(r.vm_fault.names()))


@command(app, "read-memory", panel="Processes")
def read_memory(
    pid: Pid,
    address: Address,
    length: Annotated[int, arg("bytes to read, at most 16MiB (e.g. 16)", number(0, MAX_MEMORY_IO, sizes=True),
                               "LENGTH")],
    as_hex: Annotated[bool, opt("always print a hexdump -C", "--hex")] = False,
) -> Out:
    """Read process memory through its page tables, faulting pages in (like access_process_vm).

    Example: mmsim read-memory 1 0x7ffff7f00000 16
    """
    from mmsim.cli_base import hexdump  # noqa: PLC0415

    with connect() as mm:
        r = process_handle(mm, pid).read_memory(address, length)
    names = r.vm_fault.names()
    data = _bytes_dict(r.data, address=address, faults=r.faults, vm_fault=names)
    text = hexdump(r.data, address) if as_hex else show_bytes(r.data)
    notes = [f"stopped at a fault: {r.vm_fault}"] if names else []
    return Out(data, text, fault_exit_code(names), notes=notes)


@command(app, "write-memory", panel="Processes")
def write_memory(pid: Pid, address: Address, data: Data, repeat: Repeat = 1, as_hex: Hex = False) -> Out:
    """Store bytes through a writable mapping: write faults as needed, then the bytes land in the folios.

    Example: mmsim write-memory 1 0x7ffff7f00000 hello
    """
    body = payload(data, as_hex, repeat)
    with connect() as mm:
        r = process_handle(mm, pid).write_memory(address, body)
    names = r.vm_fault.names()
    text = f"wrote {r.written} bytes ({r.faults} faults)" + (f"; stopped at {r.vm_fault}" if names else "")
    return Out({"written": r.written, "faults": r.faults, "vm_fault": names}, text, fault_exit_code(names))


@command(app, "exit", panel="Processes")
def exit_(pid: Pid) -> Out:
    """exit_mmap: unmap everything and drop the mm; the pid is gone afterwards (reaps a killed process too).

    Example: mmsim exit 1
    """
    with connect() as mm:
        return result_out(process_handle(mm, pid).exit())
