"""Physical memory layout: nodes, x86-64 zones, watermarks and lowmem_reserve.

Pure computation (no Redis): ``Layout.build(memory_bytes, nodes)`` gives every node's pfn span and
every populated zone's span, managed pages, watermarks and lowmem_reserve, the way boot-time code
would compute them:

* memory is one contiguous pfn range from 0 (no holes; pfn 0 is usable), split evenly over
  ``nodes`` nodes, each node's share rounded down to MAX_ORDER_NR_PAGES except the last;
* zones by physical address (arch/x86 zone_sizes_init): DMA below 16 MiB, DMA32 below 4 GiB,
  Normal above; an optional Movable zone takes the top ``movable_bytes`` of each node
  (kernelcore=/movablecore= in the kernel, mm/mm_init.c find_zone_movable_pfns_for_nodes);
* min_free_kbytes = int_sqrt(lowmem_kbytes * 16) clamped to [128, 262144] (models
  mm/page_alloc.c calculate_min_free_kbytes; lowmem = managed pages of zones <= Normal);
* per-zone min/low/high/promo as mm/page_alloc.c __setup_per_zone_wmarks with
  watermark_scale_factor 10 (no highmem on x86-64), watermark_boost 0;
* lowmem_reserve as mm/page_alloc.c setup_per_zone_lowmem_reserve with the default
  sysctl_lowmem_reserve_ratio {DMA 256, DMA32 256, Normal 32, Movable 0}.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from mmsim.allocator.gfp import ZONE_DMA, ZONE_DMA32, ZONE_MOVABLE, ZONE_NAMES, ZONE_NORMAL
from mmsim.runtime.errors import InvalidArgument

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
MAX_PAGE_ORDER = 10
NR_PAGE_ORDERS = MAX_PAGE_ORDER + 1
MAX_ORDER_NR_PAGES = 1 << MAX_PAGE_ORDER
PAGE_ALLOC_COSTLY_ORDER = 3
PAGEBLOCK_ORDER = 9
PAGEBLOCK_NR_PAGES = 1 << PAGEBLOCK_ORDER
HPAGE_PMD_ORDER = 9

DMA_LIMIT_PFN = (16 << 20) >> PAGE_SHIFT  # 4096
DMA32_LIMIT_PFN = (4 << 30) >> PAGE_SHIFT  # 1048576

WATERMARK_SCALE_FACTOR = 10
MIN_FREE_KBYTES_MIN = 128
MIN_FREE_KBYTES_MAX = 262144
LOWMEM_RESERVE_RATIO = (256, 256, 32, 0)


@dataclass
class Zone:
    node: int
    idx: int  # ZONE_DMA.. ZONE_MOVABLE
    start_pfn: int
    end_pfn: int  # exclusive
    min: int = 0
    low: int = 0
    high: int = 0
    promo: int = 0
    lowmem_reserve: list[int] = field(default_factory=lambda: [0, 0, 0, 0])

    @property
    def name(self) -> str:
        return ZONE_NAMES[self.idx]

    @property
    def spanned(self) -> int:
        return self.end_pfn - self.start_pfn

    present = spanned
    managed = spanned

    def wmark(self, which: int) -> int:
        return (self.min, self.low, self.high)[which]


@dataclass
class Node:
    nid: int
    start_pfn: int
    end_pfn: int
    zones: list[Zone]

    def zone(self, idx: int) -> Zone | None:
        for z in self.zones:
            if z.idx == idx:
                return z
        return None


@dataclass
class Layout:
    memory_bytes: int
    nodes: list[Node]
    min_free_kbytes: int

    @property
    def total_pages(self) -> int:
        return self.nodes[-1].end_pfn

    def node_of_pfn(self, pfn: int) -> Node:
        for n in self.nodes:
            if n.start_pfn <= pfn < n.end_pfn:
                return n
        raise InvalidArgument(f"pfn {pfn} is outside memory (valid pfns are 0..{self.total_pages - 1})")

    def zone_of_pfn(self, pfn: int) -> Zone:
        node = self.node_of_pfn(pfn)
        for z in node.zones:
            if z.start_pfn <= pfn < z.end_pfn:
                return z
        raise AssertionError("zones cover their node")  # pragma: no cover

    def zones(self) -> list[Zone]:
        return [z for n in self.nodes for z in n.zones]

    def zonelist(self, nid: int, highest_zoneidx: int) -> list[Zone]:
        """Models build_zonelists (node order, then zone order highest first): the local node's
        zones from highest_zoneidx down, then the other nodes' zones by distance (here: by id)."""
        out: list[Zone] = []
        order = [nid] + [n.nid for n in self.nodes if n.nid != nid]
        for n in order:
            out.extend(sorted((z for z in self.nodes[n].zones if z.idx <= highest_zoneidx), key=lambda z: -z.idx))
        return out

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def build(cls, memory_bytes: int, nodes: int = 1, movable_bytes: int = 0) -> "Layout":
        if memory_bytes < MAX_ORDER_NR_PAGES * PAGE_SIZE:
            raise InvalidArgument(f"memory {memory_bytes} bytes is less than one MAX_PAGE_ORDER block (4 MiB)")
        if memory_bytes % PAGE_SIZE:
            raise InvalidArgument(f"memory {memory_bytes} bytes is not a multiple of PAGE_SIZE (4096)")
        if nodes < 1 or nodes > 64:
            raise InvalidArgument(f"NUMA nodes must be 1..64, got {nodes}")
        total = memory_bytes >> PAGE_SHIFT
        per = (total // nodes) // MAX_ORDER_NR_PAGES * MAX_ORDER_NR_PAGES
        if per == 0:
            raise InvalidArgument(f"{memory_bytes} bytes over {nodes} nodes leaves a node smaller than 4 MiB")
        movable_pages = (movable_bytes >> PAGE_SHIFT) // MAX_ORDER_NR_PAGES * MAX_ORDER_NR_PAGES
        node_list: list[Node] = []
        for nid in range(nodes):
            start = nid * per
            end = total if nid == nodes - 1 else start + per
            zones: list[Zone] = []
            mov_start = max(start, end - movable_pages) if movable_pages else end
            for idx, lo, hi in (
                (ZONE_DMA, 0, DMA_LIMIT_PFN),
                (ZONE_DMA32, DMA_LIMIT_PFN, DMA32_LIMIT_PFN),
                (ZONE_NORMAL, DMA32_LIMIT_PFN, 1 << 62),
                (ZONE_MOVABLE, mov_start, end),
            ):
                if idx != ZONE_MOVABLE:
                    hi = min(hi, mov_start)
                s, e = max(lo, start), min(hi, end)
                if e > s:
                    zones.append(Zone(node=nid, idx=idx, start_pfn=s, end_pfn=e))
            node_list.append(Node(nid=nid, start_pfn=start, end_pfn=end, zones=zones))
        layout = cls(memory_bytes=memory_bytes, nodes=node_list, min_free_kbytes=0)
        layout.setup_watermarks()
        return layout

    def setup_watermarks(self, min_free_kbytes: int | None = None) -> None:
        """Models calculate_min_free_kbytes + __setup_per_zone_wmarks + setup_per_zone_lowmem_reserve."""
        lowmem_pages = sum(z.managed for z in self.zones() if z.idx != ZONE_MOVABLE)
        if min_free_kbytes is None:
            lowmem_kbytes = lowmem_pages * (PAGE_SIZE >> 10)
            min_free_kbytes = math.isqrt(lowmem_kbytes * 16)
            min_free_kbytes = max(MIN_FREE_KBYTES_MIN, min(MIN_FREE_KBYTES_MAX, min_free_kbytes))
        self.min_free_kbytes = min_free_kbytes
        pages_min = min_free_kbytes >> (PAGE_SHIFT - 10)
        lowmem_all = sum(z.managed for z in self.zones())
        for z in self.zones():
            tmp = pages_min * z.managed // lowmem_all
            z.min = tmp
            gap = max(tmp // 4, z.managed * WATERMARK_SCALE_FACTOR // 10000)
            z.low = z.min + gap
            z.high = z.min + 2 * gap
            z.promo = z.high + gap
        for node in self.nodes:
            managed = [0, 0, 0, 0]
            for z in node.zones:
                managed[z.idx] = z.managed
            for z in node.zones:
                ratio = LOWMEM_RESERVE_RATIO[z.idx]
                z.lowmem_reserve = [0, 0, 0, 0]
                above = 0
                for j in range(z.idx + 1, 4):
                    above += managed[j]
                    z.lowmem_reserve[j] = above // ratio if ratio else 0
