"""Every `mmsim` subcommand, with valid and with invalid input, against a real stack of its own.

Each case runs in-process through typer's CliRunner (fast), once as text and once with --json: no traceback,
the exit code the case names, and with --json a stdout that parses. A few run through the real `mmsim`
entry point (a closed pipe, the lifecycle, --version, completion, the lazy imports). A test checks that the
cases name every registered command, so a new command cannot go untested.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from typer.testing import CliRunner

from mmsim.cli import app, command_tree
from mmsim.cli_base import EXIT_DOWN, EXIT_ERROR, EXIT_SIGBUS, EXIT_SIGPIPE, EXIT_SIGSEGV, EXIT_USAGE
from mmsim.client import PAGE_SIZE, Cluster
from mmsim.runtime.redis_server import free_port

MMSIM = str(Path(sys.executable).with_name("mmsim"))
runner = CliRunner()
_names = itertools.count()


def invoke(settings, argv: list[str]):
    return runner.invoke(app, argv, env=settings.env())


def check(result, code: int, argv: list[str]) -> None:
    """No traceback, the expected exit code; a --json run's stdout parses (also for a refused operation)."""
    shown = f"mmsim {shlex.join(argv)} -> {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    assert result.exit_code == code, shown
    assert result.exception is None or isinstance(result.exception, SystemExit), shown
    assert "Traceback" not in result.output, shown
    if "--json" in argv and code != EXIT_USAGE:
        json.loads(result.stdout)
    if code == EXIT_USAGE:
        assert "Invalid value" in result.stderr or "Missing" in result.stderr or "unexpected" in result.stderr, shown


class World(dict):
    """The placeholders of the cases: fixed objects made once, and {fresh_*} ones made anew at each use (a
    case that consumes its object, like free or unlink, can run twice)."""

    def __init__(self, mm: Cluster, **fixed):
        super().__init__(fixed)
        self.mm = mm

    def __missing__(self, key: str):
        mm = self.mm
        n = next(_names)
        make = {
            "fresh_fs": lambda: f"clifs{n}",
            "fresh_path": lambda: f"/new{n}",
            "fresh_gone": lambda: mm.filesystem("clifs").create(f"/gone{n}").path,
            "fresh_file": lambda: mm.filesystem("clifs").create(f"/f{n}").mapping,
            "sized_file": lambda: _sized(mm.filesystem("clifs").create(f"/s{n}")),   # 64 KiB, a hole
            "fresh_pid": lambda: mm.spawn(f"p{n}").pid,
            "fresh_vma": lambda: mm.process(self["pid"]).mmap(mm.file(self["m"]), PAGE_SIZE).start,
            "fresh_kaddr": lambda: mm.kmalloc(64).addr,
            "fresh_maddr": lambda: mm.malloc(64).addr,
            "fresh_page1": lambda: mm.alloc_pages(1).folio.pfn,
        }[key]
        return make()


def _sized(f) -> str:
    f.truncate(64 * 1024)
    return f.mapping


@pytest.fixture(scope="module")
def world(own_stack_settings):
    """A 16 KiB-block file written, synced and dropped from the page cache, a process that faulted it once."""
    with Cluster.connect(own_stack_settings) as mm:
        fs = mm.mkfs("clifs", block_size=16384)
        f = fs.create("/data/a")
        f.write(0, b"hello" * 4000)
        f.truncate(1 << 20)                       # past 20000 bytes: a hole up to 1 MiB
        f.fsync()
        f.fadvise("dontneed")
        dst = fs.create("/data/b")
        proc = mm.spawn("cli")
        vma = proc.mmap(f, 1 << 20)
        r = proc.fault(vma.start)
        assert r.major
        yield World(mm, m=f.mapping, m2=dst.mapping, pid=proc.pid, addr=hex(vma.start), pfn=hex(r.folio_pfn),
                    trace=r.trace_id, hole=hex(vma.start + (512 << 10)))


