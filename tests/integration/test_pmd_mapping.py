"""PMD mappings of file THPs over the real stack (mm/memory.c do_set_pmd, mm/huge_memory.c zap_huge_pmd and
__split_huge_pmd, mm/rmap.c folio_add_file_rmap_pmd / folio_remove_rmap_pmd): an order-9 page-cache folio
that sits PMD-aligned in a VMA is mapped by one PMD with the folio's entire mapcount, counted in
nr_file_pmdmapped / FilePmdMapped and thp_file_mapped; a munmap, mprotect or write fault that cuts it splits
the PMD, which for a file VMA zaps it (thp_split_pmd) and leaves the pages to refault through PTEs; truncation
and exit zap it whole. After every step ``mmsim check`` finds _mapcount, _entire_mapcount and _refcount
agreeing with the page tables."""

from __future__ import annotations

import json
import secrets

import pytest
from typer.testing import CliRunner

from mmsim.cli import app
from mmsim.client import PAGE_SIZE, Cluster
from mmsim.v1 import page_allocator_pb2

PAGE = PAGE_SIZE
PMD = 512 * PAGE


@pytest.fixture()
def mm(stack_settings):
    """A client on a stack whose memory is not held fragmented (order-9 folios need order-9 blocks)."""
    with Cluster.connect(stack_settings) as c:
        c.call("allocator", "Unfragment", page_allocator_pb2.UnfragmentRequest(node=0))
        yield c


