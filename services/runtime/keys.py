"""Every Redis key mmsim uses, documented in one place.

All keys start with ``mmsim:`` and carry a Redis Cluster hash tag in braces. The allocator's multi-key
scripts touch keys of one tag only; some page-cache scripts (add_folio, add_zero, invalidate: ``{m:…}`` +
``{node:N}``; truncate, which splits folios and retargets or zaps their PTEs, also every mapping process's
``{mm:PID}``), the filesystem's fenced block steps and its evict/remap steps (``{fs:…}`` + ``{m:…}``) and
most reverse-map scripts (``{mm:PID}`` + ``{node:N}`` + ``{m:…}``) cross tags today, so mmsim runs on one
Redis, not Redis Cluster: docs/sharding.md lists every
multi-key step, its tags, and the plan for each crossing.

| tag                | owner service | keys (suffix after the tag)                                              |
|--------------------|---------------|---------------------------------------------------------------------------|
| ``{node:N}``       | allocator     | ``meta`` (hash: layout, zones), ``vmemmap:C`` (string: packed struct page records, chunk C), ``free:ZONE:ORDER:MT`` (zset of free block head pfns, score = pfn), ``vmstat`` (hash of event counters), ``zone:ZONE`` (hash: watermarks, managed, nr_free) , ``kv:ID`` (hash: kvmalloc allocations), ``mem:PFN`` (string: the bytes of the folio whose head is PFN, 4096 << order long; absent or short = zeros), ``ledger`` (hash: head pfn -> "ORDER:SINCE_MS:PURPOSE:TRACE" of every in-flight allocation: taken from the buddy lists, not yet consumed, or decided free and not yet freed; see allocator/ledger.lua), ``lru:inactive_file`` / ``lru:active_file`` (zsets of the head pfns of page-cache folios on the node's file LRU lists, score = the lruvec sequence at insertion or rotation: the oldest first), ``lruvec`` (hash: ``seq``, ``nonresident_age``: the workingset eviction clock, mm/workingset.c); filesystem also keeps ``mthp_stats`` (hash "SIZEkB:file_alloc" / "SIZEkB:file_fallback" -> count, like /sys/kernel/mm/transparent_hugepage/hugepages-SIZEkB/stats; the page cache's split adds "SIZEkB:split" / "SIZEkB:split_failed") |
| ``{fs:NAME}``      | filesystem    | ``sb`` (hash: block size, profile, next ino, next block), ``dir`` (hash path -> ino), ``blk:B`` (string: block data), ``blkref`` (hash disk block -> refcount), ``orphans`` (set of the MAPPINGs unlinked while mapped: the orphan list, mmsim.filesystem.evict); ``sb`` also holds min_order, max_order, policy, blocks_used |
| ``{m:MAPPING}``    | pagecache, filesystem, rmap | ``xa`` prefix (the mapping's XArray: nodes and root), ``inode`` (hash: fs, ino, path, i_size, block_size, profile, nrpages, nlink), ``extents`` (hash: file block -> disk block), ``i_mmap`` (zset of VMAs mapping the file, member ``PID:VM_START``), ``lock:i_rwsem`` / ``lock:invalidate_lock`` (hashes: the sleeping locks, mmsim.runtime.locks) and their ``:wake`` lists, ``intent`` (hash: an interrupted operation, mmsim.filesystem.intents) |
| ``{mm:PID}``       | rmap          | ``mm`` (hash: comm, counters), ``vmas`` (zset: score vm_start, member JSON of the VMA), ``pte`` (hash: virtual page number -> PTE "PFN:HEAD:ORDER:NODE:BITS"), ``pte_idx`` (zset of the virtual page numbers with a PTE), ``pagemaps`` (hash "NODE:PFN" -> this process's PTEs of that page; the mapcount limit), ``runs`` (hash: vm_start -> JSON of a MapMany run of one-page VMAs of one page, "VM_START:c" -> the PTEs of it that raised the counters), ``pins`` (hash "NODE:HEAD:ORDER" -> get_user_pages references held), ``anon_vma`` (set of the pids sharing the anon_vma rooted at PID since fork; anonymous pages' ->mapping = PID * 2 + 1; the mm hash's anon_root names a process's root); rmap also keeps ``{node:N}`` ``rmap_pinned`` (set of head pfns pinned by the mapcount leak policy) |
| ``{cluster}``      | all           | ``pids`` (counter), ``procs`` (set), ``mappings`` (set), ``filesystems`` (set), ``epoch`` (string: the boot epoch, mmsim.runtime.epoch), ``alive:INSTANCE`` (string, expiring: a service process's heartbeat, mmsim.runtime.idempotency), ``kthread:parkers`` / ``kthread:passes`` / ``kthread:waiting`` (zsets: id -> lease expiry ms) and the lists ``kthread:drained`` / ``kthread:unpark`` (kswapd parked by a check, mmsim.runtime.kthread), ``inject:NAME:reached`` / ``inject:NAME:resume`` (lists: test-only pause points, mmsim.runtime.inject), ``echo`` (counter: the durable writes of TraceService.Echo's baseline, mmsim.runtime.trace_service) |
| ``{req:ID}``       | runtime       | ``reply`` (string: "running" while the first attempt of client request ID runs, then the JSON of its answer; expires: MMSIM_REQUEST_LEASE_S / MMSIM_REQUEST_TTL_S; mmsim.runtime.idempotency), ``did`` (string: what the request's durable step did, written by that step's script (Exit, Unlink), so a retry whose first attempt got past it can answer; expires with the reply) |
| ``{trace:ID}``     | runtime       | ``spans`` (list of JSON spans of one trace); ``{traces}`` ``index`` (zset of recent trace ids, score = start ms), ``faults`` (the same for traces started by a fault) |

MAPPING is ``FS/INO`` (the filesystem's name and the inode number), so a file's page cache and its inode
never share keys with another file's.
"""

from __future__ import annotations

PREFIX = "mmsim"


def node(nid: int, suffix: str) -> str:
    return f"{PREFIX}:{{node:{nid}}}:{suffix}"


def mapping(mapping_id: str, suffix: str) -> str:
    return f"{PREFIX}:{{m:{mapping_id}}}:{suffix}"


def fs(name: str, suffix: str) -> str:
    return f"{PREFIX}:{{fs:{name}}}:{suffix}"


def mm(pid: int, suffix: str) -> str:
    return f"{PREFIX}:{{mm:{pid}}}:{suffix}"


def cluster(suffix: str) -> str:
    return f"{PREFIX}:{{cluster}}:{suffix}"


def request(request_id: str, suffix: str = "reply") -> str:
    return f"{PREFIX}:{{req:{request_id}}}:{suffix}"


def trace(trace_id: str, suffix: str = "spans") -> str:
    return f"{PREFIX}:{{trace:{trace_id}}}:{suffix}"


TRACE_INDEX = f"{PREFIX}:{{traces}}:index"
TRACE_FAULT_INDEX = f"{PREFIX}:{{traces}}:faults"   # the traces whose entry RPC was a fault