# (command line, exit code). Placeholders: see World. Kept in the order of `mmsim --help`.
VALID = [
    ("status", 0),
    ("mkfs {fresh_fs} --block-size 64KiB --profile linux-6.12 --alloc-context none --max-folio-order 4 "
     "--indexing order-0", 0),
    ("statfs clifs", 0),
    ("create clifs {fresh_path} --indexing order-0", 0),
    ("write {m} 20000 ab --repeat 3", 0),
    ("write {m} 0x5000 00ff --hex", 0),
    ("read {m} 0 16", 0),
    ("read {m} 0 64 --hex", 0),
    ("stat {m}", 0),
    ("truncate {fresh_file} 64KiB", 0),
    ("punch-hole {fresh_file} 0 16KiB", 0),
    ("reflink {m} {fresh_file} --share-folios", 0),
    ("unlink clifs {fresh_gone}", 0),
    ("unlink {fresh_file}", 0),
    ("fsync {m}", 0),
    ("fadvise {m} dontneed", 0),
    ("drop-caches 1", 0),
    ("drop-caches", 0),
    ("spawn reader --mapcount-limit 10 --mapcount-action leak --max-map-count 100", 0),
    ("mmap {pid} {m} 1MiB --offset 16KiB --prot rw --private", 0),
    ("munmap {pid} {fresh_vma} 4096", 0),
    ("fault {pid} {addr}", 0),
    ("fault {pid} {addr} --trace", 0),
    ("fault {pid} {hole}", 0),
    ("fault {pid} 0x1000", EXIT_SIGSEGV),
    ("read-memory {pid} {addr} 16", 0),
    ("write-memory {pid} {addr} hi", EXIT_SIGSEGV),      # a read-only mapping: the store faults with SIGSEGV
    ("exit {fresh_pid}", 0),
    ("fork {pid}", 0),
    ("mprotect {pid} {fresh_vma} 4096 r", 0),
    ("mprotect {pid} {fresh_vma} 4096 none", 0),
    ("maps {pid}", 0),
    ("smaps {pid}", 0),
    ("kmalloc 4096 --gfp GFP_KERNEL --node 0", 0),
    ("vmalloc 64KiB", 0),
    ("kvmalloc 1MiB --gfp 'GFP_KERNEL|__GFP_NOWARN'", 0),
    ("kvmalloc-array 1000 64", 0),
    ("kvcalloc 1000 64", 0),
    ("kvmalloc-struct 64 8 1000", 0),
    ("kvfree {fresh_kaddr}", 0),
    ("malloc 1MiB", 0),
    ("free {fresh_maddr}", 0),
    ("alloc-pages 2 --gfp 'GFP_KERNEL|__GFP_NORETRY'", 0),
    ("free-pages {fresh_page1} 1", 0),
    ("page {pfn}", 0),
    ("folio mapcount {pfn}", 0),
    ("rmap {pfn}", 0),
    ("folio find {m} 0", 0),
    ("folio find {m} 100000", 0),                         # nothing cached there: found false, not an error
    ("folio write {m} 0 hello", 0),                       # into the cached folio, marked dirty
    ("folio write {m} 0x10000000 x", 0),                  # nothing cached there: nothing written, not an error
    ("folio add {sized_file} 0 --pfn {fresh_page1} --order 1", 0),    # below EOF: `check` stays clean
    ("folio add {sized_file} 0 --order 2", 0),
    ("proc buddyinfo", 0),
    ("proc pagetypeinfo", 0),
    ("proc vmstat", 0),
    ("proc zoneinfo", 0),
    ("proc meminfo", 0),
    ("lru", 0),
    ("proc status {pid}", 0),
    ("proc maps {pid}", 0),
    ("xa stats {m}", 0),
    ("xa dump {m}", 0),
    ("xa draw {m} --format dot", 0),
    ("xa draw {m} --format mermaid --max-nodes 4", 0),
    ("trace show {trace}", 0),
    ("trace show {trace} --format waterfall", 0),
    ("trace show {trace} --format mermaid", 0),
    ("trace last --format svg", 0),
    ("trace last", 0),
    ("trace last --any", 0),
    ("trace list --limit 5 --faults", 0),
    ("bench fault --faults 2 --here", 0),
    ("bench scripts --faults 2 --here", 0),
    ("check --max 10", 0),
    ("mapcount-overflow --policy kill --bits 16", 0),
    ("spawn attackers --count 1000", 0),
    ("mmap {pid} {m} 4096 --addr 0x10000000 --fixed fixed", 0),        # replaces its own mapping on the rerun
    ("mmap {pid} {m} 4096 --addr {addr} --fixed noreplace", EXIT_ERROR),   # EEXIST
    ("recover", 0),
    ("thp stats", 0),
    ("evict {m}", 0),                                     # linked: nothing to evict, said so
    ("experiment list", 0),
]

