"""mmap(2) placement: MAP_FIXED replaces what was at the address (do_mmap -> mmap_region unmaps first),
MAP_FIXED_NOREPLACE refuses with EEXIST, both refuse addresses below vm.mmap_min_addr (EPERM); and
vm.max_map_count is enforced with ENOMEM."""

from __future__ import annotations

import itertools

import pytest

from mmsim import errors
from mmsim.client import PAGE_SIZE


_names = itertools.count()


@pytest.fixture()
def file(mm):
    f = mm.mkfs(f"fixed{next(_names)}", profile="linux-6.12").create("/f")
    f.write(0, b"a" * 4 * PAGE_SIZE)
    return f


def test_map_fixed_noreplace_refuses_an_occupied_range(mm, file):
    p = mm.spawn("fixed")
    v = p.mmap(file, 2 * PAGE_SIZE)
    with pytest.raises(errors.AlreadyExists, match="EEXIST"):
        p.mmap(file, PAGE_SIZE, addr=v.start + PAGE_SIZE, fixed="noreplace")
    free = v.start - 16 * PAGE_SIZE
    assert p.mmap(file, PAGE_SIZE, addr=free, fixed="noreplace").start == free
    assert p.status().map_count == 2
    p.exit()


def test_map_fixed_replaces_the_middle_of_a_vma(mm, file):
    p = mm.spawn("fixed")
    v = p.mmap(file, 3 * PAGE_SIZE, offset=0)
    p.fault(v.start + PAGE_SIZE)
    old_pfn = p.fault(v.start + PAGE_SIZE).pfn
    w = p.mmap(file, PAGE_SIZE, offset=3 * PAGE_SIZE, addr=v.start + PAGE_SIZE, fixed="fixed")
    assert w.start == v.start + PAGE_SIZE
    assert p.status().map_count == 3              # the old VMA split around the new one
    assert p.fault(w.start).pfn != old_pfn        # file page 3 now, not page 1
    assert p.read(w.start, 1) == b"a"
    assert mm.check().ok
    p.exit()


def test_fixed_addresses_are_checked(mm, file):
    p = mm.spawn("fixed")
    with pytest.raises(errors.PermissionDenied, match="mmap_min_addr"):
        p.mmap(file, PAGE_SIZE, addr=PAGE_SIZE, fixed="fixed")
    with pytest.raises(errors.InvalidArgument, match="needs an address"):
        p.mmap(file, PAGE_SIZE, addr=0, fixed="noreplace")
    with pytest.raises(errors.InvalidArgument):
        p.mmap(file, PAGE_SIZE, fixed="bogus")
    assert p.status().map_count == 0
    p.exit()


def test_max_map_count_is_enforced_with_enomem(mm, file):
    p = mm.spawn("few", max_map_count=2)
    p.mmap(file, PAGE_SIZE)
    p.mmap(file, PAGE_SIZE, offset=PAGE_SIZE)
    with pytest.raises(errors.ResourceExhausted, match="max_map_count"):
        p.mmap(file, PAGE_SIZE, offset=2 * PAGE_SIZE)
    assert p.status().map_count == 2
    p.exit()
