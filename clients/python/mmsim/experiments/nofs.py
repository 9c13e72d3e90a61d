"""nofs: GFP_KERNEL vs GFP_NOFS vs the memalloc_nofs scope for allocations made under a filesystem lock.

Under the inode lock a filesystem must not recurse into itself through reclaim. Before 4.12 every
allocation there passed GFP_NOFS (``gfp_nofs``); the scoped API (memalloc_nofs_save, ``scope``) marks the
section once and the allocator strips __GFP_FS; plain GFP_KERNEL under the lock (``none``) is the bug that
lockdep's fs_reclaim annotation reports (might_alloc -> fs_reclaim_acquire).
"""

from __future__ import annotations

from mmsim.experiments.base import Outcome, Plot, Table

NAME = "nofs"
TITLE = "GFP_KERNEL vs GFP_NOFS vs memalloc_nofs scope under memory pressure"
TODO = "Scoped GFP_NOFS (memalloc_nofs_save/restore) instead of GFP_NOFS at every call site."
COMPARES = "filesystem alloc_context none (GFP_KERNEL) / gfp_nofs / scope, under the Fragment knob"


def scenario(context: str, size: int, level: int) -> dict:
    return {"name": f"nofs-{context}", "cluster": {"memory": "32MiB", "fault_around": 4096},
            "filesystems": [{"name": "fs0", "block_size": 16384, "alloc_context": context}],
            "files": [{"name": "a", "fs": "fs0", "size": size, "fill": "random"}],
            "processes": [{"name": "p"}],
            "steps": [{"fragment": {"max_free_order": level}},
                      {"mmap": {"process": "p", "file": "a", "as": "m", "prot": "rw"}},
                      {"fault": {"map": "m", "pattern": "strided", "stride": 16384}},
                      {"write": {"file": "a", "offset": 0, "length": size}},
                      {"fsync": {"file": "a"}}]}


def run(lab, quick: bool) -> Outcome:
    size = (128 if quick else 512) << 10
    level = 1
    rows = []
    for context, gfp in (("none", "GFP_KERNEL"), ("gfp_nofs", "GFP_NOFS"), ("scope", "memalloc_nofs_save()")):
        res = lab.run(scenario(context, size, level))
        c = res.counters
        fstep = next(s for s in res.steps if s.op == "fault")
        stalls = sum(v for k, v in c.items() if k.startswith("allocstall"))
        rows.append([context, gfp, len(res.faults), sum(v for k, v in res.outcomes.items() if k in ("major", "minor")),
                     c.get("mmsim_lockdep_fs_reclaim", 0), stalls, c.get("pgscan_direct", 0), c.get("thp_file_fallback", 0),
                     round(len(res.faults) / fstep.elapsed_s, 1) if fstep.elapsed_s else 0])
    t = Table("contexts", ["alloc_context", "allocations under the lock use", "faults", "faults ok", "lockdep reports",
                           "allocstall (slow path)", "pages scanned", "fallbacks", "faults/s"], rows,
              measured=("faults/s",))

    def draw(fig):
        ax = fig.add_subplot(111)
        ax.bar([r[0] for r in rows], [r[4] for r in rows], color=["tab:red", "tab:blue", "tab:green"])
        ax.set_ylabel("lockdep fs_reclaim reports")
        ax.set_title(f"faults and writes of a {size >> 10} KiB file under the inode lock (fragmented to order {level})")

    notes = ["Run under the Fragment knob (every free block above order "
             f"{level} pinned): the reclaim issue has not landed, so no allocation here can enter direct reclaim "
             "and 'direct reclaim stalls' and 'pages scanned' stay 0 in every variant. What differs is what "
             "lockdep sees: GFP_KERNEL under the inode lock is reported at every allocation that could recurse "
             "into the filesystem; GFP_NOFS and the scope are not."]
    return Outcome([t], [Plot("nofs.png", "lockdep fs_reclaim reports per allocation context", draw)], notes,
                   {"file bytes": size, "max_free_order": level})