INVALID = [
    ("status --bogus", EXIT_USAGE),
    ("mkfs clifs", EXIT_ERROR),                                       # ALREADY_EXISTS
    ("mkfs x --block-size -4096", EXIT_USAGE),
    ("mkfs x --block-size 1000", EXIT_ERROR),                         # not a power of two: the service says so
    ("mkfs x --indexing sideways", EXIT_USAGE),
    ("mkfs x --max-folio-order 10", EXIT_USAGE),
    ("statfs nofs", EXIT_ERROR),
    ("create nofs /a", EXIT_ERROR),
    ("write {m} 0 a --repeat -3", EXIT_USAGE),
    ("write {m} -1 a", EXIT_USAGE),
    ("write {m} 0 zz --hex", EXIT_USAGE),
    ("write {m} 0 abcd --repeat 2000000", EXIT_USAGE),                # over the 4 MiB a call carries
    ("write nofs/1 0 a", EXIT_ERROR),
    ("read {m} 0 5MiB", EXIT_USAGE),
    ("read nonsense 0 1", EXIT_USAGE),
    ("read {m} 0 18446744073709551616", EXIT_USAGE),
    ("stat nofs/9", EXIT_ERROR),
    ("truncate {m} -1", EXIT_USAGE),
    ("punch-hole {m} 0 0", EXIT_ERROR),                               # length must be > 0
    ("reflink {m} nofs/1", EXIT_ERROR),
    ("unlink clifs /no/such", EXIT_ERROR),
    ("unlink clifs/99999", EXIT_ERROR),
    ("unlink garbage", EXIT_USAGE),
    ("fsync nofs/1", EXIT_ERROR),
    ("fadvise {m} willneed", EXIT_USAGE),
    ("drop-caches 5", EXIT_USAGE),
    ("drop-caches 0", EXIT_USAGE),
    ("drop-caches x", EXIT_USAGE),
    ("spawn reader --mapcount-action explode", EXIT_USAGE),
    ("spawn {long}", EXIT_ERROR),                                     # comm over 15 chars
    ("mmap {pid} {m} -4096", EXIT_USAGE),
    ("mmap {pid} {m} 4096 --prot q", EXIT_USAGE),
    ("mmap 99999 {m} 4096", EXIT_ERROR),
    ("munmap {pid} {addr} 0", EXIT_USAGE),
    ("fault {pid} garbage", EXIT_USAGE),
    ("fault 1 18446744073709551616", EXIT_USAGE),
    ("fault 99999 {addr}", EXIT_ERROR),
    ("read-memory {pid} {addr} 17MiB", EXIT_USAGE),
    ("write-memory {pid} {addr} a --repeat 0", EXIT_USAGE),
    ("exit 99999", EXIT_ERROR),
    ("maps -1", EXIT_USAGE),
    ("kmalloc lots", EXIT_USAGE),
    ("kmalloc 4096 --gfp GFP_BOGUS", EXIT_ERROR),
    ("vmalloc -1", EXIT_USAGE),
    ("kvmalloc 1 --node -2", EXIT_USAGE),
    ("kvmalloc-array 0x8000000000000000 4", EXIT_ERROR),              # n * size overflows: check_mul_overflow
    ("kvcalloc 1", EXIT_USAGE),
    ("kvmalloc-struct 64 8 0x2000000000000000", EXIT_ERROR),          # struct_size saturates
    ("kvfree 0x1234", EXIT_ERROR),
    ("malloc 18446744073709551616", EXIT_USAGE),
    ("free 0x1234", EXIT_ERROR),
    ("alloc-pages 11", EXIT_ERROR),
    ("free-pages {pfn} -1", EXIT_USAGE),
    ("page -1", EXIT_USAGE),
    ("page 0x100000000", EXIT_ERROR),
    ("folio mapcount 0x100000000", EXIT_ERROR),
    ("folio find nofs/9 0", EXIT_ERROR),                             # NOT_FOUND: no such file
    ("folio write nofs/9 0 x", EXIT_ERROR),                          # NOT_FOUND: no such file
    ("folio write {m} -1 x", EXIT_USAGE),
    ("folio write {m} 0 zz --hex", EXIT_USAGE),
    ("folio add {m} 0 --order 2", EXIT_ERROR),                        # ALREADY_EXISTS: a folio is there
    ("proc buddyinfo extra", EXIT_USAGE),
    ("proc pagetypeinfo extra", EXIT_USAGE),
    ("proc vmstat extra", EXIT_USAGE),
    ("proc zoneinfo extra", EXIT_USAGE),
    ("proc meminfo extra", EXIT_USAGE),
    ("lru extra", EXIT_USAGE),
    ("proc status 99999", EXIT_ERROR),
    ("proc maps x", EXIT_USAGE),
    ("xa stats nofs/99", EXIT_ERROR),
    ("xa dump nofs/99", EXIT_ERROR),
    ("xa draw nofs/99 --format dot", EXIT_ERROR),
    ("xa draw {m} --format pdf", EXIT_USAGE),
    ("xa draw {m} --max-nodes 0", EXIT_USAGE),
    ("xa draw {m} --format dot -o /no/such/dir/xa.dot", EXIT_USAGE),
    ("trace show {trace} --format png", EXIT_USAGE),
    ("proc buddyinfo --plot buddy.pdf", EXIT_USAGE),
    ("page {pfn} --draw /no/such/dir/page.png", EXIT_USAGE),
    ("web --port 0", EXIT_USAGE),
    ("web --port 70000", EXIT_USAGE),
    ("trace show zz", EXIT_USAGE),
    ("check --max -1", EXIT_USAGE),
    ("recover --older-than-ms x", EXIT_USAGE),
    ("thp stats extra", EXIT_USAGE),
    ("evict garbage", EXIT_USAGE),
    ("trace show 00000000000000000000000000000000", EXIT_ERROR),
    ("trace list --limit 0", EXIT_USAGE),
    ("trace last --bogus", EXIT_USAGE),
    ("bench fault --faults 0", EXIT_USAGE),
    ("bench scripts --faults 1001", EXIT_USAGE),
    ("run /no/such/scenario.yaml", EXIT_USAGE),
    ("experiment run nope --quick", EXIT_USAGE),
    ("experiment docs --only nope", EXIT_USAGE),
    ("experiment list extra", EXIT_USAGE),
    ("mapcount-overflow --policy bogus", EXIT_USAGE),
    ("mapcount-overflow --bits 40", EXIT_USAGE),
    ("spawn attackers --count 0", EXIT_USAGE),
    ("mmap {pid} {m} 4096 --fixed sometimes", EXIT_USAGE),
    ("rmap garbage", EXIT_USAGE),
    ("fork 0", EXIT_USAGE),
    ("fork 99999", EXIT_ERROR),
    ("smaps 0", EXIT_USAGE),
    ("smaps 99999", EXIT_ERROR),
    ("mprotect {pid} {addr} 4096 q", EXIT_USAGE),
    ("mprotect {pid} 0x1001 4096 r", EXIT_ERROR),
    ("mprotect {pid} 0x10000 4096 r", EXIT_ERROR),
    ("rmap 99999999999", EXIT_ERROR),
    ("mmap {pid} {m} 4096 --addr 0x1000 --fixed fixed", EXIT_ERROR),
]

