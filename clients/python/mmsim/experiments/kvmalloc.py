"""kvmalloc: the overflow-checked allocation helpers against an unchecked ``n * size``, kvmalloc's vmalloc
fallback as fragmentation grows, and malloc()/free() as kvmalloc(GFP_KERNEL).

kvmalloc_array (include/linux/slab.h) multiplies with check_mul_overflow and fails on overflow;
kvmalloc_struct, the to-do list's proposal, is kvmalloc(struct_size(p, member, count)), whose size_mul/
size_add saturate to SIZE_MAX so that the allocation fails. The unchecked product wraps modulo 2**64: the
caller gets a small buffer and then writes n elements into it.
"""

from __future__ import annotations

from mmsim import errors
from mmsim.experiments.base import Outcome, Plot, Table
from mmsim.scenario import ClusterConfig

NAME = "kvmalloc"
TITLE = "kvmalloc_array / kvmalloc_struct vs an unchecked n * size; vmalloc fallback vs fragmentation"
TODO = "kvmalloc_struct() and kvmalloc_array(): allocation sizes computed without overflow; malloc() as kvmalloc()."
COMPARES = "checked helpers vs the wrapped product; max free order 10 (none) down to 0; malloc vs kvmalloc"

U64 = 1 << 64
OVERFLOWS = [((1 << 61) + 1, 8, 16), ((1 << 32) + 1, 1 << 32, 64), ((1 << 60) + 16, 16, 0), (1 << 10, 64, 16)]


def _try(call):
    try:
        return call(), ""
    except errors.MmsimError as exc:
        return None, exc.code


def overflow_table(mm) -> Table:
    a, rows = mm.allocator, []
    for n, size, header in OVERFLOWS:
        true = n * size
        wrapped = true % U64
        arr, arr_err = _try(lambda: a.kvmalloc_array(n, size))
        st, st_err = _try(lambda: a.kvmalloc_struct(header, size, n))
        raw, raw_err = _try(lambda: a.kvmalloc(wrapped))
        for r in (arr, st, raw):
            if r is not None and r.kind != "zero":
                a.kvfree(r.addr)
        got = raw.size if raw is not None else 0
        rows.append([n, size, true, wrapped,
                     f"{arr.kind} {arr.size}" if arr else f"NULL ({arr_err})",
                     f"{st.kind} {st.size}" if st else f"NULL ({st_err})",
                     f"{raw.kind} {raw.size}" if raw else f"NULL ({raw_err})",
                     max(true - got, 0) if raw is not None and true >= U64 else 0])
    return Table("overflow", ["n", "size", "n*size (true)", "n*size mod 2^64", "kvmalloc_array", "kvmalloc_struct",
                              "kvmalloc(unchecked)", "bytes written past the end"], rows)


def fallback_table(lab, mm, quick: bool) -> Table:
    rng = lab.rng("kvmalloc-sizes")
    sizes = [rng.choice([8, 16, 32, 64, 128, 256]) << 10 for _ in range(8 if quick else 32)]
    levels = [10, 5, 3, 1, 0] if quick else [10, 8, 6, 5, 4, 3, 2, 1, 0]
    rows = []
    for level in levels:
        mm.reset()
        if level < 10:
            mm.allocator.fragment(max_free_order=level)
        kinds = {"kmalloc": 0, "vmalloc": 0, "failed": 0}
        reasons = set()
        for size in sizes:
            r, err = _try(lambda: mm.kvmalloc(size, "GFP_KERNEL"))
            if r is None:
                kinds["failed"] += 1
                continue
            kinds[r.kind] = kinds.get(r.kind, 0) + 1
            if r.fallback_reason:
                reasons.add(r.fallback_reason.split(":")[0])
            mm.kvfree(r.addr)
        rows.append([level, len(sizes), kinds["kmalloc"], kinds["vmalloc"], kinds["failed"],
                     round(kinds["vmalloc"] / len(sizes), 3), "; ".join(sorted(reasons)) or "-"])
    return Table("vmalloc fallback", ["max free order", "calls", "kmalloc", "vmalloc", "failed", "fallback rate",
                                      "why"], rows)


def malloc_table(mm) -> Table:
    mm.reset()
    rows = []
    for size in (16, 4096, 64 << 10, 1 << 20, 0):
        m, m_err = _try(lambda: mm.malloc(size))
        k, k_err = _try(lambda: mm.kvmalloc(size, "GFP_KERNEL"))
        rows.append([size, f"{m.kind} order {m.order}, {len(m.pfns)} pages" if m else f"NULL ({m_err})",
                     f"{k.kind} order {k.order}, {len(k.pfns)} pages" if k else f"NULL ({k_err})",
                     (m.kind, m.order, len(m.pfns)) == (k.kind, k.order, len(k.pfns)) if m and k else m is k])
        if m is not None and m.kind != "zero":
            mm.free(m.addr)
        if k is not None and k.kind != "zero":
            mm.kvfree(k.addr)
    return Table("malloc as kvmalloc(GFP_KERNEL)", ["size", "malloc", "kvmalloc(GFP_KERNEL)", "same"], rows)


def run(lab, quick: bool) -> Outcome:
    mm = lab.cluster(ClusterConfig(memory=16 << 20))   # small: the fragmenter pins every other block
    mm.reset()
    over = overflow_table(mm)
    fb = fallback_table(lab, mm, quick)
    ml = malloc_table(mm)

    def draw(fig):
        ax = fig.add_subplot(111)
        ax.plot([r[0] for r in fb.rows], [r[5] for r in fb.rows], marker="o")
        ax.invert_xaxis()
        ax.set_xlabel("largest free block order left by the fragmenter (10 = unfragmented)")
        ax.set_ylabel("kvmalloc calls served by vmalloc")
        ax.set_ylim(-0.05, 1.05)
        ax.set_title("kvmalloc(8..256 KiB, GFP_KERNEL): vmalloc fallback rate")

    notes = ["The unchecked column is what `kvmalloc(n * size)` gets when the product wraps: a buffer of "
             "`n*size mod 2^64` bytes, into which the caller then writes `n * size` bytes, the last column "
             "(the heap overflow the article's kvmalloc_array/kvmalloc_struct rule out; both return NULL)."]
    return Outcome([over, fb, ml], [Plot("kvmalloc-fallback.png", "vmalloc fallback rate as fragmentation grows", draw)],
                   notes, {"overflow cases (n, size, header)": OVERFLOWS})
