"""hugetlb-indexing: how the page cache of a file is indexed, measured per GiB cached against file size.

hugetlbfs indexed its page cache in huge-page units (one index per 2 MiB); the multi-order XArray stores one
entry per folio whatever its order; order-0 indexing stores an entry in every slot a folio covers. The
kernel's figures for a fully cached GiB (64-slot nodes): 65 nodes with 2 MiB entries, 4,161 with 4 KiB ones.
"""

from __future__ import annotations

import time

from mmsim.experiments.base import Outcome, Plot, Table, per_gib

NAME = "hugetlb-indexing"
TITLE = "hugetlb vs multi-order vs order-0 indexing: XArray nodes, Redis bytes, lookups"
TODO = "Convert hugetlbfs to index its page cache like everyone else (multi-order entries)."
COMPARES = "indexing hugetlb / multi-order / order-0, file sizes of 2 MiB upwards, fully cached"

MODES = ("hugetlb", "multi-order", "order-0")
KERNEL = {"hugetlb": 65, "multi-order": 65, "order-0": 4161}


def run(lab, quick: bool) -> Outcome:
    sizes = [2 << 20, 4 << 20, 8 << 20] if quick else [2 << 20, 4 << 20, 8 << 20, 16 << 20, 32 << 20]
    lookups = 20 if quick else 100
    rows = []
    for size in sizes:
        for mode in MODES:
            data = {"name": f"index-{mode}-{size >> 20}M", "cluster": {"memory": "96MiB" if quick else "160MiB"},
                    "filesystems": [{"name": "fs0", "indexing": mode}],
                    "files": [{"name": "a", "fs": "fs0", "size": size, "fill": "text", "sync": False}]}
            run_ = lab.replay(data)
            f = run_.files["a"]
            xa = f.xa_stats()
            rng = lab.rng(f"lookups-{mode}-{size}")
            pages = size // 4096
            t0 = time.monotonic()
            for _ in range(lookups):
                f.find_folio(rng.randrange(pages))
            rate = lookups / (time.monotonic() - t0)
            rows.append([mode, size >> 20, xa.nrpages, xa.entries, xa.nodes, xa.height, xa.redis_bytes,
                         round(per_gib(xa.nodes, size), 1), round(per_gib(xa.redis_bytes, size) / (1 << 20), 2),
                         KERNEL[mode], round(rate, 1), round(rate * size / (1 << 30), 3)])
    t = Table("indexing", ["indexing", "file MiB", "pages cached", "entries", "XArray nodes", "height", "Redis bytes",
                           "nodes per GiB", "Redis MiB per GiB", "kernel nodes per GiB", "lookups/s",
                           "lookups/s per GiB cached"], rows,
              measured=("Redis bytes", "Redis MiB per GiB", "lookups/s", "lookups/s per GiB cached"))

    def draw(fig):
        ax1, ax2 = fig.add_subplot(121), fig.add_subplot(122)
        for mode, style in zip(MODES, ("o-", "s--", "^-")):
            pts = [r for r in rows if r[0] == mode]
            ax1.plot([r[1] for r in pts], [max(r[7], 0.5) for r in pts], style, label=mode)
            ax2.plot([r[1] for r in pts], [r[8] for r in pts], style, label=mode)
        for v, lab_ in ((65, "kernel, 2 MiB entries: 65"), (4161, "kernel, 4 KiB entries: 4,161")):
            ax1.axhline(v, ls=":", c="grey")
            ax1.text(sizes[0] >> 20, v * 1.1, lab_, fontsize=7)
        ax1.set_yscale("log")
        ax1.set_xscale("log", base=2)
        ax2.set_xscale("log", base=2)
        ax1.set_xlabel("file size (MiB)")
        ax2.set_xlabel("file size (MiB)")
        ax1.set_ylabel("XArray nodes per GiB cached (scaled)")
        ax2.set_ylabel("Redis MiB per GiB cached")
        ax1.legend(fontsize=7)
        ax1.set_title("nodes")
        ax2.set_title("Redis memory")

    notes = ["Per-GiB figures scale the measured file up linearly (nodes × 1 GiB / size), so a small file "
             "pays for its root node: the figures approach the kernel's as the file grows (order-0 from above "
             "towards 4,161; multi-order and hugetlb from above towards 65: a node per 64 slots, each slot a "
             "2 MiB folio here). A hugetlb file of one huge page needs no node at all (its entry sits at the "
             "root; drawn at 0.5 on the log scale). Lookups/s are wall-clock FindFolio calls at random indices "
             "on this machine; they and the Redis bytes (MEMORY USAGE, which depends on Redis's allocator, a few "
             "bytes from run to run) are not compared by the determinism test."]
    return Outcome([t], [Plot("hugetlb-indexing.png", "XArray nodes and Redis bytes per GiB cached vs file size", draw,
                              (9.0, 4.0))], notes, {"sizes": sizes, "lookups": lookups})
