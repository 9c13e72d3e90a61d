"""mprotect_plan (mm/mprotect.c mprotect_fixup): splits at the range's ends, merges with alike neighbours,
refuses holes (ENOMEM) and protections a VMA may not take (EACCES); checked against a page-by-page model."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from mmsim.rmap.mm import (PAGE_SIZE, VM_EXEC, VM_MAYREAD, VM_READ, VM_WRITE, Vma, can_merge, mprotect_plan,
                           prot_to_vm_flags)
from mmsim.runtime.errors import NotFound, PermissionDenied

P = PAGE_SIZE
R, RW = prot_to_vm_flags({"r"}, False), prot_to_vm_flags({"r", "w"}, False)


def vma(start_page, pages, flags=R, pgoff=None, mapping="fs/1"):
    return Vma(start_page * P, (start_page + pages) * P, start_page if pgoff is None else pgoff, flags, mapping)


def apply(vmas, old, new):
    return sorted([v for v in vmas if v not in old] + new, key=lambda v: v.start)


def test_the_middle_of_a_vma_splits_in_three():
    v = vma(10, 10)
    old, new = mprotect_plan([v], 12 * P, 14 * P, VM_READ | VM_WRITE)
    assert old == [v]
    assert [(w.start // P, w.end // P, w.pgoff, w.flags & 7) for w in new] == [
        (10, 12, 10, VM_READ), (12, 14, 12, VM_READ | VM_WRITE), (14, 20, 14, VM_READ)]


def test_protecting_back_merges_the_pieces_again():
    v = vma(10, 10)
    old, new = mprotect_plan([v], 12 * P, 14 * P, VM_READ | VM_WRITE)
    after = apply([v], old, new)
    old2, new2 = mprotect_plan(after, 12 * P, 14 * P, VM_READ)
    assert apply(after, old2, new2) == [v]


def test_a_neighbour_of_another_file_does_not_merge():
    a, b = vma(10, 2, RW), vma(12, 2, R, mapping="fs/2")
    old, new = mprotect_plan([a, b], 12 * P, 14 * P, VM_READ | VM_WRITE)
    assert old == [b] and len(new) == 1 and not can_merge(a, new[0])


def test_nothing_to_change_is_an_empty_plan():
    assert mprotect_plan([vma(10, 4)], 10 * P, 12 * P, VM_READ) == ([], [])


def test_a_hole_is_enomem_and_a_missing_may_bit_is_eacces():
    with pytest.raises(NotFound, match="ENOMEM"):
        mprotect_plan([vma(10, 2), vma(13, 2)], 10 * P, 15 * P, VM_READ)
    with pytest.raises(NotFound, match="ENOMEM"):
        mprotect_plan([vma(10, 2)], 8 * P, 11 * P, VM_READ)
    with pytest.raises(PermissionDenied, match="EACCES"):
        mprotect_plan([vma(10, 2, VM_READ | VM_MAYREAD)], 10 * P, 11 * P, VM_READ | VM_WRITE)


@settings(max_examples=150, derandomize=True, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.sampled_from([R, RW])), min_size=1, max_size=6),
       st.data())
def test_plans_match_a_page_model(layout, data):
    """Every page keeps its file offset and gets exactly the new protection in range, the old one outside;
    no two adjacent VMAs of the result that the plan touched are alike (they would have merged)."""
    vmas, page = [], 100
    for gap, flags in layout:
        page += gap
        n = 1 + len(vmas) % 3
        vmas.append(vma(page, n, flags, pgoff=page * 2))
        page += n
    lo = data.draw(st.integers(vmas[0].start // P, vmas[-1].end // P - 1))
    hi = data.draw(st.integers(lo + 1, vmas[-1].end // P))
    prot = data.draw(st.sampled_from([0, VM_READ, VM_READ | VM_WRITE, VM_READ | VM_EXEC]))
    model = {}
    for v in vmas:
        for i in range(v.pages):
            model[v.start // P + i] = (v.pgoff + i, v.flags)
    if any(p not in model for p in range(lo, hi)):
        with pytest.raises(NotFound):
            mprotect_plan(vmas, lo * P, hi * P, prot)
        return
    old, new = mprotect_plan(vmas, lo * P, hi * P, prot)
    after = apply(vmas, old, new)
    got = {}
    for v in after:
        for i in range(v.pages):
            assert v.start // P + i not in got, "VMAs overlap"
            got[v.start // P + i] = (v.pgoff + i, v.flags)
    want = {p: (off, (f & ~7) | prot if lo <= p < hi else f) for p, (off, f) in model.items()}
    assert got == want
    for a, b in zip(new, new[1:]):
        assert not can_merge(a, b)
