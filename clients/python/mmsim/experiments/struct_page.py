"""struct-page: the page descriptor before and after the 2018 reorganisation ("Rearrange struct page", 4.18).

Before, struct page (include/linux/mm_types.h, v4.17) was a patchwork of unions at fixed words: an owner
could use a word only where its union put a member for it (slab's freelist in the index word, the page-table
lock in the private word, compound_head in the first word of the lru pair...). After, the flags word is
followed by ONE five-word union in which each owner (page cache/anonymous, slab, page table, compound tail,
ZONE_DEVICE, a driver) has a struct of its own, then _mapcount/page_type, _refcount and the memcg word.
The "after" rows are measured on the cluster: a page of each owner is made and its descriptor decoded
(GetPage names the union member in use and its fields).
"""

from __future__ import annotations

from mmsim.allocator.vmemmap import RECORD_SIZE
from mmsim.experiments.base import Outcome, Plot, Table

NAME = "struct-page"
TITLE = "struct page before and after the 2018 reorganisation: words x owners, bytes per page"
TODO = "Rearrange struct page: one five-word union so that every owner (and drivers) gets words of its own."
COMPARES = "v4.17's layout (from mm_types.h) vs v4.18's (the model's, decoded from live pages)"

WORDS = ["flags", "w1", "w2", "w3", "w4", "w5", "w6", "w7"]
# v4.17 include/linux/mm_types.h, 64-bit: what each owner may keep in each of the eight words
BEFORE = {
    "page cache": ["flags", "mapping", "index", "_mapcount+_refcount", "lru.next", "lru.prev", "private", "mem_cgroup"],
    "anonymous": ["flags", "anon_vma|1", "index", "_mapcount+_refcount", "lru.next", "lru.prev", "private (swap)", "mem_cgroup"],
    "slab": ["flags", "s_mem", "freelist", "counters/_refcount", "next (partial)", "pages/pobjects", "slab_cache", "mem_cgroup"],
    "page table": ["flags", "-", "-", "_mapcount+_refcount", "-", "pmd_huge_pte", "ptl", "mem_cgroup"],
    "compound tail": ["flags", "compound_mapcount", "-", "_refcount", "compound_head", "dtor+order", "-", "mem_cgroup"],
    "driver": ["flags", "(mapping)", "(index)", "_mapcount+_refcount", "(lru)", "(lru)", "private", "mem_cgroup"],
}
# v4.18: flags, a five-word union, _mapcount|page_type (32) + _refcount (32), memcg
AFTER_KERNEL = {
    "page cache": ["flags", "lru.next", "lru.prev", "mapping", "index", "private", "_mapcount+_refcount", "mem_cgroup"],
    "anonymous": ["flags", "lru.next", "lru.prev", "anon_vma|1", "index", "private (swap)", "_mapcount+_refcount", "mem_cgroup"],
    "slab": ["flags", "slab_list.next", "slab_list.prev", "slab_cache", "freelist", "counters", "page_type+_refcount", "mem_cgroup"],
    "page table": ["flags", "_pt_pad_1", "pmd_huge_pte", "_pt_pad_2", "pt_mm", "ptl", "page_type+_refcount", "mem_cgroup"],
    "compound tail": ["flags", "compound_head", "dtor+order", "compound_mapcount", "-", "-", "_refcount", "mem_cgroup"],
    "driver": ["flags", "_w0", "_w1", "_w2", "_w3", "_w4", "_mapcount+_refcount", "mem_cgroup"],
}


