"""Traces that do not mislead: complete trees (by span structure, not by timing), `trace last` = the newest fault,
inspection RPCs leave no trace, lockdep splats and fallbacks drawn in the tree as span events."""

from __future__ import annotations

import secrets

import pytest

from mmsim.client import PAGE_SIZE, Cluster


@pytest.fixture()
def mm(stack_settings):
    with Cluster.connect(stack_settings) as c:
        yield c


def _major_fault(mm, **mkfs):
    """A file written, fsynced and dropped from the cache, then faulted: a major fault through all four services."""
    fs = mm.mkfs("tr" + secrets.token_hex(3), **mkfs)
    f = fs.create("/f")
    f.write(0, b"z" * (64 * PAGE_SIZE))
    f.fsync()
    f.fadvise("dontneed")
    proc = mm.spawn("tracer")
    vma = proc.mmap(f, length=64 * PAGE_SIZE)
    r = proc.fault(vma.start)
    assert r.ok and r.major, r
    return r, f, proc, vma


def test_a_major_fault_trace_is_complete_with_every_hop(mm):
    r, *_ = _major_fault(mm)
    tree = mm.trace(r.trace_id)
    assert tree.complete, tree.render()
    assert tree.services == {"rmap", "pagecache", "filesystem", "allocator"}, tree.render()
    entry = [s for s in tree.spans if s.entry]
    assert len(entry) == 1 and entry[0].name.endswith("ReverseMapService/HandleFault")
    by_id = {s.span_id: s for s in tree.spans}
    for s in tree.spans:                                     # every call a span made is a child span in the tree
        assert sum(1 for c in tree.spans if c.parent_span_id == s.span_id) == s.child_calls, tree.render()
        assert s.entry or s.parent_span_id in by_id


def test_trace_last_is_the_newest_fault_and_inspection_leaves_no_trace(mm):
    first, f, proc, vma = _major_fault(mm)
    mm.trace(first.trace_id)
    # inspection: page, /proc files, stat, XArray, process files, traces
    mm.allocator.get_page(first.pfn), mm.vmstat(), mm.allocator.buddyinfo(), mm.allocator.meminfo()
    f.stat(), f.xa_stats(), f.xa_dump(), f.find_folio(0), proc.maps(), proc.status(), mm.rmap.folio_mapcount(first.pfn)
    mm.traces(5), mm.trace(first.trace_id)
    # a user operation that is not a fault, through all four services (each exports its spans in order,
    # so any inspection span would be stored before this trace is complete)
    g = f.fs.create("/g")
    g.write(0, b"g" * PAGE_SIZE)
    write_trace = mm.trace(mm.last_trace_id)
    assert write_trace.complete
    newest = mm.traces(3, kind="any")
    assert newest[0] == write_trace.trace_id and first.trace_id in newest[:3], newest
    between = newest[1:newest.index(first.trace_id)]
    for tid in between:                                       # only the user operations of this test
        names = {s.name.rsplit("/", 1)[1] for s in mm.trace(tid).spans if s.entry}
        assert names <= {"Create", "Write"}, names
    assert mm.last_trace().trace_id == first.trace_id         # `trace last`: the newest fault
    assert mm.last_trace("any").trace_id == write_trace.trace_id


def test_lockdep_splat_is_an_event_in_the_rendered_tree(mm):
    r, *_ = _major_fault(mm, alloc_context="none", profile="lsfmm2018")
    tree = mm.trace(r.trace_id)
    splats = tree.events("lockdep")
    assert splats and "fs_reclaim" in splats[0].attributes["report"], tree.render()
    assert "! lockdep:" in tree.render()
    assert "lockdep" in {e["name"] for s in tree.to_dict()["spans"] for e in s["events"]}


def test_kvmalloc_fallback_to_vmalloc_is_an_event(mm):
    a = mm.kvmalloc(8 << 20, "GFP_KERNEL")                  # above what one contiguous block can hold
    try:
        assert a.kind == "vmalloc" and a.fallback_reason, a
        tree = mm.trace(mm.last_trace_id)
    finally:
        mm.kvfree(a)
    (fallback,) = tree.events("fallback")
    assert fallback.attributes["to"] == "vmalloc" and fallback.attributes["reason"] == a.fallback_reason
    assert "! fallback:" in tree.render()
