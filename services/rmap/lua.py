"""The reverse-map service's Lua scripts: every multi-key change of services/rmap is ONE of these.

Each script is a ``.lua`` file beside this module, declared here once by a ``Spec`` (mmsim.runtime.lua):
its KEYS and ARGV by name (the body reads ``KEY.mm``, ``ARG.pid``) and its replies by kind, decoded into a
``Reply`` with named fields. Scripts that touch struct pages run after the allocator's struct page library
(vmemmap.lua: page_get, page_ref_add, page_mapcount_add, ...) and this service's library (rmap.lua), so
PTEs, _mapcount, _refcount and the vmstat counters change in one atomic step.

Hash tags: a fault script touches ``{mm:PID}`` (PTEs, counters), ``{node:N}`` (struct page, vmstat, folio
bytes) and reads ``{m:MAPPING}`` (i_size); unmap_mapping_range walks ``{m:MAPPING}:i_mmap`` into every
mapping process's ``{mm:PID}``. That is accepted for the single Redis this project runs on; on a Redis
Cluster these scripts would need the tags co-located (documented in mmsim.runtime.keys). Keys other
than KEYS[] are built inside the scripts with the same builders as mmsim.runtime.keys.

PTE encoding (the value of ``{mm:PID}:pte`` field VPN): ``"PFN:HEAD:ORDER:NODE:BITS"`` with BITS from
PTE_* below. A PTE with PTE_NOMC was installed without raising _mapcount (the leak policy saturated it); one
with PTE_PROTNONE is present but inaccessible (mprotect PROT_NONE: pte_mkprotnone), so accesses fault.

PMD mappings of file THPs (do_set_pmd) live in ``{mm:PID}:pmd``, field = the PMD index (virtual address >> 21),
the value encoded the same way with PFN = HEAD (the folio's head), ORDER 9 and PTE_PMD set; no PTE of that
process lies in the 2 MiB a PMD maps. The folio's ``_entire_mapcount`` is the first tail page's compound_mapcount word.

Lua numbers are doubles: every integer that goes into a key or a reply is formatted with ``I()``
(``%d``), never ``tostring`` (which prints 2**47 as 1.4e+14); VMA JSON is decoded here but never
re-encoded (cjson would round large addresses); Python builds the JSON.
"""

from __future__ import annotations

from mmsim.allocator import vmemmap
from mmsim.pagecache.filemap_lua import FILEMAP_LUA
from mmsim.runtime import lua
from mmsim.runtime.errors import FailedPrecondition, NotFound
from mmsim.runtime.lua import Reply, Spec, SpecScript

PTE_WRITE, PTE_ANON, PTE_DIRTY, PTE_YOUNG, PTE_NOMC, PTE_ZERO, PTE_PROTNONE, PTE_PMD = 1, 2, 4, 8, 16, 32, 64, 128

RMAP_LUA_LIB = lua.source(__file__, "rmap")
"""The reverse map's Lua library (rmap.lua): PTE encoding, zap, teardown, fault-around; after the vmemmap library."""
RMAP_WALK_LUA_LIB = lua.source(__file__, "rmap_walk")
"""rmap_walk_file for one folio (rmap_walk.lua), for the page cache's split and truncation scripts."""

_LIBS = vmemmap.build_script(f"local MAPPING_SHARED = {vmemmap.MAPPING_SHARED}\n" + RMAP_LUA_LIB)

_FAULT_LIBS = "\n".join([FILEMAP_LUA, f"local MAPPING_SHARED, PG_LOCKED = {vmemmap.MAPPING_SHARED}, {vmemmap.PG['locked']}",
                         RMAP_LUA_LIB, lua.source(__file__, "finish")])
"""The fault scripts' libraries: the page cache's (its XArray read in place, as filemap_map_pages does), the
reverse map's and the fault path's (finish.lua: finish_fault, the fault-around window, the mapcount policy)."""

MM_KEYS = ("mm", "vmas", "pte", "pte_idx", "pagemaps")
"""The process's keys the fault scripts name (KEY.mm, KEY.pte, ...)."""

# the replies every script about one process may give before it does anything
_GONE = {"nopid": (), "killed": ("reason",)}
_FREED = "*freed:int"   # node, head pfn, order of every folio whose last reference went: the caller frees them


def _script(spec: Spec, libraries: str = _LIBS) -> SpecScript:
    return SpecScript(spec, __file__, libraries)


