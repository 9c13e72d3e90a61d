"""mm_struct and VMAs: pure arithmetic, no Redis, no gRPC.

Semantics ported (not copied) from the kernel:

* ``find_vma`` (mm/mmap.c): the first VMA with vm_end > addr; the address is inside it only when
  vm_start <= addr.
* ``get_unmapped_area`` top-down (mm/mmap.c ``generic_get_unmapped_area_topdown`` /
  ``unmapped_area_topdown``): the highest gap of the requested length below ``mmap_base`` and above
  ``mmap_min_addr``; a page-aligned hint is used as-is when the range [hint, hint + len) is free and below
  TASK_SIZE (no MAP_FIXED: a hint never replaces existing mappings).
* ``linear_page_index`` (include/linux/pagemap.h): vm_pgoff + ((address - vm_start) >> PAGE_SHIFT).
* vm.max_map_count (include/linux/mm.h DEFAULT_MAX_MAP_COUNT = USHRT_MAX - 5 = 65530): one more VMA
  than that is refused with ENOMEM, which the RPC layer answers as RESOURCE_EXHAUSTED.
* /proc/PID/maps lines (fs/proc/task_mmu.c ``show_vma_header_prefix`` + ``show_map_vma``): "%08lx-%08lx
  %c%c%c%c %08llx %02x:%02x %lu ", then, for a file mapping, padding to column 72 (25 + 6 * sizeof(void *)
  - 1 on 64-bit) and one more space before the path.

A VMA is stored as compact JSON (member of the ``{mm:PID}:vmas`` zset, score vm_start); the Lua
scripts decode the same JSON with cjson, so the field names here are the wire format: keep them short
and stable.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass

from mmsim.runtime.errors import InvalidArgument, NotFound, PermissionDenied, ResourceExhausted, require

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
PAGE_MASK = ~(PAGE_SIZE - 1)
PTRS_PER_PTE = 512  # one page table (one PMD entry) maps 512 pages = 2 MiB
PMD_SIZE = PTRS_PER_PTE * PAGE_SIZE

# x86-64, 4-level paging: TASK_SIZE_MAX = (1 << 47) - PAGE_SIZE.
TASK_SIZE = (1 << 47) - PAGE_SIZE
# mmap_base with ASLR off (setarch -R): TASK_SIZE minus the 128 MiB minimum stack gap, rounded to pages
# (arch/x86/mm/mmap.c mmap_base: gap clamped to [128 MiB, TASK_SIZE/6*5], no random offset).
MMAP_MIN_GAP = 128 << 20
MMAP_BASE = (TASK_SIZE - MMAP_MIN_GAP) & PAGE_MASK
MMAP_MIN_ADDR = 65536  # vm.mmap_min_addr default on x86-64
DEFAULT_MAX_MAP_COUNT = 65535 - 5  # USHRT_MAX - 5
TASK_COMM_LEN = 16

# vm_flags bits (include/linux/mm.h)
VM_READ = 0x1
VM_WRITE = 0x2
VM_EXEC = 0x4
VM_SHARED = 0x8
VM_MAYREAD = 0x10
VM_MAYWRITE = 0x20
VM_MAYEXEC = 0x40
VM_MAYSHARE = 0x80

MAPS_NAME_COLUMN = 25 + 6 * 8 - 1  # seq_setwidth() on a 64-bit kernel


def page_align(n: int) -> int:
    return (n + PAGE_SIZE - 1) & PAGE_MASK


@dataclass(frozen=True)
class Vma:
    start: int  # vm_start, bytes
    end: int  # vm_end, bytes, exclusive
    pgoff: int  # vm_pgoff, pages
    flags: int  # VM_* bits
    mapping: str  # "FS/INO"
    ino: int = 0
    dev: int = 0  # (major << 8) | minor
    path: str = ""
    limit: int = 0  # mapcount limit from the mapping's profile (0 = none)
    action: str = "none"  # mapcount action from the mapping's profile

    @property
    def pages(self) -> int:
        return (self.end - self.start) >> PAGE_SHIFT

    @property
    def shared(self) -> bool:
        return bool(self.flags & VM_SHARED)

    def contains(self, addr: int) -> bool:
        return self.start <= addr < self.end

    def to_json(self) -> str:
        d = {"s": self.start, "e": self.end, "pg": self.pgoff, "f": self.flags, "m": self.mapping,
             "ino": self.ino, "dev": self.dev, "p": self.path, "lim": self.limit, "act": self.action}  # fmt: skip
        return json.dumps(d, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> "Vma":
        d = json.loads(text)
        return cls(d["s"], d["e"], d["pg"], d["f"], d["m"], d.get("ino", 0), d.get("dev", 0), d.get("p", ""),
                   d.get("lim", 0), d.get("act", "none"))  # fmt: skip


def linear_page_index(vma: Vma, address: int) -> int:
    """The file index (pages) that ``address`` maps in ``vma`` (include/linux/pagemap.h linear_page_index)."""
    return vma.pgoff + ((address - vma.start) >> PAGE_SHIFT)


def index_to_address(vma: Vma, index: int) -> int:
    """Inverse of linear_page_index (the rmap walk's vma_address in mm/internal.h)."""
    return vma.start + ((index - vma.pgoff) << PAGE_SHIFT)


def find_vma(vmas: list[Vma], addr: int) -> Vma | None:
    """The first VMA (by address) whose vm_end > addr, like mm/mmap.c find_vma; None when there is none."""
    best = None
    for v in vmas:
        if v.end > addr and (best is None or v.start < best.start):
            best = v
    return best


def vma_lookup(vmas: list[Vma], addr: int) -> Vma | None:
    """The VMA containing addr (include/linux/mm.h vma_lookup), or None."""
    v = find_vma(vmas, addr)
    return v if v is not None and v.start <= addr else None


def thp_get_unmapped_area(vmas: list[Vma], length: int, hint: int = 0, mmap_base: int = MMAP_BASE,
                          offset: int = 0) -> int:
    """models mm/huge_memory.c: __thp_get_unmapped_area. A file mapping of at least PMD_SIZE gets an address
    congruent to its file offset modulo PMD_SIZE, so a 2 MiB folio can sit in one page table (and be
    mapped whole); smaller ones, hinted ones and those that do not fit padded fall back to the plain search."""
    if hint or length < PMD_SIZE:
        return get_unmapped_area(vmas, length, hint, mmap_base)
    try:
        padded = get_unmapped_area(vmas, length + PMD_SIZE, 0, mmap_base)
    except ResourceExhausted:
        return get_unmapped_area(vmas, length, 0, mmap_base)
    top = padded + PMD_SIZE                       # the highest start the padded gap allows (top-down)
    return top - ((top - offset) & (PMD_SIZE - 1))


def get_unmapped_area(vmas: list[Vma], length: int, hint: int = 0, mmap_base: int = MMAP_BASE,
                      low: int = MMAP_MIN_ADDR) -> int:  # fmt: skip
    """Top-down search for a free range of ``length`` bytes (page aligned), like unmapped_area_topdown.

    Raises ResourceExhausted (ENOMEM) when no gap is large enough.
    """
    require(length > 0 and length % PAGE_SIZE == 0, f"length must be a positive multiple of {PAGE_SIZE}, got {length}")
    if length > TASK_SIZE - low:
        raise ResourceExhausted(f"mmap of {length} bytes is larger than the address space (ENOMEM)")
    spans = sorted((v.start, v.end) for v in vmas)
    if hint:
        hint = page_align(hint)
        if low <= hint and hint + length <= TASK_SIZE and all(e <= hint or s >= hint + length for s, e in spans):
            return hint
    # Walk the gaps from the top down: [end of a VMA, ceiling) where the ceiling starts at mmap_base.
    ceiling = mmap_base
    for s, e in reversed(spans):
        if s >= ceiling:
            continue  # entirely above the search ceiling
        if e < ceiling and ceiling - max(e, low) >= length:
            return ceiling - length
        ceiling = s
        if ceiling - low < length:
            break
    if ceiling - low >= length:
        return ceiling - length
    raise ResourceExhausted(f"no free range of {length} bytes below mmap_base {mmap_base:#x} (ENOMEM)")


def prot_to_vm_flags(prot: set[str], shared: bool) -> int:
    """calc_vm_prot_bits + the VM_MAY* bits do_mmap adds (mm/mmap.c); prot in {'r','w','x'}."""
    flags = VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC
    if "r" in prot:
        flags |= VM_READ
    if "w" in prot:
        flags |= VM_WRITE
    if "x" in prot:
        flags |= VM_EXEC
    if shared:
        flags |= VM_SHARED | VM_MAYSHARE
    return flags


def dev_of_fs(fs_name: str) -> int:
    """A stable anonymous device number for a filesystem (major 0 like tmpfs/btrfs subvolumes; minor from its name)."""
    return (zlib.crc32(fs_name.encode()) % 254) + 1


def format_maps_line(vma: Vma, path: str | None = None) -> str:
    """One /proc/PID/maps line, exactly as show_map_vma prints it on a 64-bit kernel (no trailing newline)."""
    flags = vma.flags
    head = "%08x-%08x %s%s%s%s %08x %02x:%02x %d " % (  # noqa: UP031 - mirrors the kernel's format string
        vma.start, vma.end,
        "r" if flags & VM_READ else "-", "w" if flags & VM_WRITE else "-", "x" if flags & VM_EXEC else "-",
        "s" if flags & VM_MAYSHARE else "p",
        vma.pgoff << PAGE_SHIFT, vma.dev >> 8, vma.dev & 0xFF, vma.ino,
    )  # fmt: skip
    name = vma.path if path is None else path
    if not name:
        return head
    return head.ljust(MAPS_NAME_COLUMN) + " " + name


def split_for_munmap(vma: Vma, start: int, end: int) -> list[Vma]:
    """The pieces of ``vma`` that survive munmap of [start, end) (mm/vma.c vma_shrink/split), 0..2 of them."""
    out = []
    if vma.start < start:
        out.append(Vma(vma.start, start, vma.pgoff, vma.flags, vma.mapping, vma.ino, vma.dev, vma.path, vma.limit, vma.action))
    if end < vma.end:
        out.append(Vma(end, vma.end, vma.pgoff + ((end - vma.start) >> PAGE_SHIFT), vma.flags, vma.mapping,
                       vma.ino, vma.dev, vma.path, vma.limit, vma.action))  # fmt: skip
    return out


def validate_comm(comm: str) -> None:
    require(0 < len(comm) < TASK_COMM_LEN, f"comm must be 1..{TASK_COMM_LEN - 1} characters, got {len(comm)}")
    require(comm.isprintable() and "/" not in comm, f"comm must be printable without '/', got {comm!r}")


def validate_mmap(length: int, offset: int, addr: int) -> int:
    """do_mmap's argument checks; returns the page-aligned length."""
    if length == 0:
        raise InvalidArgument("length must be positive (EINVAL)")
    require(offset % PAGE_SIZE == 0, f"offset must be page aligned, got {offset}")
    require(addr % PAGE_SIZE == 0, f"addr hint must be page aligned, got {addr:#x}")
    plen = page_align(length)
    if plen > TASK_SIZE or plen < length:
        raise ResourceExhausted(f"length {length} does not fit the address space (ENOMEM)")
    require((offset >> PAGE_SHIFT) + (plen >> PAGE_SHIFT) < (1 << 52), "offset + length overflows pgoff (EOVERFLOW)")
    return plen


def _with(vma: Vma, start: int, end: int, flags: int) -> Vma:
    """A piece [start, end) of ``vma`` (its pgoff moved along), with ``flags``."""
    return Vma(start, end, vma.pgoff + ((start - vma.start) >> PAGE_SHIFT), flags, vma.mapping, vma.ino, vma.dev,
               vma.path, vma.limit, vma.action)  # fmt: skip


def can_merge(a: Vma, b: Vma) -> bool:
    """b may be merged onto the end of a (mm/vma.c is_mergeable_vma + the file offsets being contiguous)."""
    return (a.end == b.start and a.flags == b.flags and a.mapping == b.mapping and a.ino == b.ino and a.dev == b.dev
            and a.path == b.path and a.limit == b.limit and a.action == b.action
            and a.pgoff + a.pages == b.pgoff)  # fmt: skip


def mprotect_plan(vmas: list[Vma], start: int, end: int, prot_bits: int) -> tuple[list[Vma], list[Vma]]:
    """mm/mprotect.c do_mprotect_pkey -> mprotect_fixup over [start, end): each VMA in range takes the new
    VM_READ/VM_WRITE/VM_EXEC bits, split at start and end (vma_modify_flags -> split_vma) and merged with
    its neighbours where they are alike (vma_merge). Returns (the VMAs replaced, their replacements), both
    empty when nothing changes. Raises NotFound (ENOMEM) when part of the range is not mapped, and
    PermissionDenied (EACCES) when a VMA lacks the matching VM_MAY* bit."""
    rwx = VM_READ | VM_WRITE | VM_EXEC
    ordered = sorted(vmas, key=lambda v: v.start)
    inside = [v for v in ordered if v.start < end and v.end > start]
    at = start
    for v in inside:
        if v.start > at:
            break
        at = v.end
    if at < end:
        raise NotFound(f"[{max(at, start):#x}, {end:#x}) is not mapped (ENOMEM)")
    for v in inside:
        if prot_bits & ~(v.flags >> 4) & rwx:   # VM_MAYREAD = VM_READ << 4, and so on
            raise PermissionDenied(f"the VMA at {v.start:#x} may not take that protection (EACCES)")
    if all(v.flags & rwx == prot_bits for v in inside):
        return [], []
    pieces: list[tuple[Vma, bool]] = []    # (piece, changed)
    i = ordered.index(inside[0])
    if i > 0 and ordered[i - 1].end == inside[0].start:
        pieces.append((ordered[i - 1], False))
    for v in inside:
        new = (v.flags & ~rwx) | prot_bits
        if new == v.flags:   # mprotect_fixup: nothing to do for this VMA, no split
            pieces.append((v, False))
            continue
        if v.start < start:
            pieces.append((_with(v, v.start, start, v.flags), False))
        pieces.append((_with(v, max(v.start, start), min(v.end, end), new), True))
        if v.end > end:
            pieces.append((_with(v, end, v.end, v.flags), False))
    j = ordered.index(inside[-1])
    if j + 1 < len(ordered) and ordered[j + 1].start == inside[-1].end:
        pieces.append((ordered[j + 1], False))
    merged: list[tuple[Vma, bool]] = []
    for piece, changed in pieces:
        if merged and (changed or merged[-1][1]) and can_merge(merged[-1][0], piece):
            last = merged[-1][0]
            merged[-1] = (_with(last, last.start, piece.end, last.flags), True)
        else:
            merged.append((piece, changed))
    old = [v for v in ordered if v in inside or any(v is p for p, _ in pieces)]
    new = [v for v, _ in merged]
    untouched = set(old) & set(new)
    return [v for v in old if v not in untouched], [v for v in new if v not in untouched]


def split_run_for_munmap(run: dict, start: int, end: int) -> tuple[int, list[dict]]:
    """munmap of [start, end) over a MapMany run (``n`` one-page VMAs from ``s``, all mapping one page): the
    VMAs unmapped (per process) and the 0..2 runs left on either side (split_vma on a run)."""
    s, n = run["s"], run["n"]
    left = max(0, min(n, (start - s) >> PAGE_SHIFT))
    right = max(0, min(n, (s + n * PAGE_SIZE - end) >> PAGE_SHIFT))
    pieces = []
    if left:
        pieces.append({**run, "n": left})
    if right:
        pieces.append({**run, "s": s + (n - right) * PAGE_SIZE, "n": right})
    return n - left - right, pieces