def _thp_file(mm, size=2 * PMD, profile="linux-6.12"):
    """A file whose every 2 MiB is one order-9 folio in the page cache (each written in one call), clean."""
    fs = mm.mkfs("p" + secrets.token_hex(4), block_size=4096, profile=profile)
    f = fs.create("/thp")
    data = bytes((i // PAGE * 13 + i) % 251 for i in range(size))
    for off in range(0, size, PMD):
        f.write(off, data[off:off + PMD])
    f.fsync()
    return f, data


def _clean(mm):
    report = mm.check()
    assert not report.violations, [v.to_dict() for v in report.violations]
    return report


def _delta(before: dict, after: dict, *names: str) -> dict:
    return {n: after.get(n, 0) - before.get(n, 0) for n in names}


COUNTERS = ("nr_file_pmdmapped", "thp_file_mapped", "thp_split_pmd", "nr_mapped")


def _one_pmd(mm, prot="r", shared=True):
    """A THP file, a process mapping it and the fault that maps its first folio by one PMD."""
    f, data = _thp_file(mm)
    proc, vma = _pmd_mapped(mm, f, prot=prot, shared=shared)
    r = proc.fault(vma.start)
    assert r.pmd
    return f, data, proc, vma, r


def _pmd_mapped(mm, f, size=2 * PMD, prot="r", shared=True):
    proc = mm.spawn("pmd")
    vma = proc.mmap(f, size, prot=prot, shared=shared)
    assert (vma.start % PMD) == 0   # __thp_get_unmapped_area aligns a 2 MiB mapping
    return proc, vma


def test_an_aligned_order9_folio_is_mapped_by_one_pmd(mm):
    f, data = _thp_file(mm)
    proc, vma = _pmd_mapped(mm, f)
    before = mm.vmstat()
    r = proc.fault(vma.start + 5 * PAGE)
    assert r.ok and r.pmd and r.folio_order == 9 and r.pages_mapped == 512
    assert r.pfn == r.folio_pfn + 5
    tree = mm.trace(r.trace_id, timeout=120)   # filemap_map_pmd in FAULT_BEGIN: a PMD costs what a PTE costs
    assert tree.complete and (tree.hops, tree.redis_round_trips) == (1, 1)
    d = _delta(before, mm.vmstat(), *COUNTERS)
    assert d == {"nr_file_pmdmapped": 1, "thp_file_mapped": 1, "thp_split_pmd": 0, "nr_mapped": 512}
    mc = mm.rmap.folio_mapcount(r.folio_pfn + 7)
    # the entire mapcount, not the 512 per-page ones: folio_mapcount 1, page_mapcount 1, _mapcount -1
    assert (mc.entire_mapcount, mc.folio_mapcount, mc.page_mapcount, mc.page_mapcount_raw) == (1, 1, 1, -1)
    assert mc.per_process == {proc.pid: 1}
    assert mc.refcount == 2   # the page cache's reference + the PMD's
    line = next(x for x in mm.allocator.meminfo_text().splitlines() if x.startswith("FilePmdMapped:"))
    assert int(line.split()[1]) >= 2048 and line.endswith(" kB")   # fs/proc/meminfo.c: NR_FILE_PMDMAPPED in kB
    walk = mm.rmap.rmap_walk(r.folio_pfn + 100)
    assert [(m.pid, m.address, m.kind) for m in walk.mappings] == [(proc.pid, vma.start, "pmd")]
    # every page of the 2 MiB reads through the PMD, with no further fault
    assert proc.read(vma.start, PMD) == data[:PMD]
    again = proc.fault(vma.start + 300 * PAGE)
    assert again.spurious and again.pmd and again.pfn == r.folio_pfn + 300
    assert proc.status().rss_file == 512
    pin = proc.pin_pages(vma.start + 9 * PAGE, 2)     # get_user_pages through the PMD (follow_huge_pmd)
    assert (pin.pinned, pin.pfn, pin.refcount) == (2, r.folio_pfn + 9, 4)
    _clean(mm)
    proc.exit()
    mc = mm.rmap.folio_mapcount(r.folio_pfn)
    assert (mc.entire_mapcount, mc.folio_mapcount, mc.refcount) == (0, 0, 1)
    _clean(mm)


def test_a_second_process_and_ptes_of_an_unaligned_mapping_count_as_the_kernel_counts(mm):
    f, _ = _thp_file(mm)
    a, va = _pmd_mapped(mm, f)
    ra = a.fault(va.start)
    b, vb = _pmd_mapped(mm, f)
    rb = b.fault(vb.start + 9 * PAGE)
    assert ra.pmd and rb.pmd and ra.folio_pfn == rb.folio_pfn
    c = mm.spawn("ptes")
    vc = c.mmap(f, 16 * PAGE, offset=4 * PAGE)   # not PMD-suitable: PTEs
    before = mm.vmstat()
    rc = c.fault(vc.start)
    assert rc.ok and not rc.pmd and rc.folio_pfn == ra.folio_pfn
    # the page was already counted mapped through the PMDs: NR_FILE_MAPPED does not move
    assert _delta(before, mm.vmstat(), "nr_mapped")["nr_mapped"] == 0
    mc = mm.rmap.folio_mapcount(ra.folio_pfn + 4)
    assert mc.entire_mapcount == 2 and mc.page_mapcount_raw == 0 and mc.page_mapcount == 3
    assert mc.folio_mapcount == 2 + rc.pages_mapped + rc.pages_mapped_around
    assert mc.per_process == {a.pid: 1, b.pid: 1, c.pid: 1}
    kinds = sorted((m.pid, m.kind) for m in mm.rmap.rmap_walk(ra.folio_pfn + 4).mappings)
    assert kinds == sorted([(a.pid, "pmd"), (b.pid, "pmd"), (c.pid, "file")])
    _clean(mm)
    for p in (a, b, c):
        p.exit()
    _clean(mm)


def test_partial_munmap_splits_the_pmd_and_the_rest_refaults_by_ptes(mm):
    f, data, proc, vma, r = _one_pmd(mm)
    before = mm.vmstat()
    proc.munmap(vma.start + 8 * PAGE, 8 * PAGE)
    d = _delta(before, mm.vmstat(), *COUNTERS)
    # __split_huge_pmd of a file VMA zaps the PMD: nothing is left mapped, the pages refault
    assert d == {"nr_file_pmdmapped": -1, "thp_file_mapped": 0, "thp_split_pmd": 1, "nr_mapped": -512}
    mc = mm.rmap.folio_mapcount(r.folio_pfn)
    assert (mc.entire_mapcount, mc.folio_mapcount, mc.refcount) == (0, 0, 1)
    assert proc.status().rss_file == 0
    _clean(mm)
    again = proc.fault(vma.start + 2 * PAGE)
    assert again.ok and not again.pmd and again.folio_pfn == r.folio_pfn   # the VMA no longer covers 2 MiB
    assert proc.read(vma.start, 8 * PAGE) == data[:8 * PAGE]
    assert proc.read(vma.start + 16 * PAGE, 4 * PAGE) == data[16 * PAGE:20 * PAGE]
    _clean(mm)
    proc.exit()


def test_munmap_of_the_whole_pmd_zaps_it_without_a_split(mm):
    f, _ = _thp_file(mm)
    proc, vma = _pmd_mapped(mm, f)
    r0 = proc.fault(vma.start)
    r1 = proc.fault(vma.start + PMD)
    assert r0.pmd and r1.pmd and r0.folio_pfn != r1.folio_pfn
    before = mm.vmstat()
    assert proc.munmap(vma.start + PMD, PMD) == 512
    d = _delta(before, mm.vmstat(), *COUNTERS)
    assert d == {"nr_file_pmdmapped": -1, "thp_file_mapped": 0, "thp_split_pmd": 0, "nr_mapped": -512}
    assert mm.rmap.folio_mapcount(r1.folio_pfn).entire_mapcount == 0
    assert mm.rmap.folio_mapcount(r0.folio_pfn).entire_mapcount == 1   # the other PMD is untouched
    _clean(mm)
    proc.exit()


def test_mprotect_of_part_splits_mprotect_of_the_whole_keeps_the_pmd(mm):
    f, data = _thp_file(mm)
    proc, vma = _pmd_mapped(mm, f, prot="rw")
    r0 = proc.fault(vma.start)
    r1 = proc.fault(vma.start + PMD)
    assert r0.pmd and r1.pmd
    before = mm.vmstat()
    proc.mprotect(vma.start + PMD, PMD, prot="r")          # change_huge_pmd: the PMD stays
    assert _delta(before, mm.vmstat(), "thp_split_pmd") == {"thp_split_pmd": 0}
    assert proc.fault(vma.start + PMD + PAGE).spurious
    proc.mprotect(vma.start, 4 * PAGE, prot="r")           # cuts the first PMD: split
    d = _delta(before, mm.vmstat(), "thp_split_pmd", "nr_file_pmdmapped")
    assert d == {"thp_split_pmd": 1, "nr_file_pmdmapped": -1}
    assert mm.rmap.folio_mapcount(r0.folio_pfn).entire_mapcount == 0
    assert mm.rmap.folio_mapcount(r1.folio_pfn).entire_mapcount == 1
    again = proc.fault(vma.start + 8 * PAGE)
    assert again.ok and not again.pmd
    assert proc.read(vma.start, PAGE) == data[:PAGE]
    _clean(mm)
    proc.exit()


def test_a_write_to_a_read_only_pmd_splits_it_and_a_shared_write_maps_it_again_writable(mm):
    f, data, proc, vma, r = _one_pmd(mm, prot="rw")
    before = mm.vmstat()
    w = proc.fault(vma.start + 3 * PAGE, write=True)   # wp_huge_pmd: split, then do_shared_fault -> do_set_pmd
    assert w.ok and w.pmd and not w.spurious
    assert _delta(before, mm.vmstat(), "thp_split_pmd", "thp_file_mapped") == {"thp_split_pmd": 1, "thp_file_mapped": 1}
    assert mm.rmap.folio_mapcount(r.folio_pfn).entire_mapcount == 1
    proc.write_memory(vma.start + 3 * PAGE, b"PMD!")
    assert f.read(3 * PAGE, 4) == b"PMD!"
    _clean(mm)
    proc.exit()


def test_a_private_write_to_a_pmd_copies_one_page(mm):
    f, data, proc, vma, r = _one_pmd(mm, prot="rw", shared=False)
    w = proc.fault(vma.start + PAGE, write=True)   # split, then do_cow_fault
    assert w.ok and not w.pmd and w.folio_order == 0
    assert mm.rmap.folio_mapcount(r.folio_pfn).entire_mapcount == 0
    proc.write_memory(vma.start + PAGE, b"cow")
    assert f.read(PAGE, 3) == data[PAGE:PAGE + 3]
    _clean(mm)
    proc.exit()


def test_truncate_unmaps_the_pmd(mm):
    f, _ = _thp_file(mm)
    proc, vma = _pmd_mapped(mm, f)
    r0 = proc.fault(vma.start)
    r1 = proc.fault(vma.start + PMD)
    assert r0.pmd and r1.pmd
    before = mm.vmstat()
    f.truncate(PMD)                     # the second folio goes whole: zap_huge_pmd
    d = _delta(before, mm.vmstat(), "nr_file_pmdmapped", "thp_split_pmd")
    assert d == {"nr_file_pmdmapped": -1, "thp_split_pmd": 0}
    assert mm.rmap.folio_mapcount(r0.folio_pfn).entire_mapcount == 1
    assert proc.status().rss_file == 512
    _clean(mm)
    proc.exit()
    _clean(mm)


def test_fork_does_not_copy_a_file_pmd(mm):
    f, _, proc, vma, r = _one_pmd(mm)
    child = proc.fork()
    assert mm.rmap.folio_mapcount(r.folio_pfn).entire_mapcount == 1   # copy_huge_pmd skips file PMDs: refault
    rc = child.fault(vma.start + 7 * PAGE)
    assert rc.pmd and not rc.spurious
    assert mm.rmap.folio_mapcount(r.folio_pfn).entire_mapcount == 2
    _clean(mm)
    child.exit()
    proc.exit()
    _clean(mm)


def test_smaps_shows_file_pmd_mapped_and_the_fault_says_pmd(mm, stack_settings):
    f, _ = _thp_file(mm)
    proc, vma = _pmd_mapped(mm, f)
    runner = CliRunner()
    env = stack_settings.env()
    out = runner.invoke(app, ["fault", str(proc.pid), hex(vma.start + PMD), "--json"], env=env)
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["pmd"] is True
    text = runner.invoke(app, ["fault", str(proc.pid), hex(vma.start)], env=env)
    assert text.exit_code == 0 and "1 PMD mapped (512 pages)" in text.stdout, text.output
    proc.fault(vma.start + PMD - PAGE)   # spurious: the first PMD is there
    s = runner.invoke(app, ["smaps", str(proc.pid), "--json"], env=env)
    assert s.exit_code == 0, s.output
    (row,) = json.loads(s.stdout)["vmas"]
    assert (row["start"], row["size_kb"], row["rss_kb"], row["file_pmd_mapped_kb"], row["pmds"]) == \
        (vma.start, 4096, 4096, 4096, 2)
    plain = runner.invoke(app, ["smaps", str(proc.pid)], env=env)
    assert "FilePmdMapped:      4096 kB" in plain.stdout and "Rss:                4096 kB" in plain.stdout, plain.output
    proc.munmap(vma.start, 4 * PAGE)                 # splits the first PMD
    (row,) = proc.smaps().vmas
    assert (row.pmds, row.file_pmd_mapped_kb, row.rss_kb) == (1, 2048, 2048)
    bad = runner.invoke(app, ["smaps", "99999", "--json"], env=env)
    assert bad.exit_code != 0 and "Traceback" not in bad.output
    proc.exit()


def test_a_hole_punched_in_a_pmd_mapped_folio_splits_the_pmd(mm):
    f, data, proc, vma, r = _one_pmd(mm)
    before = mm.vmstat()
    f.punch_hole(8 * PAGE, 4 * PAGE)     # unmap_mapping_range of part of the PMD: __split_huge_pmd
    d = _delta(before, mm.vmstat(), "nr_file_pmdmapped", "thp_split_pmd")
    assert d == {"nr_file_pmdmapped": -1, "thp_split_pmd": 1}
    assert proc.status().rss_file == 0
    _clean(mm)
    assert proc.read(vma.start + 8 * PAGE, 8) == b"\0" * 8
    assert proc.read(vma.start, 8) == data[:8]
    _clean(mm)
    proc.exit()
