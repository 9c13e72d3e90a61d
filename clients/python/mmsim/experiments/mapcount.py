"""mapcount: the three overflow policies on the same workload: who dies, what leaks, what is corrupted.

A page's _mapcount is 32 bits; a process that maps one page 2**32 times (many VMAs of one file) would wrap
it. The to-do list's answer is a per-process limit (5000 in the lsfmm2018 profile) with an action: kill the
process (SIGKILL, as the OOM killer would), or leak (pin the page with a reference never dropped, so that
the wrapped count can never free it), or none (no limit: the count grows, and past 2**31-1 the model refuses
the wrap instead of performing it). The workload here maps one page of a file from more VMAs than the limit
allows, with a small limit so that it runs in seconds.
"""

from __future__ import annotations

from mmsim.experiments.base import Outcome, Plot, Table

NAME = "mapcount"
TITLE = "mapcount overflow policies: none, kill at the limit, leak"
TODO = "Mapcount overflow: a process mapping one page more often than _mapcount can count."
COMPARES = "mapcount_action none / kill / leak, with the same small mapcount_limit, on the same workload"


def scenario(action: str, limit: int, maps: int) -> dict:
    steps = []
    for i in range(maps):
        steps.append({"mmap": {"process": "p", "file": "a", "as": f"m{i}", "length": 4096}})
        steps.append({"fault": {"map": f"m{i}", "count": 1}})
    return {"name": f"mapcount-{action}", "cluster": {"memory": "16MiB", "fault_around": 4096},
            "filesystems": [{"name": "xfs0"}], "files": [{"name": "a", "fs": "xfs0", "size": 4096, "fill": "text"}],
            "processes": [{"name": "p", "mapcount_limit": limit if action != "none" else 0, "mapcount_action": action},
                          {"name": "bystander"}],
            "steps": steps}


def run(lab, quick: bool) -> Outcome:
    limit = 6 if quick else 32
    maps = limit + 4
    rows, series = [], {}
    for action in ("none", "kill", "leak"):
        run_ = lab.replay(scenario(action, limit, maps))
        res, mm = run_.result, run_.mm
        ok = [f for f in res.faults if f["outcome"] in ("major", "minor", "pinned")]
        proc = res.processes["p"]
        pfn = next((r.pfn for r in run_.fault_results if r.ok), None)
        mc = mm.rmap.folio_mapcount(pfn) if pfn is not None else None
        # after the process is gone: does the page go back? (exit, drop the page cache)
        state_before_exit = proc["state"]
        if state_before_exit == "running":
            run_.procs["p"].exit()
        f = run_.files["a"]
        f.fadvise("dontneed")
        after = mm.allocator.get_page(pfn)
        cached = f.stat().nrpages
        rows.append([action, limit if action != "none" else "-", maps, len(ok), len(res.faults) - len(ok),
                     state_before_exit, mc.folio_mapcount if mc else 0, mc.refcount if mc else 0,
                     "yes" if mc and mc.pinned else "no", after.refcount, cached,
                     (mc.page_mapcount_raw + 1) if mc else 0])
        series[action] = (mc.folio_mapcount if mc else 0, after.refcount, cached)
    t = Table("policies", ["action", "limit", "VMAs mapped", "faults ok", "faults refused", "process",
                           "PTEs (folio_mapcount)", "refcount", "pinned", "refcount after exit",
                           "pages still cached after exit", "_mapcount + 1 (stored)"], rows)

    def draw(fig):
        ax = fig.add_subplot(111)
        names = list(series)
        x = range(len(names))
        ax.bar([i - 0.25 for i in x], [series[n][0] for n in names], 0.25, label="_mapcount while running")
        ax.bar([i for i in x], [series[n][1] for n in names], 0.25, label="refcount after exit")
        ax.bar([i + 0.25 for i in x], [series[n][2] for n in names], 0.25, label="pages left cached (leaked)")
        ax.axhline(limit, ls=":", c="grey", label=f"mapcount_limit {limit}")
        ax.set_xticks(list(x), names)
        ax.set_title(f"one page mapped from {maps} VMAs of one process")
        ax.legend()

    notes = [f"`kill`: the fault that would raise the page's _mapcount past {limit} for that process SIGKILLs it "
             "(its later faults are refused, FAILED_PRECONDITION); `leak`: the page is pinned with one reference "
             "that is never dropped, so after the process exits and the page cache is dropped the page stays "
             "(refcount 1, still cached); `none`: no limit, the count is exact. The 2**32 wrap itself (issue 13) "
             "is refused by the model at INT_MAX rather than performed; this experiment uses the small limits."]
    return Outcome([t], [Plot("mapcount-policies.png", "mapcount, leaked references and pages per policy", draw)],
                   notes, {"mapcount_limit": limit, "vmas": maps})