# Commands whose valid run changes the machine for everyone (or starts stacks): tested on their own below.
OWN_TESTS = {"up", "down", "reset", "demo", "fragment", "unfragment",
             "run", "experiment run", "experiment docs",   # test_scenarios.py, test_experiments.py
             "bench run", "bench compare",                 # test_cli_bench.py
             "pressure",                                   # test_reclaim.py
             "web"}                                        # test_web*.py


def _argv(line: str, world: World) -> list[str]:
    return shlex.split(line.format_map(world))


@pytest.mark.parametrize("line,code", VALID, ids=[c for c, _ in VALID])
def test_valid(own_stack_settings, world, line, code):
    for extra in ([], ["--json"]):
        argv = _argv(line, world) + extra
        check(invoke(own_stack_settings, argv), code, argv)


@pytest.mark.parametrize("line,code", INVALID, ids=[c for c, _ in INVALID])
def test_invalid(own_stack_settings, world, line, code):
    world.setdefault("long", "x" * 16)
    for extra in ([], ["--json"]):
        argv = _argv(line, world) + extra
        result = invoke(own_stack_settings, argv)
        check(result, code, argv)
        assert result.stderr.strip(), "an error says what was wrong"


def _commands(group, prefix=()) -> set[str]:
    out = set()
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):
            out |= _commands(cmd, (*prefix, name))
        else:
            out.add(" ".join((*prefix, name)))
    return out


def _command_of(line: str, groups: set[str]) -> str:
    words = line.split()
    return " ".join(words[:2]) if words[0] in groups else words[0]


def test_the_cases_cover_every_command():
    tree = command_tree()
    registered = _commands(tree)
    groups = {name for name, cmd in tree.commands.items() if hasattr(cmd, "commands")}
    assert {_command_of(c, groups) for c, _ in VALID} | OWN_TESTS == registered
    assert {_command_of(c, groups) for c, _ in INVALID} | OWN_TESTS >= registered - {"up", "down", "reset", "demo", "web"}


# What the output says --------------------------------------------------------------------------------------


def test_read_prints_the_bytes_not_a_python_repr(own_stack_settings, world):
    out = invoke(own_stack_settings, ["read", world["m"], "4", "6"])
    assert out.stdout == "ohello\n"
    data = json.loads(invoke(own_stack_settings, ["read", world["m"], "4", "6", "--json"]).stdout)
    assert data == {"offset": 4, "length": 6, "text": "ohello", "hex": b"ohello".hex()}


def test_fault_explains_major_spurious_and_zero_page(own_stack_settings, world):
    with Cluster.connect(own_stack_settings) as mm:
        f = mm.filesystem("clifs").create("/faults")
        f.write(0, b"z" * PAGE_SIZE)
        f.truncate(1 << 20)                       # the rest is a hole
        f.fsync()
        f.fadvise("dontneed")
        proc = mm.spawn("faults")
        start = proc.mmap(f, 1 << 20).start
    pid = str(proc.pid)
    major = invoke(own_stack_settings, ["fault", pid, hex(start)]).stdout
    assert major.startswith("VM_FAULT_MAJOR|VM_FAULT_LOCKED  major fault") and "pfn 0x" in major
    spurious = invoke(own_stack_settings, ["fault", pid, hex(start)])
    assert spurious.exit_code == 0 and "spurious fault: the PTE was already present" in spurious.stdout
    hole = invoke(own_stack_settings, ["fault", pid, hex(start + (512 << 10)), "--json"])
    data = json.loads(hole.stdout)
    assert data["zero_page"] and data["outcome"] == "zero-page"
    text = invoke(own_stack_settings, ["fault", pid, hex(start + (520 << 10))]).stdout
    assert "zero page" in text and "pfn 0x0" not in text


def test_failed_faults_exit_with_the_signal(own_stack_settings, world):
    segv = invoke(own_stack_settings, ["fault", str(world["pid"]), "0x1000", "--json"])
    assert segv.exit_code == EXIT_SIGSEGV and json.loads(segv.stdout)["outcome"] == "sigsegv"
    with Cluster.connect(own_stack_settings) as mm:
        f = mm.filesystem("clifs").create("/short")
        f.write(0, b"s" * 100)
        proc = mm.spawn("sigbus")
        start = proc.mmap(f, 1 << 20).start
    bus = invoke(own_stack_settings, ["fault", str(proc.pid), hex(start + (256 << 10))])
    assert bus.exit_code == EXIT_SIGBUS and "VM_FAULT_SIGBUS" in bus.stdout


