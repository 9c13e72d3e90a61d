"""/proc/buddyinfo, /proc/pagetypeinfo (free part), /proc/vmstat, /proc/meminfo, extfrag index.

Formats follow mm/vmstat.c (frag_show_print, pagetypeinfo_showfree_print, vmstat_start/vmstat_show,
__fragmentation_index) and fs/proc/meminfo.c (show_val_kb). These are pure functions of the counters
the allocator keeps (BuddyAllocator.zone_counters / free_list_counts / vmstat_events).
"""

from __future__ import annotations

from mmsim.allocator.zones import NR_PAGE_ORDERS, PAGE_SHIFT, PAGEBLOCK_ORDER

ZONE_EVENT_NAMES = ("dma", "dma32", "normal", "movable")

VMSTAT_ORDER = (
    ["nr_free_pages"]
    + ["nr_inactive_anon", "nr_active_anon", "nr_inactive_file", "nr_active_file", "nr_unevictable"]
    + [f"workingset_{k}_{t}" for k in ("refault", "activate", "restore") for t in ("anon", "file")]
    + ["nr_anon_pages", "nr_mapped", "nr_file_pages", "nr_dirty", "nr_writeback", "nr_file_hugepages", "nr_file_pmdmapped",
       "nr_vmscan_write"]
    + [f"pgalloc_{z}" for z in ZONE_EVENT_NAMES]
    + [f"allocstall_{z}" for z in ZONE_EVENT_NAMES]
    + ["pgfree", "pgactivate", "pgdeactivate", "pgfault", "pgmajfault", "pgrefill"]
    + ["pgsteal_kswapd", "pgsteal_direct", "pgscan_kswapd", "pgscan_direct"]
    + ["pgscan_anon", "pgscan_file", "pgsteal_anon", "pgsteal_file", "pageoutrun", "drop_pagecache", "drop_slab",
       "oom_kill"]
    + ["pgmigrate_success", "pgmigrate_fail"]
    + ["compact_migrate_scanned", "compact_free_scanned", "compact_isolated", "compact_stall", "compact_fail",
       "compact_success"]
    + ["thp_fault_alloc", "thp_fault_fallback", "thp_file_alloc", "thp_file_fallback", "thp_file_mapped"]
    + ["thp_split_page", "thp_split_page_failed", "thp_split_pmd"]
)
"""The counters mmsim keeps (zone items, node items, then events), in mm/vmstat.c vmstat_text order.
The allocator owns nr_free_pages, pgalloc_*, allocstall_*, pgfree, compact_*, pgmigrate_*, and through reclaim
(mmsim.allocator.vmscan) pgscan_* / pgsteal_* / pgactivate / pgdeactivate / pgrefill / pageoutrun / oom_kill /
nr_vmscan_write; the page cache nr_file_pages, nr_file_hugepages, the LRU sizes nr_inactive_file /
nr_active_file and workingset_*; the reverse map nr_mapped, nr_anon_pages, pgfault, pgmajfault, nr_file_pmdmapped
(in THPs, as vmstat prints it), thp_file_mapped and thp_split_pmd, and the anonymous LRU sizes nr_inactive_anon /
nr_active_anon; the filesystem nr_dirty, nr_writeback, thp_file_alloc / thp_file_fallback; the page cache's split
thp_split_page[_failed] and its drop_caches drop_pagecache, drop_slab. There is no swap: get_scan_count scans only
the file lists (SCAN_FILE), so the *_anon reclaim events stay 0, and nr_unevictable stays 0 (the kernel's
unevictable list is for mlocked and ramfs pages, not anonymous pages without swap)."""

ZONEINFO_NODE_STATS = ("nr_inactive_anon", "nr_active_anon", "nr_inactive_file", "nr_active_file", "nr_unevictable",
                       "workingset_refault_file", "workingset_activate_file", "workingset_restore_file",
                       "nr_anon_pages", "nr_mapped", "nr_file_pages", "nr_dirty", "nr_writeback", "nr_vmscan_write")
"""The per-node stats /proc/zoneinfo prints under a node's first zone (the ones mmsim keeps, in vmstat order)."""

VMALLOC_TOTAL_KB = 34359738367
"""x86-64 VMALLOC_TOTAL >> 10 (32 TiB - 1 KiB), printed as is."""