def live(reply: Reply, pid: int) -> Reply:
    """The reply of a script about process ``pid``, unless the process is gone: no such pid is NOT_FOUND, a
    process the mapcount policy killed is FAILED_PRECONDITION (a zombie until Exit reaps it)."""
    if reply.kind == "nopid":
        raise NotFound(f"no process with pid {pid}")
    if reply.kind == "killed":
        raise FailedPrecondition(f"process {pid} was killed: {reply.reason}")
    return reply


def freed(values: list[int]) -> list[tuple[int, int, int]]:
    """A reply's ``freed`` triples (node, head pfn, order)."""
    return [(values[i], values[i + 1], values[i + 2]) for i in range(0, len(values) - 2, 3)]


SPAWN = _script(Spec("spawn", keys=("pids", "procs"),
                     args=("comm", "mapcount_limit", "mapcount_action", "max_map_count", "mmap_base",
                           "count"),   # processes in the run: consecutive pids sharing this mm record
                     replies={"ok": ("pid:int",)}), libraries="")

# finish_fault's reply once the PTEs are in: PTEs of the faulting folio, the first one's vpn, the faulting page's
# pfn, 1 if the leak policy pinned the folio, PTEs fault-around added, the folio mapped (the COW copy for a
# COW fault; 0s for the zero page), the folios to free
# and 1 if one PMD maps the whole folio (do_set_pmd)
_FINISHED = {"ok": ("nr:int", "first_vpn:int", "pfn:int", "pinned:int", "around_mapped:int", "node:int", "head:int",
                    "order:int", "pmd:int", _FREED),
             "killed": ("reason", "evict", _FREED)}   # evict: orphan mappings left unmapped, space separated

FAULT_BEGIN = _script(Spec(
    "fault_begin", keys=MM_KEYS, args=("spans", "pid", "address", "write",
                                       "fault_around_bytes",   # debugfs fault_around_bytes (4096 = off)
                                       "chunk_shift"),         # the page cache's XArray chunk shift
    replies={**_GONE, **_FINISHED, "segv": ("why",), "spurious": ("pte",),
             "reused": ("pte",),        # wp_page_reuse: an anonymous page mapped once, made writable
             # state: the folio of a shared file PTE, 'dirty' | 'clean' | 'shared' (PFN entries), else ''
             "wp": ("vma", "pte", "limit:int", "action", "state"),
             # around_first, around_pages: the fault-around window (file pages) for PageCache.Fault
             "missing": ("vma", "limit:int", "action", "around_first:int", "around_pages:int")}),
    libraries=_FAULT_LIBS)

FINISH_FAULT = _script(Spec(
    "finish_fault", keys=MM_KEYS,
    args=("spans", "pid", "vma", "address",
          "kind",                                   # 'file' | 'cow' | 'zero'
          "write_shared",                           # 0/1: a write fault on a shared mapping
          "node", "head", "order", "folio_index", "i_size",
          "major",                                  # 0/1
          "limit", "action",                        # the mapcount policy in force
          "anon_node", "anon_pfn",                  # the new anonymous page of a COW fault
          "old_pte",                                # the PTE this fault replaces ('' = none)
          "around", "around_first", "around_pages",  # fault-around folios 'node:head:order:index;...', window
          "trace"),                                 # the fault's trace id (owner of the in-flight COW page)
    replies={**_GONE, **_FINISHED,
             "retry": ("why",), "sigbus": ("why",),
             "nopage": ("pte",),                    # another fault installed this PTE first ('' = none)
             "lost": ("why",)}),                    # the recovery pass reclaimed the COW page
    libraries=_FAULT_LIBS)

WP_SHARED = _script(Spec(
    "wp_shared", keys=("mm", "pte"), args=("spans", "vpn", "expected"),
    replies={**_GONE, "ok": ("pte",), "retry": (),
             "shared": (),      # shared through PFN entries: the page cache copies the folio first
             "clean": ()}))     # not dirty: dirty it (do_page_mkwrite), then call again

ACCOUNT_FAILED = _script(Spec("account_failed", args=("node",), replies={"ok": ()}), libraries="")

MMAP_INSERT = _script(Spec(
    "mmap_insert", keys=("mm", "vmas", "i_mmap", "inode"), args=("vma", "start", "stop", "pgoff", "pid"),
    replies={**_GONE, "ok": (), "overlap": (), "enomem": ("map_count",), "unlinked": ()}), libraries="")

