"""zero-entries: a sparse file read end to end, its holes as zero entries (lsfmm2018) or as zero-filled
page-cache pages (linux-6.12).

A zero entry is an XArray value entry that stands for a hole: a read fault maps the shared zero page, no
page is allocated. Without them, every hole read allocates a page, zeroes it and inserts it in the cache.
"""

from __future__ import annotations

from mmsim.experiments.base import Outcome, Plot, Table

NAME = "zero-entries"
TITLE = "sparse file read end to end: zero entries vs zero-filled pages"
TODO = "Zero entries in the page cache for holes (instead of allocating zeroed pages)."
COMPARES = "profile lsfmm2018 (zero entries) vs linux-6.12 (zero-filled pages), same sparse file"


def scenario(profile: str, size: int, written: list[int]) -> dict:
    steps = [{"write": {"file": "a", "offset": off, "length": 4096, "data": "data "}} for off in written]
    steps += [{"fsync": {"file": "a"}}, {"drop": {"file": "a"}},
              {"mmap": {"process": "reader", "file": "a", "as": "m"}},
              {"fault": {"map": "m", "pattern": "sequential"}}]
    hole = next(o for o in range(0, size, 4096) if o not in written)
    return {"name": f"sparse-{profile}", "cluster": {"memory": "32MiB", "fault_around": 4096},
            "filesystems": [{"name": "fs0", "profile": profile}],
            "files": [{"name": "a", "fs": "fs0", "size": size, "fill": "sparse"}],
            "processes": [{"name": "reader"}], "steps": steps,
            "expect": {"bytes": [{"file": "a", "offset": hole, "length": 4096, "zeros": True}]}}


def run(lab, quick: bool) -> Outcome:
    size = (256 if quick else 2048) << 10
    rng = lab.rng("sparse")
    written = sorted(rng.sample(range(0, size, 4096), 4 if quick else 16))
    rows = []
    for profile in ("lsfmm2018", "linux-6.12"):
        res = lab.run(scenario(profile, size, written))
        fault_step = res.steps[-1]
        c, f = res.counters, res.files["a"]
        rows.append([profile, size >> 10, len(written), len(res.faults), c.get("pgmajfault", 0),
                     c.get("nr_file_pages", 0), f["nrpages"], f["zero_entries"], f["entries"],
                     res.outcomes.get("zero-page", 0), "yes" if res.ok else "NO: " + "; ".join(res.failures),
                     round(fault_step.elapsed_s, 2)])
    t = Table("sparse read", ["profile", "file KiB", "blocks written", "faults", "major faults", "pages allocated",
                              "pages cached", "zero entries", "XArray entries", "zero-page mappings", "holes read as zeros",
                              "read time s"], rows, measured=("read time s",))

    def draw(fig):
        ax = fig.add_subplot(111)
        x = range(len(rows))
        ax.bar([i - 0.2 for i in x], [r[6] for r in rows], 0.4, label="pages in the page cache")
        ax.bar([i + 0.2 for i in x], [r[7] for r in rows], 0.4, label="zero entries")
        ax.set_xticks(list(x), [r[0] for r in rows])
        ax.set_title(f"a {size >> 10} KiB file with {len(written)} blocks written, read end to end")
        ax.legend()

    return Outcome([t], [Plot("zero-entries.png", "page-cache pages vs zero entries after the read", draw)],
                   ["With zero entries the read of a hole maps the zero page (VM_FAULT_NOPAGE) and allocates "
                    "nothing; without them each hole costs a page. Fault-around is off so that every page is "
                    "one fault."], {"file bytes": size, "written offsets": written})