PAGETYPE_NAMES = ("Unmovable", "Movable", "Reclaimable", "HighAtomic", "Isolate")


def buddyinfo(zones: list[dict]) -> str:
    """/proc/buddyinfo: 'Node %d, zone %8s ' then '%6lu ' per order, '\\n' (frag_show_print)."""
    out = []
    for z in zones:
        line = f"Node {z['node']}, zone {z['zone']:>8} "
        line += "".join(f"{z.get(f'nr_free:{o}', 0):6d} " for o in range(NR_PAGE_ORDERS))
        out.append(line + "\n")
    return "".join(out)


def pagetypeinfo(rows: list[dict]) -> str:
    """The free part of /proc/pagetypeinfo (pagetypeinfo_showfree + its header)."""
    out = [f"Page block order: {PAGEBLOCK_ORDER}\n", f"Pages per block:  {1 << PAGEBLOCK_ORDER}\n", "\n"]
    out.append(f"{'Free pages count per migrate type at order':<43} " + "".join(f"{o:6d} " for o in range(NR_PAGE_ORDERS)) + "\n")
    by_zone: dict[tuple[int, str], dict[int, list[int]]] = {}
    for r in rows:
        by_zone.setdefault((r["node"], r["zone"]), {})[r["migratetype"]] = r["counts"]
    for (node, zone), types in by_zone.items():
        for mt, name in enumerate(PAGETYPE_NAMES):
            counts = types.get(mt, [0] * NR_PAGE_ORDERS)
            cells = "".join((f">{100000:5d} " if c >= 100000 else f"{c:6d} ") for c in counts)
            out.append(f"Node {node:4d}, zone {zone:>8}, type {name:>12} {cells}\n")
    return "".join(out)


def vmstat_values(zones: list[dict], events: dict[str, int]) -> dict[str, int]:
    vals = {name: 0 for name in VMSTAT_ORDER}
    vals["nr_free_pages"] = sum(z.get("nr_free_pages", 0) for z in zones)
    for k, v in events.items():
        vals[k] = vals.get(k, 0) + v
    return vals


def vmstat(zones: list[dict], events: dict[str, int]) -> str:
    """/proc/vmstat lines 'name value' (known names in kernel order, then mmsim's own counters)."""
    vals = vmstat_values(zones, events)
    names = [n for n in VMSTAT_ORDER] + sorted(k for k in vals if k not in VMSTAT_ORDER)
    return "".join(f"{n} {vals[n]}\n" for n in names)


def show_val_kb(name: str, pages: int) -> str:
    """fs/proc/meminfo.c show_val_kb: the label padded to 16 columns, pages in kB right-aligned in 8."""
    return f"{name + ':':<16}{pages << (PAGE_SHIFT - 10):>8} kB\n"


MEMINFO_FILE_LINES = (("Cached", "nr_file_pages", 1), ("Dirty", "nr_dirty", 1), ("Writeback", "nr_writeback", 1),
                      ("AnonPages", "nr_anon_pages", 1), ("Mapped", "nr_mapped", 1))
"""/proc/meminfo lines taken from node counters the other services keep: (name, vmstat item, pages per unit)."""


MEMINFO_LRU_LINES = (("Active(anon)", "nr_active_anon"), ("Inactive(anon)", "nr_inactive_anon"),
                     ("Active(file)", "nr_active_file"), ("Inactive(file)", "nr_inactive_file"),
                     ("Unevictable", "nr_unevictable"))
"""/proc/meminfo's LRU lines (meminfo_proc_show: pages[LRU_ACTIVE_ANON] ...), after Active and Inactive (their sums)."""

MEMINFO_ORDER = ("MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached", "Active", "Inactive",
                 *(name for name, _ in MEMINFO_LRU_LINES), "Dirty", "Writeback", "AnonPages", "Mapped")
"""The lines of /proc/meminfo mmsim prints before Vmalloc*, in fs/proc/meminfo.c order (SwapCached, Mlocked,
Swap*, Zswap* are left out: there is no swap)."""


