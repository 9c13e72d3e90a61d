"""Pure VMA arithmetic of mmsim.rmap.mm: find_vma, get_unmapped_area, indices, /proc/PID/maps."""

import pytest

from mmsim.rmap import mm
from mmsim.rmap.mm import PAGE_SIZE, Vma
from mmsim.runtime.errors import InvalidArgument, ResourceExhausted

R = mm.prot_to_vm_flags({"r"}, shared=False)
RWS = mm.prot_to_vm_flags({"r", "w"}, shared=True)


def vma(start, pages, pgoff=0, flags=R, mapping="xfs0/12"):
    return Vma(start, start + pages * PAGE_SIZE, pgoff, flags, mapping, 12, mm.dev_of_fs("xfs0"), "/mnt/xfs0/data/a")


def test_find_vma_returns_first_vma_ending_above_addr():
    a, b = vma(0x10000, 4), vma(0x40000, 4)
    assert mm.find_vma([b, a], 0x10000) is a
    assert mm.find_vma([a, b], 0x13fff) is a
    assert mm.find_vma([a, b], 0x14000) is b  # in the gap: find_vma gives the next VMA ...
    assert mm.vma_lookup([a, b], 0x14000) is None  # ... but no VMA contains the address
    assert mm.find_vma([a, b], 0x44000) is None


def test_linear_page_index_and_inverse():
    v = vma(0x7f0000000000, 16, pgoff=5)
    assert mm.linear_page_index(v, 0x7f0000000000) == 5
    assert mm.linear_page_index(v, 0x7f0000003fff) == 8
    assert mm.index_to_address(v, 8) == 0x7f0000003000


def test_get_unmapped_area_is_top_down_from_mmap_base():
    first = mm.get_unmapped_area([], 4 * PAGE_SIZE)
    assert first == mm.MMAP_BASE - 4 * PAGE_SIZE
    v1 = vma(first, 4)
    second = mm.get_unmapped_area([v1], 2 * PAGE_SIZE)
    assert second == first - 2 * PAGE_SIZE  # directly below the previous mapping


def test_get_unmapped_area_uses_a_gap_between_vmas_and_honours_free_hints():
    top = vma(mm.MMAP_BASE - 4 * PAGE_SIZE, 4)
    low = vma(mm.MMAP_BASE - 20 * PAGE_SIZE, 4)  # gap of 12 pages between low and top
    assert mm.get_unmapped_area([top, low], 12 * PAGE_SIZE) == top.start - 12 * PAGE_SIZE
    assert mm.get_unmapped_area([top, low], 13 * PAGE_SIZE) == low.start - 13 * PAGE_SIZE
    assert mm.get_unmapped_area([top], PAGE_SIZE, hint=0x200000) == 0x200000
    # an occupied hint is ignored (no MAP_FIXED): top-down search instead
    assert mm.get_unmapped_area([top], PAGE_SIZE, hint=top.start) == top.start - PAGE_SIZE


def test_get_unmapped_area_enomem_when_nothing_fits():
    with pytest.raises(ResourceExhausted):
        mm.get_unmapped_area([], mm.TASK_SIZE)
    with pytest.raises(ResourceExhausted):
        mm.get_unmapped_area([], 8 * PAGE_SIZE, mmap_base=mm.MMAP_MIN_ADDR + 4 * PAGE_SIZE)


def test_maps_line_has_the_kernels_format():
    v = vma(0x7f0000000000, 16, pgoff=1, flags=RWS)
    line = mm.format_maps_line(v)
    dev = mm.dev_of_fs("xfs0")
    head = f"7f0000000000-7f0000010000 rw-s 00001000 00:{dev:02x} 12 "
    assert line.startswith(head)
    assert line.index("/mnt/xfs0/data/a") == 73  # padded to column 72, then one space (seq_pad)
    assert line.endswith(" /mnt/xfs0/data/a")
    low = Vma(0x400000, 0x401000, 0, R | mm.VM_EXEC, "x/1", 1, 0x0801, "/bin/true")
    assert mm.format_maps_line(low).startswith("00400000-00401000 r-xp 00000000 08:01 1 ")
    assert mm.format_maps_line(Vma(0x1000, 0x2000, 0, R, "x/1", 0, 0, "")) == "00001000-00002000 r--p 00000000 00:00 0 "


def test_split_for_munmap():
    v = vma(0x100000, 10, pgoff=3)
    left, right = mm.split_for_munmap(v, 0x102000, 0x105000)
    assert (left.start, left.end, left.pgoff) == (0x100000, 0x102000, 3)
    assert (right.start, right.end, right.pgoff) == (0x105000, 0x10A000, 8)
    assert mm.split_for_munmap(v, 0x100000, 0x10A000) == []


def test_vma_json_round_trip_keeps_big_addresses_exact():
    v = vma(mm.MMAP_BASE - PAGE_SIZE, 1, pgoff=(1 << 40))
    assert Vma.from_json(v.to_json()) == v


def test_argument_checks():
    with pytest.raises(InvalidArgument):
        mm.validate_comm("")
    with pytest.raises(InvalidArgument):
        mm.validate_comm("x" * 16)
    with pytest.raises(InvalidArgument):
        mm.validate_mmap(0, 0, 0)
    with pytest.raises(InvalidArgument):
        mm.validate_mmap(4096, 100, 0)
    assert mm.validate_mmap(1, 0, 0) == PAGE_SIZE
    assert mm.DEFAULT_MAX_MAP_COUNT == 65530


def test_thp_get_unmapped_area_aligns_large_file_mappings_to_their_offset():
    """__thp_get_unmapped_area: (addr - offset) % PMD_SIZE == 0 for mappings of at least PMD_SIZE."""
    from mmsim.rmap.mm import PMD_SIZE, thp_get_unmapped_area

    for offset in (0, PMD_SIZE, 3 * 4096):
        addr = thp_get_unmapped_area([], 4 * PMD_SIZE, 0, offset=offset)
        assert (addr - offset) % PMD_SIZE == 0
    small = thp_get_unmapped_area([], 8 * 4096)
    assert small % 4096 == 0
    assert thp_get_unmapped_area([], PMD_SIZE, hint=0x10000000) == 0x10000000
