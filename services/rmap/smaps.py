"""/proc/PID/smaps, the lines mmsim keeps (models fs/proc/task_mmu.c show_smap / smaps_pte_entry /
smaps_pmd_entry): per VMA its Size, Rss (pages mapped by PTEs, the shared zero page excluded as
vm_normal_page excludes it, and by PMDs) and FilePmdMapped (file pages mapped by PMDs: do_set_pmd's THPs).
One Redis round trip whatever the process's size: its VMAs, PTEs and PMDs in one pipeline."""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from mmsim.allocator.procfs import show_val_kb
from mmsim.rmap import lua
from mmsim.rmap.mm import PAGE_SHIFT, PTRS_PER_PTE, Vma, format_maps_line
from mmsim.runtime import keys
from mmsim.runtime.errors import NotFound

PMD_SHIFT = PAGE_SHIFT + 9


@dataclass
class SmapsVma:
    start: int
    end: int
    header: str               # the /proc/PID/maps line
    size_kb: int
    rss_kb: int
    file_pmd_mapped_kb: int
    pmds: int


def format_smaps(vmas: list[SmapsVma]) -> str:
    """show_smap's SEQ_PUT_DEC lines (the label padded to 16 columns, kB right-aligned in 8), as meminfo's."""
    pages = PAGE_SHIFT - 10
    return "".join(v.header + "\n" + show_val_kb("Size", v.size_kb >> pages) + show_val_kb("Rss", v.rss_kb >> pages)
                   + show_val_kb("FilePmdMapped", v.file_pmd_mapped_kb >> pages) for v in vmas)


async def proc_smaps(redis, pid: int) -> list[SmapsVma]:
    """The VMAs of ``pid`` (MapMany's runs are not listed) with their counts."""
    pipe = redis.pipeline(transaction=False)
    pipe.exists(keys.mm(pid, "mm"))
    pipe.zrange(keys.mm(pid, "vmas"), 0, -1)
    pipe.hgetall(keys.mm(pid, "pte"))
    pipe.hgetall(keys.mm(pid, "pmd"))
    exists, members, ptes, pmds = await pipe.execute()
    if not exists:
        raise NotFound(f"no process with pid {pid}")
    vmas = [Vma.from_json(m) for m in members]
    starts = [v.start for v in vmas]
    rss = [0] * len(vmas)
    huge = [0] * len(vmas)

    def vma_of(addr: int) -> int:
        i = bisect.bisect_right(starts, addr) - 1
        return i if i >= 0 and vmas[i].end > addr else -1

    for vpn, pte in ptes.items():
        i = vma_of(int(vpn) << PAGE_SHIFT)
        if i >= 0 and not int(pte.rsplit(b":", 1)[1]) & lua.PTE_ZERO:
            rss[i] += 1
    for idx in pmds:
        i = vma_of(int(idx) << PMD_SHIFT)
        if i >= 0:
            huge[i] += 1
    kb = 1 << (PAGE_SHIFT - 10)
    return [SmapsVma(v.start, v.end, format_maps_line(v), (v.end - v.start) >> 10,
                     (rss[i] + huge[i] * PTRS_PER_PTE) * kb, huge[i] * PTRS_PER_PTE * kb, huge[i])
            for i, v in enumerate(vmas)]