def meminfo_values(zones: list[dict], vmalloc_pages: int = 0, events: dict[str, int] | None = None) -> dict[str, int]:
    """Pages for each /proc/meminfo line mmsim knows (fs/proc/meminfo.c meminfo_proc_show). MemAvailable is
    si_mem_available with the clean page cache counted as reclaimable: free - totalreserve_pages + file pages
    - min(file pages / 2, low watermarks), where totalreserve = sum of high + max lowmem_reserve."""
    ev = events or {}
    total = sum(z["managed"] for z in zones)
    free = sum(z["nr_free_pages"] for z in zones)
    reserve = sum(z["high"] + max(z.get(f"reserve:{j}", 0) for j in range(4)) for z in zones)
    file_pages = ev.get("nr_file_pages", 0)
    wmark_low = sum(z.get("low", 0) for z in zones)
    out = {
        "MemTotal": total,
        "MemFree": free,
        "MemAvailable": max(0, free - reserve + file_pages - min(file_pages // 2, wmark_low)),
        "Buffers": 0,
    }
    out.update({name: ev.get(item, 0) * unit for name, item, unit in MEMINFO_FILE_LINES})
    out.update({name: ev.get(item, 0) for name, item in MEMINFO_LRU_LINES})
    out["Active"] = out["Active(anon)"] + out["Active(file)"]
    out["Inactive"] = out["Inactive(anon)"] + out["Inactive(file)"]
    out["VmallocUsed"] = vmalloc_pages
    out["FileHugePages"] = ev.get("nr_file_hugepages", 0) * 512   # printed in THPs by vmstat, in kB here
    out["FilePmdMapped"] = ev.get("nr_file_pmdmapped", 0) * 512
    return out


def meminfo(zones: list[dict], vmalloc_pages: int = 0, events: dict[str, int] | None = None) -> str:
    v = meminfo_values(zones, vmalloc_pages, events)
    out = "".join(show_val_kb(n, v[n]) for n in MEMINFO_ORDER)
    out += f"{'VmallocTotal:':<16}{VMALLOC_TOTAL_KB:>8} kB\n"
    out += show_val_kb("VmallocUsed", v["VmallocUsed"])
    out += show_val_kb("FileHugePages", v["FileHugePages"])
    out += show_val_kb("FilePmdMapped", v["FilePmdMapped"])
    return out


def fragmentation_index(zone: dict, order: int) -> int:
    """mm/vmstat.c __fragmentation_index, in thousandths (-1000 = a suitable block exists, 0 = no memory;
    towards 1000 = failure due to fragmentation, towards 0 = due to lack of memory)."""
    requested = 1 << order
    blocks_total = sum(zone.get(f"nr_free:{o}", 0) for o in range(NR_PAGE_ORDERS))
    free_pages = sum(zone.get(f"nr_free:{o}", 0) << o for o in range(NR_PAGE_ORDERS))
    suitable = sum(zone.get(f"nr_free:{o}", 0) << (o - order) for o in range(order, NR_PAGE_ORDERS))
    if blocks_total == 0:
        return 0
    if suitable:
        return -1000
    return 1000 - (1000 + free_pages * 1000 // requested) // blocks_total


def format_fragindex(idx: int) -> str:
    """debugfs extfrag/extfrag_index prints '%d.%03d' (or '-1.000')."""
    if idx < 0:
        return "-1.000"
    return f"{idx // 1000}.{idx % 1000:03d}"


def zoneinfo(zones: list[dict], node_stats: dict[int, dict[str, int]]) -> str:
    """/proc/zoneinfo (mm/vmstat.c zoneinfo_show_print): per zone its free pages, boost, min/low/high/promo
    watermarks, spanned/present/managed pages and protection (lowmem_reserve); the node's stats with its
    first zone."""
    out, seen = [], set()
    for z in zones:
        out.append(f"Node {z['node']}, zone {z['zone']:>8}")
        if z["node"] not in seen:
            seen.add(z["node"])
            stats = node_stats.get(z["node"], {})
            out.append("\n  per-node stats")
            out.extend(f"\n      {name:<12} {stats.get(name, 0)}" for name in ZONEINFO_NODE_STATS)
        out.append(f"\n  pages free     {z.get('nr_free_pages', 0)}")
        for name, key in (("boost", None), ("min", "min"), ("low", "low"), ("high", "high"), ("promo", "promo"),
                          ("spanned", "spanned"), ("present", "present"), ("managed", "managed"), ("cma", None)):
            out.append(f"\n        {name:<8} {z.get(key, 0) if key else 0}")
        out.append("\n        protection: (" + ", ".join(str(z.get(f"reserve:{j}", 0)) for j in range(4)) + ")")
        out.append("\n")
    return "".join(out)
