"""pfn-entries: reflinked copies read by several processes, with and without PFN entries (shared folios).

With PFN entries (lsfmm2018) a reflinked file's page cache can point at the source file's clean folios
instead of reading its own copy of the shared blocks; a write to a shared folio copies it first
(UnshareFolio). Without them (linux-6.12) every copy has its own pages.
"""

from __future__ import annotations

from mmsim.experiments.base import Outcome, Plot, Table

NAME = "pfn-entries"
TITLE = "reflinked copies with and without PFN entries: memory used, copies on write"
TODO = "PFN entries in the page cache: several files (reflinks) sharing one page."
COMPARES = "lsfmm2018 with share_folios vs linux-6.12 (no sharing), N reflinked copies each read by its own process"


def scenario(profile: str, share: bool, copies: int, size: int) -> dict:
    files = [{"name": "src", "fs": "fs0", "size": size, "fill": "random"}]
    files += [{"name": f"c{i}", "fs": "fs0"} for i in range(copies)]
    procs = [{"name": "p-src"}] + [{"name": f"p{i}"} for i in range(copies)]
    steps = [{"mmap": {"process": "p-src", "file": "src", "as": "msrc"}}, {"fault": {"map": "msrc"}}]
    for i in range(copies):
        steps.append({"reflink": {"src": "src", "dst": f"c{i}", "share_folios": share}})
    for i in range(copies):
        steps += [{"mmap": {"process": f"p{i}", "file": f"c{i}", "as": f"m{i}", "length": size, "prot": "rw"}},
                  {"fault": {"map": f"m{i}"}}]
    steps.append({"fault": {"map": "m0", "count": 1, "write": True}})
    return {"name": f"reflink-{profile}-{'share' if share else 'copy'}",
            "cluster": {"memory": "64MiB", "fault_around": 4096},
            "filesystems": [{"name": "fs0", "profile": profile}], "files": files, "processes": procs, "steps": steps}


def run(lab, quick: bool) -> Outcome:
    copies, size = (2, 64 << 10) if quick else (4, 256 << 10)
    rows = []
    for profile, share in (("lsfmm2018", True), ("lsfmm2018", False), ("linux-6.12", False)):
        run_ = lab.replay(scenario(profile, share, copies, size), observe=True)
        res = run_.result
        write_step = res.steps[-1]
        before_write = res.counters.get("nr_file_pages", 0) - write_step.changes["vmstat"].get("nr_file_pages", 0)
        rows.append([profile, "yes" if share else "no", copies, size >> 10, before_write,
                     round(before_write / ((copies + 1) * size / 4096), 2),
                     write_step.changes["vmstat"].get("nr_file_pages", 0), res.faults[-1]["outcome"],
                     sum(f.get("shared_blocks", 0) for n, f in res.files.items() if n != "src")])
    t = Table("reflinks", ["profile", "share folios", "copies", "file KiB", "page-cache pages after the reads",
                           "pages per file page", "pages added by one write fault", "write fault", "blocks shared"],
              rows)

    def draw(fig):
        ax = fig.add_subplot(111)
        labels = [f"{r[0]}\n{'shared' if r[1] == 'yes' else 'copies'}" for r in rows]
        ax.bar(labels, [r[4] for r in rows])
        ax.axhline(size // 4096, ls=":", c="grey", label="one file's pages")
        ax.set_ylabel("page-cache pages")
        ax.set_title(f"source + {copies} reflinked copies, each read by a process")
        ax.legend()

    return Outcome([t], [Plot("pfn-entries.png", "page-cache pages used by reflinked copies", draw)],
                   ["The last fault writes one page of the first copy through a shared mapping: with shared "
                    "folios that folio is copied first (the copy on write the column counts)."],
                   {"copies": copies, "file bytes": size})