def test_page_shows_pg_flags_and_the_mapcount_as_a_count(own_stack_settings, world):
    with Cluster.connect(own_stack_settings) as mm:
        f = mm.filesystem("clifs").create("/paged")
        f.write(0, b"p" * PAGE_SIZE)
        proc = mm.spawn("paged")
        pfn = hex(proc.fault(proc.mmap(f, PAGE_SIZE).start).pfn)
        free_pfn = mm.alloc_pages(0).folio.pfn
        mm.free_pages(free_pfn, 0)
    page = json.loads(invoke(own_stack_settings, ["page", pfn, "--json"]).stdout)
    assert page["flags"] and all(f.startswith("PG_") for f in page["flags"])
    assert page["mapcount"] == page["_mapcount"] + 1 == 1 and page["mapping"] == f.mapping
    free = json.loads(invoke(own_stack_settings, ["page", hex(free_pfn), "--json"]).stdout)
    assert free["mapcount"] == 0 and free["_mapcount"] < -1         # buddy page: the raw value is a page type
    text = invoke(own_stack_settings, ["page", pfn]).stdout
    assert re.search(r"^flags\s+PG_", text, re.M) and re.search(r"^mapcount\s+1$", text, re.M), text


def test_buddyinfo_json_is_structured_like_the_file(own_stack_settings):
    text = invoke(own_stack_settings, ["proc", "buddyinfo"]).stdout
    zones = json.loads(invoke(own_stack_settings, ["proc", "buddyinfo", "--json"]).stdout)
    assert [z["zone"] for z in zones] == [line.split()[3] for line in text.splitlines() if line.strip()]
    assert all(len(z["free"]) == 11 and all(isinstance(n, int) for n in z["free"]) for z in zones)
    info = json.loads(invoke(own_stack_settings, ["proc", "pagetypeinfo", "--json"]).stdout)
    assert info["page_block_order"] == 9 and {"Movable", "Unmovable"} <= {r["type"] for r in info["free"]}


def test_trace_json_values_are_typed(own_stack_settings, world):
    tree = json.loads(invoke(own_stack_settings, ["trace", "show", world["trace"], "--json"]).stdout)
    root = next(s for s in tree["spans"] if s["service"] == "rmap")
    assert root["attributes"]["pid"] == world["pid"] and isinstance(root["attributes"]["write"], bool)
    assert {s["service"] for s in tree["spans"]} == {"rmap", "pagecache", "filesystem", "allocator"}


def test_bench_fault_gives_both_baselines_and_the_lua_time(own_stack_settings):
    """Each fault row has its ratio to the echo of PINGs and to the echo of durable writes (the second
    baseline, which pays the AOF's fsync per round trip), and the Redis time its scripts took (a fault runs
    at least one script). Counts and presence, not times."""
    rows = json.loads(invoke(own_stack_settings, ["bench", "fault", "--faults", "3", "--here", "--json"]).stdout)
    faults = [r for r in rows if r["label"].endswith("fault")]
    assert [r["label"] for r in faults] == ["major fault", "minor fault"]
    for r in faults:
        assert r["lua_us"] > 0 and r["ratio"] > 0 and r["ratio_writes"] > 0
    echoes = [r["label"] for r in rows if r["label"].startswith("echo")]
    assert echoes == ["echo x5 hops", "echo x5 hops, writes", "echo x1 hops", "echo x1 hops, writes"]


def test_bench_scripts_names_the_fault_path_scripts_and_restores_slowlog(own_stack_settings):
    """A minor fault is the reverse map's one script (fault_begin, once, with redis.calls of its own); a major
    fault runs the six of its 6 round trips, each once. Every named script's libraries have a top-level cost.
    The stack's SLOWLOG settings are what they were before. Counts and names, not times."""
    client = redis.Redis.from_url(own_stack_settings.redis_url)
    before = client.config_get("slowlog-*")
    rows = json.loads(invoke(own_stack_settings, ["bench", "scripts", "--faults", "3", "--here", "--json"]).stdout)
    assert client.config_get("slowlog-*") == before
    client.close()
    minor = {r["script"]: r for r in rows if r["fault"] == "minor"}
    assert minor["fault_begin"]["calls"] == 1 and minor["fault_begin"]["redis_calls"] > 0
    assert minor["fault_begin"]["top_level_us"] > 0
    major = {r["script"]: r for r in rows if r["fault"] == "major"}
    scripts = {"fault_begin", "finish_fault", "filemap_lookup", "populate_read", "buddy_alloc", "filemap_add_folio"}
    assert scripts <= set(major)   # (a kthread's pass may run a script of its own meanwhile)
    assert all(major[n]["calls"] == 1 for n in scripts)
    assert major["(all)"]["us_per_fault"] >= sum(major[n]["us_per_fault"] for n in scripts)