def measured(lab) -> dict[str, tuple[str, list[str]]]:
    """A live page of each owner the model makes, decoded: owner -> (union member, field names)."""
    res = lab.replay({"name": "struct-page-owners", "cluster": {"memory": "16MiB"},
                      "filesystems": [{"name": "fs0", "block_size": 16384}],
                      "files": [{"name": "a", "fs": "fs0", "size": 65536, "fill": "text"}],
                      "processes": [{"name": "p"}],
                      "steps": [{"mmap": {"process": "p", "file": "a", "as": "s"}},
                                {"fault": {"map": "s", "count": 1}},
                                {"mmap": {"process": "p", "file": "a", "as": "c", "prot": "rw", "shared": False}},
                                {"fault": {"map": "c", "count": 1, "start": 32768, "write": True}}]})
    mm = res.mm
    cache, anon = res.fault_results[0], res.fault_results[1]
    driver = mm.allocator.alloc_pages(0, "GFP_KERNEL").folio
    out = {}
    for owner, pfn in (("page cache", cache.folio_pfn), ("compound tail", cache.folio_pfn + 1),
                       ("anonymous", anon.pfn), ("driver", driver.pfn)):
        page = mm.allocator.get_page(pfn)
        out[owner] = (page.union_member, [ln.strip().split(" =")[0].lstrip(".") for ln in page.text.splitlines()
                                          if ln.strip().startswith(".")])
    free = next(p for p in range(mm.allocator.get_page(driver.pfn).pfn + 1, driver.pfn + 64)
                if mm.allocator.get_page(p).page_type == "buddy")
    page = mm.allocator.get_page(free)
    out["free (buddy)"] = (page.union_member, ["buddy_list", "private = order"])
    mm.allocator.free_pages(driver)
    return out


def run(lab, quick: bool) -> Outcome:
    owners = list(BEFORE)
    grid = Table("words x owners", ["owner", "layout", *WORDS],
                 [[o, "4.17", *BEFORE[o]] for o in owners] + [[o, "4.18", *AFTER_KERNEL[o]] for o in owners])
    live = measured(lab)
    seen = Table("measured on the cluster", ["owner", "union member in use (GetPage)", "fields decoded"],
                 [[o, m, ", ".join(f) if f else "-"] for o, (m, f) in live.items()])
    pages = 1 << 20
    sizes = Table("bytes per page", ["layout", "bytes per struct page", "at 1M pages (4 GiB)", "share of memory",
                                     "words free for a driver"],
                  [["4.17 (kernel)", 64, f"{64 * pages >> 20} MiB", "1.56%", "1 (private) + the unused lru pair"],
                   ["4.18 (kernel)", 64, f"{64 * pages >> 20} MiB", "1.56%", "5 (the whole union)"],
                   ["mmsim record", RECORD_SIZE, f"{RECORD_SIZE * pages >> 20} MiB",
                    f"{100 * RECORD_SIZE / 4096:.2f}%", "5 (w0..w4)"]])

    def draw(fig):
        import matplotlib.colors as mcolors  # noqa: PLC0415

        for k, (ver, table) in enumerate((("4.17", BEFORE), ("4.18", AFTER_KERNEL))):
            ax = fig.add_subplot(1, 2, k + 1)
            cells = [table[o] for o in owners]
            owned = [[0 if c in ("-", "flags", "mem_cgroup") or c.startswith("(") else (2 if "_refcount" in c else 1)
                      for c in row] for row in cells]
            ax.imshow(owned, cmap=mcolors.ListedColormap(["#eeeeee", "#9ecae1", "#fdd0a2"]), vmin=0, vmax=2, aspect="auto")
            for i, row in enumerate(cells):
                for j, c in enumerate(row):
                    ax.text(j, i, c.replace("+", "+\n"), ha="center", va="center", fontsize=5)
            ax.set_xticks(range(len(WORDS)), WORDS, fontsize=7)
            ax.set_yticks(range(len(owners)), owners if k == 0 else [""] * len(owners), fontsize=7)
            ax.set_title(f"struct page, {ver}")

    notes = ["Blue: a word the owner has for itself; orange: the shared counters (_mapcount/page_type and "
             "_refcount); grey: not the owner's (flags, memcg) or unused. The model keeps 4.18's order in a "
             f"{RECORD_SIZE}-byte record (services/allocator/vmemmap.py): a u32 flags word (node and zone come from "
             "the pfn), the five union words, _mapcount, _refcount and a 32-bit memcg id."]
    return Outcome([grid, seen, sizes], [Plot("struct-page.png", "which words of struct page each owner may use",
                                              draw, (11.0, 4.0))], notes, {"pages for the size table": pages})
