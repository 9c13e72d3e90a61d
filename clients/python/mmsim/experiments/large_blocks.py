"""large-blocks: filesystems whose block is larger than PAGE_SIZE, under fragmentation, by populate policy.

A block larger than a page must be cached as one folio of at least the block's order. ``fallback``
(lsfmm2018: large folio first, then smaller ones down to order 0) keeps faults working when memory is
fragmented; ``min-order`` (linux-6.12: never below the block's order) answers VM_FAULT_OOM when no such
block is free. At the end the file is truncated inside a block and read back (truncate correctness).
"""

from __future__ import annotations

import hashlib

from mmsim.experiments.base import Outcome, Plot, Table

NAME = "large-blocks"
TITLE = "block sizes 4K/16K/64K x fragmentation x populate policy"
TODO = "Large block sizes (block size > PAGE_SIZE): large folios in the page cache, and what happens when there are none."
COMPARES = "block size 4/16/64 KiB; max free order none/4/2/0 (Fragment knob); policy fallback (lsfmm2018) vs min-order (linux-6.12)"

TEXT = "0123456789abcdef"


def scenario(block: int, level: int | None, profile: str, size: int, stride: int) -> dict:
    cut = size - block // 2 - 100          # inside a block (and a folio)
    expect_data = ((TEXT * (size // len(TEXT) + 1))[:cut]).encode()
    steps = ([{"fragment": {"max_free_order": level}}] if level is not None else []) + [
        {"mmap": {"process": "p", "file": "a", "as": "m"}},
        {"fault": {"map": "m", "pattern": "strided", "stride": max(block, stride)}},
        {"munmap": {"map": "m"}}, {"unfragment": {}},
        {"truncate": {"file": "a", "size": cut}},
        {"truncate": {"file": "a", "size": size}}]
    return {"name": f"blocks-{block >> 10}k-{profile}-{level}", "cluster": {"memory": "16MiB", "fault_around": 4096},
            "filesystems": [{"name": "fs0", "block_size": block, "profile": profile}],
            "files": [{"name": "a", "fs": "fs0", "size": size, "fill": "text", "text": TEXT}],
            "processes": [{"name": "p"}], "steps": steps,
            "expect": {"files": {"a": {"i_size": size}},
                       "bytes": [{"file": "a", "offset": 0, "length": cut, "sha256": hashlib.sha256(expect_data).hexdigest()},
                                 {"file": "a", "offset": cut, "length": size - cut, "zeros": True}]}}


def run(lab, quick: bool) -> Outcome:
    blocks = [4096, 16384, 65536]
    levels = [None, 2, 0] if quick else [None, 6, 4, 3, 2, 1, 0]
    size = 64 << 10 if quick else 512 << 10
    rows = []
    for profile, policy in (("lsfmm2018", "fallback"), ("linux-6.12", "min-order")):
        for block in blocks:
            for level in levels:
                res = lab.run(scenario(block, level, profile, size, 16384 if quick else 4096))
                faults = [f for f in res.faults]
                ok = [f for f in faults if f["outcome"] in ("major", "minor", "spurious")]
                fstep = next(s for s in res.steps if s.op == "fault")
                orders = sorted({f["order"] for f in ok if f["order"] is not None})
                block_order = (block // 4096).bit_length() - 1
                fallbacks = sum(1 for f in ok if f["order"] is not None and f["order"] < block_order)
                rows.append([policy, block >> 10, "none" if level is None else level, len(faults),
                             round(len(ok) / len(faults), 3) if faults else 0, res.vm_fault.get("VM_FAULT_OOM", 0),
                             fallbacks, " ".join(map(str, orders)) or "-",
                             "ok" if res.ok else "WRONG: " + "; ".join(res.failures),
                             round(1000 * fstep.elapsed_s / max(len(faults), 1), 1)])
    t = Table("faults", ["policy", "block KiB", "max free order", "faults", "success rate", "VM_FAULT_OOM",
                         "faults below the block order", "folio orders", "truncate check", "ms per fault"], rows,
              measured=("ms per fault",))

    def draw(fig):
        axes = [fig.add_subplot(1, 2, i + 1) for i in range(2)]
        for ax, policy in zip(axes, ("fallback", "min-order")):
            for block, style in zip(blocks, ("o-", "s--", "^-")):
                pts = [r for r in rows if r[0] == policy and r[1] == block >> 10]
                ax.plot([str(r[2]) for r in pts], [r[4] for r in pts], style, label=f"{block >> 10} KiB blocks")
            ax.set_title(f"policy {policy}")
            ax.set_xlabel("largest free order left (none = unfragmented)")
            ax.set_ylim(-0.05, 1.05)
        axes[0].set_ylabel("fault success rate")
        axes[0].legend(fontsize=7)

    notes = [("With --quick a 4 KiB-block file is touched once per 16 KiB. " if quick else "") +
             "Fragmentation is made by the allocator's Fragment knob (it pins pages so that no free block "
             "above the given order is left), not by reclaim pressure: the reclaim issue has not landed. "
             "After the faults the fragmenter's pages are given back, the file is truncated to a size inside "
             "a block and extended again; the check reads back the kept bytes (sha256) and zeros past the cut."]
    return Outcome([t], [Plot("large-blocks.png", "fault success rate by block size and fragmentation, per policy",
                              draw, (9.0, 4.0))], notes, {"file bytes": size, "levels": levels, "blocks": blocks})