MUNMAP = _script(Spec(
    "munmap", keys=("mm", "vmas", "runs"),
    args=("spans", "pid", "start", "stop",
          "plan",    # JSON [{"old": member, "new": [members]}]
          "run_plan"),   # JSON [{"old": run JSON, "k": VMAs per process unmapped, "new": [run JSON of the pieces left]}]
    replies={**_GONE, "ok": ("zapped:int", "evict", _FREED), "retry": (), "enomem": ()}))

FORK = _script(Spec(
    "fork", keys=("mm", "vmas", "pte", "pte_idx", "runs", "pids", "procs"), args=("spans", "pid"),
    replies={**_GONE, "ok": ("child:int", "vmas:int", "ptes:int", "cow:int"),
             "bulk": ("tasks",),        # the pid stands for a bulk Spawn's run of processes
             "overflow": ("why",)}))    # a folio's _refcount would pass INT_MAX

MPROTECT = _script(Spec(
    "mprotect", keys=("mm", "vmas", "pte", "pte_idx"),
    args=("spans", "pid", "start", "stop",
          "old", "new",                 # JSON lists of VMA members: the ones replaced (by address), their replacements
          "wrprotect", "protnone"),     # 0/1: clear PTE_WRITE in range; set (1) or clear (0) PTE_PROTNONE
    replies={**_GONE, "ok": ("ptes:int",), "retry": (), "enomem": ("map_count",)}))

EXIT = _script(Spec("exit", keys=("mm", "procs", "did"), args=("spans", "pid", "did_ttl_ms"),
                    replies={"nopid": (), "ok": ("zapped:int", "vmas:int", "evict", _FREED)}))

UNMAP_MAPPING_RANGE = _script(Spec(
    "unmap_mapping_range", keys=("i_mmap",),
    args=("spans", "first", "last", "even_cows"),   # file pages; last -1 = to EOF
    replies={"ok": ("zapped:int", "vmas:int", _FREED)}))

_PTE_LOOKUP = lua.source(__file__, "pte_lookup")
"""pte_or_pmd (pte_lookup.lua): the PTE or the PMD mapping a virtual page, for the access scripts."""

READ_MEM = _script(Spec("read_mem", keys=("mm", "pte", "pmd"), args=("address", "length"),
                        replies={**_GONE, "ok": ("data:bytes", "missing")}), libraries=_PTE_LOOKUP)  # missing: vpn or ''

WRITE_MEM = _script(Spec("write_mem", keys=("mm", "pte", "pmd"), args=("address", "data"),
                         replies={**_GONE, "fault": ("vpn:int",), "ok": ("written:int",)}), libraries=_PTE_LOOKUP)

FOLIO_MAPCOUNT = _script(Spec(
    "folio_mapcount", args=("spans", "node", "pfn"),
    replies={"ok": ("total:int", "raw:int", "refcount:int", "pinned:int", "head:int", "order:int",
                    "entire:int",         # folio_entire_mapcount: PMDs mapping the folio
                    "page_mapcount:int",  # page_mapcount: _mapcount + 1 + entire
                    "*per_process:int")}))   # pid, PTEs and PMDs of that process mapping the page; per process

FOLIO_MKCLEAN = _script(Spec(
    "folio_mkclean", keys=("i_mmap",), args=("spans", "*folios"),   # folios: node, head, order, index each
    replies={"ok": ("vmas:int", "*per_folio:int")}))                 # PTEs cleaned, 1 if one was dirty; each

MAP_MANY = _script(Spec(
    "map_many", keys=("mm", "vmas", "runs", "pagemaps", "i_mmap", "inode"),
    args=("spans", "pid",
          "run",                # JSON: s (vm_start), n (VMAs per process), m, pg, node, head, pfn, order, index, b (bits)
          "limit", "action"),   # the mapcount policy in force
    replies={**_GONE, "ok": ("mappings:int", "tasks:int", "pinned:int", "saturated:int", "wraps:int",
                             "mapcount:int", "refcount:int"),
             "enomem": ("map_count",), "retry": ("why",), "unlinked": (),
             "killed_now": ("reason", "evict", _FREED)}))   # the policy killed the run's processes

PIN_PAGES = _script(Spec(
    "pin_pages", keys=("mm", "pte", "pins"), args=("spans", "vpn", "count"),
    replies={**_GONE, "ok": ("pinned:int", "refused:int", "refcount:int", "pfn:int"),
             "nopte": (), "zero": ()}))

RMAP_WALK = _script(Spec(
    "rmap_walk_one", args=("spans", "node", "pfn"),
    replies={"ok": ("*entries",)}))   # pid, address, 'file' | 'anon' | 'run', VMAs (1, or a run's count), tasks
