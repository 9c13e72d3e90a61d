"""The LSFMM 2018 mapcount overflow on the full 2**32 workload (bulk Spawn + MapMany), one run per policy, and
try_get_page refusing a _refcount overflow through get_user_pages pins. Each policy's outcome is asserted on
the counters the reverse map reports and on what `mmsim check` and the victim's own reads show."""

from __future__ import annotations

import pytest

from mmsim import errors
from mmsim.mapcount_overflow import DEFAULT_MAX_MAP_COUNT, run

FULL = 1 << 32
GIB = 1 << 30


def test_none_wraps_frees_the_page_under_its_ptes_and_hands_it_to_someone_else(mm):
    r = run(mm, "none")
    assert r.mappings == FULL and r.processes == -(-(FULL - 1) // DEFAULT_MAX_MAP_COUNT) == 65543
    assert r.looks_unmapped and r.mapcount_raw == -1 and r.refcount == 1 and r.wraps == 1
    assert r.freed_while_mapped and r.free_trace
    assert r.reused_by and r.victim_reads.startswith("intruder's data")   # the use-after-free, seen by the victim
    assert r.violations.get("mapcount_mismatch") and r.violations.get("refcount_too_low")
    assert r.bad_page_maps >= 1          # the victim's exit zaps a PTE of a page that is no longer its own
    assert 30 * GIB < r.kernel_memory["page_tables"] < 34 * GIB      # the article's "30GB of RAM"
    assert r.kernel_memory["vm_area_structs"] == FULL * 200 - 200    # Jann Horn's ~800 GiB of VMAs
    assert mm.check().ok, "after every process exited nothing is left inconsistent"


def test_kill_kills_every_process_mapping_the_page_more_than_5000_times(mm):
    r = run(mm, "kill")
    assert r.killed == 65542 and r.wraps == 0 and not r.looks_unmapped
    assert r.mapcount_raw == 35 and r.refcount == 37     # the victim + the last process's 35 mappings survive
    assert not r.freed_while_mapped and r.victim_reads.startswith("victim's secret")
    assert not r.violations and r.bad_page_maps == 0


def test_leak_pins_the_page_and_saturates_the_counter(mm):
    r = run(mm, "leak")
    # the counters stop short of INT_MAX: _refcount = _mapcount + 1 + the page cache + the pin
    assert r.pinned and r.wraps == 0 and r.mapcount_raw == 2**31 - 1 - 3 and r.refcount == 2**31 - 1
    assert r.saturated > 2**31 - 10
    assert not r.freed_while_mapped and r.victim_reads.startswith("victim's secret")
    assert r.violations == {} and r.bad_page_maps == 0
    st = mm.rmap.folio_mapcount(r.pfn)
    assert st.pinned and st.refcount == 2 and st.page_mapcount_raw == -1   # never freed: cache + pin, unmapped


def test_try_get_page_refuses_the_refcount_overflow(mm):
    r = run(mm, "kill", counter_bits=16)
    assert r.gup["pinned"] + r.gup["refused"] == FULL and r.gup["refcount"] == 2**31 - 1
    assert r.gup["refused"] == FULL - r.gup["pinned"] > 0


def test_narrow_counter_wraps_with_65536_mappings(mm):
    r = run(mm, "none", counter_bits=16)
    assert r.mappings == 1 << 16 and r.looks_unmapped and r.freed_while_mapped


def test_map_many_refuses_bad_input_and_enforces_max_map_count(mm):
    fs = mm.mkfs("ovfbad")
    f = fs.create("/f")
    f.write(0, b"x" * 4096)
    p = mm.spawn("p", max_map_count=100)
    with pytest.raises(errors.ResourceExhausted, match="max_map_count"):
        p.map_many(f, 0, 101)
    with pytest.raises(errors.InvalidArgument, match="counter_bits"):
        p.map_many(f, 0, 1, counter_bits=4)
    with pytest.raises(errors.InvalidArgument, match="page aligned"):
        p.map_many(f, 1, 1)
    with pytest.raises(errors.FailedPrecondition, match="fault it in first"):
        p.pin_pages(0x10000, 1)
    assert p.map_many(f, 0, 100).mappings == 100
    with pytest.raises(errors.ResourceExhausted, match="max_map_count"):
        p.mmap(f, 4096)
    assert p.status().map_count == 100
    p.exit()
    assert mm.check().ok
