"""The mmsim CLI against the running test stack: /proc views, struct page, XArray stats and dump, traces."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from mmsim.client import PAGE_SIZE, Cluster


def cli(settings, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, **settings.env()}
    return subprocess.run([sys.executable, "-m", "mmsim.cli", *args], env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def faulted(stack_settings):
    """A 16 KiB-block file faulted once from a fresh page cache: (mapping, fault result)."""
    with Cluster.connect(stack_settings) as mm:
        fs = mm.mkfs("clifs", block_size=16384)
        f = fs.create("/cli")
        f.write(0, b"x" * 20000)
        f.fsync()
        f.fadvise_dontneed()
        proc = mm.spawn("cli")
        vma = proc.mmap(f, 1 << 16)
        return f.mapping, proc.fault(vma.start)


def test_proc_buddyinfo_prints_the_kernel_format(stack_settings):
    out = cli(stack_settings, "proc", "buddyinfo")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Node 0, zone ")


@pytest.mark.parametrize("name", ["vmstat", "meminfo", "pagetypeinfo"])
def test_proc_files_have_json(stack_settings, name):
    out = cli(stack_settings, "proc", name, "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["text"]


def test_page_shows_the_faulted_folio(stack_settings, faulted):
    mapping, fault = faulted
    out = cli(stack_settings, "page", str(fault.folio_pfn), "--json")
    assert out.returncode == 0, out.stderr
    page = json.loads(out.stdout)
    assert page["union_member"] == "page_cache" and page["mapping"] == mapping
    assert page["order"] == 2 and page["refcount"] >= 2 and page["mapcount"] >= 0


def test_page_outside_memory_is_an_error_not_a_crash(stack_settings):
    out = cli(stack_settings, "page", hex(1 << 40))
    assert out.returncode == 1 and "NOT_FOUND" in out.stderr


def test_xa_stats_and_dump(stack_settings, faulted):
    mapping, _ = faulted
    stats = json.loads(cli(stack_settings, "xa", "stats", mapping, "--json").stdout)
    assert stats["folio_entries"] >= 1 and stats["nrpages"] >= 4 and stats["indexing"] == "multi-order"
    dump = cli(stack_settings, "xa", "dump", mapping)
    assert dump.returncode == 0 and "order 2" in dump.stdout


def test_xa_stats_of_unknown_mapping(stack_settings):
    out = cli(stack_settings, "xa", "stats", "nofs/99")
    assert out.returncode == 1 and "NOT_FOUND" in out.stderr


def test_trace_show_of_a_major_fault_crosses_four_services(stack_settings, faulted):
    _, fault = faulted
    assert fault.major
    out = cli(stack_settings, "trace", "show", fault.trace_id, "--json")
    assert out.returncode == 0, out.stderr
    services = {s["service"] for s in json.loads(out.stdout)["spans"]}
    assert services == {"rmap", "pagecache", "filesystem", "allocator"}
    text = cli(stack_settings, "trace", "show", fault.trace_id).stdout
    assert "FilesystemService/Populate" in text and "memalloc_scope=nofs" in text
    assert "address=0x7" in text and f"folio.pfn={fault.folio_pfn:#x}" in text   # printed in hex, like the kernel


def test_vmstat_counts_faults_where_the_kernel_does(stack_settings):
    """pgfault for every fault (mm_account_fault), pgmajfault for page-cache misses (filemap_fault)."""
    with Cluster.connect(stack_settings) as mm:
        f = mm.mkfs("vmstatfs", block_size=4096).create("/v")
        f.write(0, b"v" * 4 * PAGE_SIZE)
        f.fsync()
        f.fadvise_dontneed()
        before = mm.vmstat()
        proc = mm.spawn("vm")
        vma = proc.mmap(f, 4 * PAGE_SIZE)
        assert proc.fault(vma.start).major
        other = mm.spawn("vm2")
        assert not other.fault(other.mmap(f, 4 * PAGE_SIZE).start).major
        after = mm.vmstat()
        assert after["pgmajfault"] - before["pgmajfault"] == 1
        assert after["pgfault"] - before["pgfault"] == 2


def test_shell_session_from_mkfs_to_fault(stack_settings):
    """The whole story from the shell: mkfs, create, write, read, spawn, mmap, fault (with its trace), maps."""
    def ok(*args) -> str:
        out = cli(stack_settings, *args)
        assert out.returncode == 0, (args, out.stderr)
        return out.stdout.strip()

    ok("mkfs", "shellfs", "--block-size", "16384")
    mapping = ok("create", "shellfs", "/s")
    assert mapping.startswith("shellfs/")
    assert ok("write", mapping, "0", "ab", "--repeat", "3000") == "wrote 6000 bytes"
    assert ok("read", mapping, "4", "4") == "b'abab'"
    pid = ok("spawn", "sh")
    start = ok("mmap", pid, mapping, "65536").split("-")[0]
    fault = ok("fault", pid, start, "--trace")
    assert "pfn 0x" in fault and "ReverseMapService/Fault" in fault and "PageCacheService/Fault" in fault
    assert "/mnt/shellfs/s" in ok("maps", pid)
    ok("truncate", mapping, "10")
    assert "VM_FAULT_SIGBUS" in ok("fault", pid, hex(int(start, 16) + 8192))
    bad = cli(stack_settings, "fault", "99999", start)
    assert bad.returncode == 1 and "NOT_FOUND" in bad.stderr