def test_bench_scripts_says_when_the_stacks_redis_does_not_answer(own_stack_settings):
    """The services answer but MMSIM_REDIS_URL points at nothing: a message and the stack-down exit code, no
    traceback."""
    dead = dataclasses.replace(own_stack_settings, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    argv = ["bench", "scripts", "--faults", "1", "--here", "--json"]
    out = invoke(dead, argv)
    check(out, EXIT_DOWN, argv)
    assert "does not answer" in out.stderr


def test_drop_caches_drops_clean_unmapped_folios_only(own_stack_settings, world):
    """echo 1 > drop_caches: clean, unmapped folios go (the next fault is major); dirty and mapped ones stay;
    drop_pagecache / drop_slab count the writes; 2 says there is no slab to drop."""
    with Cluster.connect(own_stack_settings) as mm:
        fs = mm.filesystem("clifs")
        clean, dirty, mapped = fs.create("/dc-clean"), fs.create("/dc-dirty"), fs.create("/dc-mapped")
        for f in (clean, dirty, mapped):
            f.write(0, b"c" * PAGE_SIZE)
        clean.fsync()
        mapped.fsync()
        proc = mm.spawn("dc")
        proc.fault(proc.mmap(mapped, PAGE_SIZE).start)
        before = mm.vmstat()
    out = invoke(own_stack_settings, ["drop-caches", "1", "--json"])
    check(out, 0, ["drop-caches", "1", "--json"])
    data = json.loads(out.stdout)
    assert data["drop_pagecache"] == before["drop_pagecache"] + 1 and data["drop_slab"] == before["drop_slab"]
    assert data["folios_removed"] >= 1 and data["folios_busy"] >= 2 and data["pages_freed"] >= 4
    with Cluster.connect(own_stack_settings) as mm:
        assert not mm.pagecache.find_folio(clean.mapping, 0).found
        assert mm.pagecache.find_folio(dirty.mapping, 0).found and mm.pagecache.find_folio(mapped.mapping, 0).found
        assert mm.vmstat()["drop_pagecache"] == data["drop_pagecache"]
        reader = mm.spawn("dc2")
        again = reader.fault(reader.mmap(clean, PAGE_SIZE).start)
        assert again.major and reader.read(reader.vmas[0].start, 4) == b"cccc"
    slab = invoke(own_stack_settings, ["drop-caches", "2"])
    check(slab, 0, ["drop-caches", "2"])
    assert "slab: nothing to drop" in slab.stdout and "page cache" not in slab.stdout
    assert f"drop_slab {before['drop_slab'] + 1}" in slab.stdout


def test_unlink_takes_the_mapping_or_the_path(own_stack_settings, world):
    with Cluster.connect(own_stack_settings) as mm:
        a, b = mm.filesystem("clifs").create("/ul-a"), mm.filesystem("clifs").create("/ul-b")
    by_mapping = json.loads(invoke(own_stack_settings, ["unlink", a.mapping, "--json"]).stdout)
    by_path = json.loads(invoke(own_stack_settings, ["unlink", "clifs", "/ul-b", "--json"]).stdout)
    assert by_mapping["mapping"] == a.mapping and by_path["mapping"] == b.mapping
    again = invoke(own_stack_settings, ["unlink", a.mapping])
    check(again, EXIT_ERROR, ["unlink", a.mapping])
    assert "NOT_FOUND" in again.stderr


def test_numbers_accept_hex_and_sizes(own_stack_settings, world):
    a = json.loads(invoke(own_stack_settings, ["kmalloc", "4KiB", "--json"]).stdout)
    b = json.loads(invoke(own_stack_settings, ["kmalloc", "0x1000", "--json"]).stdout)
    assert a["size"] == b["size"] == 4096


def test_pictures_are_written_where_asked(own_stack_settings, world, tmp_path):
    from mmsim import pictures  # noqa: PLC0415

    cases = [(["trace", "show", world["trace"], "--format", "svg", "-o", str(tmp_path / "t.svg")], "<svg"),
             (["trace", "show", world["trace"], "--format", "mermaid", "-o", str(tmp_path / "t.mmd")], "sequenceDiagram"),
             (["xa", "draw", world["m"], "--format", "dot", "-o", str(tmp_path / "xa.dot")], "digraph xarray"),
             (["proc", "buddyinfo", "--plot", str(tmp_path / "b.png")], "\ufffdPNG"),
             (["page", world["pfn"], "--draw", str(tmp_path / "p.svg")], "<svg")]
    for argv, start in cases:
        out = invoke(own_stack_settings, argv)
        check(out, 0, argv)
        path = Path(argv[-1])
        assert f"wrote {path}" in out.stdout
        assert start in path.read_bytes()[:4000].decode(errors="replace"), path
    drawn = json.loads(invoke(own_stack_settings, ["xa", "draw", world["m"], "--format", "mermaid", "--json"]).stdout)
    assert drawn["text"].startswith("flowchart TD") and drawn["nodes_drawn"] == drawn["total_nodes"] >= 1
    svg = invoke(own_stack_settings, ["xa", "draw", world["m"]])
    if pictures.dot_available():
        check(svg, 0, ["xa", "draw"])
        assert "<svg" in svg.stdout and "folio" in svg.stdout
    else:                                    # no Graphviz here: said so, with what to use instead
        check(svg, EXIT_ERROR, ["xa", "draw"])
        assert "apt-get install graphviz" in svg.stderr


def test_web_serves_the_view(own_stack_settings, world):
    """`mmsim web` for real: the page and a panel over HTTP on 127.0.0.1; the forms are off without
    --allow-writes."""
    import time  # noqa: PLC0415
    import urllib.error  # noqa: PLC0415
    import urllib.request  # noqa: PLC0415

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([MMSIM, "web", "--port", str(port)], env={**os.environ, **own_stack_settings.env()},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert "serving http://127.0.0.1:" in proc.stderr.readline()
        deadline = time.monotonic() + 120                 # start-up on a loaded machine: a bound, not a timing
        while True:
            try:
                index = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30).read().decode()
                break
            except urllib.error.URLError:
                assert time.monotonic() < deadline and proc.poll() is None, "mmsim web did not start"
                time.sleep(0.2)
        assert 'hx-get="/part/buddyinfo"' in index and "read-only" in index and "fault-form" not in index
        part = urllib.request.urlopen(f"http://127.0.0.1:{port}/part/xarray?mapping={world['m']}", timeout=60).read()
        assert b'class="xa"' in part
        post = urllib.request.Request(f"http://127.0.0.1:{port}/act/fault", data=b"pid=1&address=0",
                                      headers={"HX-Request": "true"}, method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(post, timeout=60)
        assert refused.value.code == 403
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        proc.stderr.close()


# The machine-wide commands ---------------------------------------------------------------------------------


def test_fragment_then_unfragment(own_stack_settings):
    frag = invoke(own_stack_settings, ["fragment", "--zone", "DMA", "--max-free-order", "3", "--json"])
    check(frag, 0, ["fragment", "--json"])
    assert json.loads(frag.stdout)["zones"] == ["DMA"]
    zones = json.loads(invoke(own_stack_settings, ["proc", "buddyinfo", "--json"]).stdout)
    assert all(n == 0 for n in next(z for z in zones if z["zone"] == "DMA")["free"][4:])
    unfrag = invoke(own_stack_settings, ["unfragment"])
    check(unfrag, 0, ["unfragment"])
    assert "pages given back" in unfrag.stdout
    check(invoke(own_stack_settings, ["fragment", "--max-free-order", "11"]), EXIT_USAGE, ["fragment"])


def test_a_stack_that_is_down_gets_a_hint(own_stack_settings):
    out = invoke(own_stack_settings, ["--target", "127.0.0.2", "proc", "vmstat", "--json"])
    assert out.exit_code == EXIT_DOWN and "mmsim up" in out.stderr
    assert json.loads(out.stdout)["error"]["code"] == "UNAVAILABLE"
    status = invoke(own_stack_settings, ["--target", "127.0.0.2", "status", "--json"])
    assert status.exit_code == EXIT_ERROR and {s["health"] for s in json.loads(status.stdout)["services"]} == {"DOWN"}


def test_target_and_addr_point_at_a_stack(own_stack_settings):
    addrs = own_stack_settings.addrs
    env = {k: v for k, v in own_stack_settings.env().items() if not k.endswith("_ADDR")}
    target = ",".join(f"{n}={a}" for n, a in addrs.items() if n != "rmap")
    out = runner.invoke(app, ["--target", target, "--addr", f"rmap={addrs['rmap']}", "status", "--json"], env=env)
    assert out.exit_code == 0, out.output
    assert [s["addr"] for s in json.loads(out.stdout)["services"]] == list(addrs.values())


# Through the real entry point ------------------------------------------------------------------------------


def entry(settings, *args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([MMSIM, *args], env={**os.environ, **settings.env()}, capture_output=True, text=True,
                          timeout=120, **kw)


def test_version_and_completion(own_stack_settings):
    out = entry(own_stack_settings, "--version")
    assert out.returncode == 0 and out.stdout.startswith("mmsim ")
    comp = subprocess.run([MMSIM], env={**os.environ, "_MMSIM_COMPLETE": "complete_bash", "COMP_WORDS": "mmsim pro",
                                        "COMP_CWORD": "1"}, capture_output=True, text=True, timeout=120)
    assert comp.stdout.split() == ["proc"]


def test_a_closed_pipe_ends_quietly(own_stack_settings):
    """`mmsim ... | head`: the reader is gone before mmsim writes; no BrokenPipeError traceback."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        out = subprocess.run([MMSIM, "proc", "vmstat"], stdout=write_end,
                             stderr=subprocess.PIPE, env={**os.environ, **own_stack_settings.env()}, timeout=120)
    finally:
        os.close(write_end)
    assert out.returncode == EXIT_SIGPIPE and b"Traceback" not in out.stderr, out.stderr


def test_demo_runs_a_private_stack():
    out = runner.invoke(app, ["demo"])
    check(out, 0, ["demo"])
    assert "VM_FAULT_MAJOR" in out.stdout and "stack stopped" in out.stdout


def test_help_and_read_only_commands_import_no_grpc():
    """Start-up stays fast: building the CLI (every command, its help) loads neither grpc nor protobuf."""
    code = ("import sys; import mmsim.cli as c; c.command_tree(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('grpc', 'google', 'rich', 'redis')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "[]", out.stderr


# What a command imports (start-up time is mostly imports): a read loads grpc and protobuf for its call, and
# none of OpenTelemetry, structlog, the redis client (which pulls OpenTelemetry's metrics SDK), pydantic
# (typer's default coercion) or rich's markdown/syntax/traceback; `mmsim --help` loads no grpc at all.
NEVER = ("opentelemetry", "structlog", "redis", "pydantic", "pydantic_core", "psutil", "matplotlib", "numpy",
         "graphviz", "hypothesis", "starlette", "uvicorn", "jinja2")
HEAVY_RICH = ("rich.markdown", "rich.syntax", "rich.traceback", "rich.pretty", "rich.tree", "rich.progress")
NOT_FOR_A_READ = ("grpc_tools.protoc", "mmsim.web", "mmsim.pictures", "mmsim.experiments", "mmsim.scenario",
                  "mmsim.bench", "mmsim.cli_ops", "mmsim.cli_run", "mmsim.cli_experiment", "mmsim.cli_web")
IMPORTS = """
import json, os, sys
import mmsim.cli
code = mmsim.cli.main(sys.argv[1:])
os.write(2, ("\\nIMPORTS " + json.dumps(sorted(sys.modules)) + "\\n").encode())
sys.exit(code)
"""


def _imported(settings, *argv: str) -> tuple[int, set[str]]:
    out = subprocess.run([sys.executable, "-c", IMPORTS, *argv], env={**os.environ, **settings.env()},
                         capture_output=True, text=True, timeout=120)
    line = out.stderr.rsplit("\nIMPORTS ", 1)[-1]
    return out.returncode, set(json.loads(line))


@pytest.mark.parametrize("argv", [["status"], ["status", "--json"], ["proc", "vmstat", "--json"], ["proc", "meminfo"],
                                  ["folio", "find", "{m}", "0"],
                                  ["drop-caches", "2", "--json"], ["--help"]], ids=" ".join)
def test_read_commands_import_only_what_their_call_needs(own_stack_settings, world, argv):
    code, modules = _imported(own_stack_settings, *(a.format_map(world) for a in argv))
    assert code == 0
    tops = {m.split(".")[0] for m in modules}
    assert not tops & set(NEVER), sorted(tops & set(NEVER))
    if argv != ["--help"]:                     # typer's rich help formatter loads rich.markdown and the rest
        assert not modules & set(HEAVY_RICH), sorted(modules & set(HEAVY_RICH))
        if argv[0] != "drop-caches":           # (a write: cli_ops)
            assert not modules & set(NOT_FOR_A_READ), sorted(modules & set(NOT_FOR_A_READ))
        assert "grpc" in tops                  # the call itself
    else:
        assert not tops & {"grpc", "google"}
    if argv[0] == "proc" or "--json" in argv:
        assert "rich" not in tops              # plain text or JSON: no rich at all
    if argv[0] == "status":
        assert "mmsim.client" not in modules   # health checks and a PING only


def test_the_pictures_libraries_load_only_when_a_picture_is_asked_for():
    """`import mmsim.cli` (every command registered) loads none of matplotlib, graphviz, starlette, uvicorn,
    jinja2: they cost seconds, and only the pictures and `mmsim web` need them."""
    heavy = ("matplotlib", "graphviz", "starlette", "uvicorn", "jinja2")
    code = ("import sys; import mmsim.cli as c; c.command_tree(); "
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "[]", out.stderr


def test_reset_empties_the_machine_last(own_stack_settings, world):
    """Runs after the matrix (it empties the machine the other cases use)."""
    for argv in (["reset"], ["reset", "--json"]):
        check(invoke(own_stack_settings, argv), 0, argv)
    check(invoke(own_stack_settings, ["stat", world["m"]]), EXIT_ERROR, ["stat"])
    check(invoke(own_stack_settings, ["reset", "now"]), EXIT_USAGE, ["reset", "now"])


def test_lifecycle_down_status_up(own_stack_settings, world):
    """Last: down stops the module's stack (status then fails with a hint), up starts it again."""
    down = entry(own_stack_settings, "down", "--json")
    assert down.returncode == 0 and set(json.loads(down.stdout)["stopped"]) == {"redis", "allocator", "pagecache",
                                                                              "filesystem", "rmap"}
    status = entry(own_stack_settings, "status")
    assert status.returncode == EXIT_ERROR and "mmsim up" in status.stderr
    assert entry(own_stack_settings, "proc", "vmstat").returncode == EXIT_DOWN
    up = entry(own_stack_settings, "up", "--json")
    assert up.returncode == 0, up.stderr
    assert all(s["health"] == "SERVING" for s in json.loads(up.stdout)["services"])
    assert entry(own_stack_settings, "status").returncode == 0
