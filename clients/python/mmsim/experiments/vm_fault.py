"""vm-fault: every VM_FAULT_* outcome the model produces, each with the scenario that produces it and its trace.

handle_mm_fault (mm/memory.c) answers with a vm_fault_t: VM_FAULT_MAJOR|VM_FAULT_LOCKED for a page-cache
miss that the filesystem filled (filemap_fault), VM_FAULT_LOCKED or VM_FAULT_NOPAGE for a hit (NOPAGE when
fault-around, filemap_map_pages, mapped it), VM_FAULT_SIGBUS past EOF, VM_FAULT_SIGSEGV for an access the VMA
does not allow, VM_FAULT_OOM when no folio of the minimum order can be had, VM_FAULT_NOPAGE for a hole read
through a zero entry (the shared zero page), 0 for a spurious fault (the PTE was already there).
"""

from __future__ import annotations

from mmsim.experiments.base import Outcome, Plot, Table

NAME = "vm-fault"
TITLE = "every VM_FAULT_* outcome, with its scenario and trace"
TODO = "Page-fault handling: what handle_mm_fault answers, and how the answer travels between the services."
COMPARES = "one small scenario per outcome: miss, hit, fault-around hit, spurious, beyond EOF, bad access, hole, no memory"

FILE = {"name": "a", "fs": "xfs0", "size": "16KiB", "fill": "text"}


def _case(label: str, why: str, steps: list[dict], fs: dict | None = None, file: dict | None = None,
          cluster: dict | None = None) -> tuple[str, str, dict]:
    return label, why, {
        "name": f"vm-fault-{label}", "cluster": {"memory": "32MiB", **(cluster or {})},
        "filesystems": [{"name": "xfs0", "block_size": 4096, **(fs or {})}], "files": [file or FILE],
        "processes": [{"name": "p"}, {"name": "q"}], "steps": steps}


MAP = {"mmap": {"process": "p", "file": "a", "as": "m", "length": "64KiB"}}
MAP_Q = {"mmap": {"process": "q", "file": "a", "as": "n", "length": "64KiB"}}


def cases() -> list[tuple[str, str, dict]]:
    touch = {"fault": {"map": "m", "count": 1}}
    return [
        _case("major", "first touch: a page-cache miss the filesystem populates", [MAP, touch]),
        _case("minor-around", "a second process finds the folio cached; fault-around maps its neighbours",
              [MAP, touch, MAP_Q, {"fault": {"map": "n", "count": 1}}]),
        _case("minor-locked", "a cached folio with fault-around off (fault_around_bytes 4096)",
              [MAP, touch, MAP_Q, {"fault": {"map": "n", "count": 1}}], cluster={"fault_around": 4096}),
        _case("spurious", "the PTE is already there: nothing to do", [MAP, touch, touch]),
        _case("write-shared", "a write fault on a shared mapping (the folio is dirtied)",
              [{"mmap": {"process": "p", "file": "a", "as": "m", "length": "64KiB", "prot": "rw"}},
               {"fault": {"map": "m", "count": 1, "write": True}}]),
        _case("cow-private", "a write fault on a private mapping: a copy (anonymous page)",
              [{"mmap": {"process": "p", "file": "a", "as": "m", "length": "64KiB", "prot": "rw", "shared": False}},
               {"fault": {"map": "m", "count": 1, "write": True}}]),
        _case("beyond-eof", "inside the VMA but past i_size (16 KiB)",
              [MAP, {"fault": {"map": "m", "count": 1, "start": "32KiB"}}]),
        _case("bad-access", "a write to a read-only mapping", [MAP, {"fault": {"map": "m", "count": 1, "write": True}}]),
        _case("hole-zero-entry", "a read of a hole: a zero entry, the shared zero page mapped",
              [MAP, touch], file={"name": "a", "fs": "xfs0", "size": "64KiB", "fill": "sparse"}),
        _case("no-memory", "min-order (linux-6.12), 64 KiB blocks, every free block below order 4",
              [{"fragment": {"max_free_order": 1}}, MAP, touch],
              fs={"block_size": "64KiB", "profile": "linux-6.12"}, file={**FILE, "size": "64KiB"}),
    ]


def run(lab, quick: bool) -> Outcome:
    rows, notes, shapes = [], [], []
    for label, why, data in cases():
        res = lab.run(data, trace_faults=0)
        mm = lab.cluster(_cluster(data))
        last = res.faults[-1]
        tree = mm.trace(_last_trace(lab, data))
        rows.append([label, last["vm_fault"], last["outcome"], last["order"] if last["order"] is not None else "-",
                     last["pages_mapped"], last["around"], tree.hops, tree.redis_round_trips, why])
        shapes.append(tree)
        notes.append(f"`{label}` ({why}): `{last['vm_fault']}`\n\n```\n{tree.render()}\n```")
    seen = sorted({b for r in rows for b in r[1].split("|") if b != "0"})
    t = Table("outcomes", ["case", "vm_fault", "outcome", "folio order", "PTEs", "around", "hops", "redis round trips",
                           "scenario"], rows)
    codes = Table("VM_FAULT bits produced", ["bit", "cases"],
                  [[b, ", ".join(r[0] for r in rows if b in r[1].split("|"))] for b in seen])
    notes.insert(0, "VM_FAULT_RETRY is produced inside the reverse map (a folio locked by a racing fault or a "
                    "truncation) and retried there, as handle_mm_fault's caller retries with FAULT_FLAG_TRIED; a "
                    "user sees the retried fault's answer. HWPOISON, FALLBACK, DONE_COW, NEEDDSYNC and COMPLETED "
                    "have no producer in the model. The traces below are each case's last fault.")

    def draw(fig):
        ax = fig.add_subplot(111)
        x = range(len(rows))
        ax.bar([i - 0.2 for i in x], [r[6] for r in rows], 0.4, label="gRPC hops")
        ax.bar([i + 0.2 for i in x], [r[7] for r in rows], 0.4, label="Redis round trips")
        ax.set_xticks(list(x), [r[0] for r in rows], rotation=35, ha="right")
        ax.axhline(2, ls=":", c="grey")
        ax.set_ylabel("per fault")
        ax.set_title("cost of each outcome (budget: minor 2 hops / 3 round trips, major 5 / 10)")
        ax.legend()

    return Outcome([t, codes], [Plot("vm-fault-cost.png", "hops and Redis round trips of each outcome's fault", draw)],
                   notes, {"cases": [c[0] for c in cases()]})


def _cluster(data: dict):
    from mmsim import scenario  # noqa: PLC0415

    return scenario.from_dict(data).cluster


def _last_trace(lab, data: dict) -> str:
    return lab.cluster(_cluster(data)).last_trace_id
