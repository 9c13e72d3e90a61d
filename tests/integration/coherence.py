"""Helpers for the coherence tests (issue 9): what the page cache, the page tables and the file hold.

Read-only views over gRPC, shared by the bytes-model property test and the named regressions:
``cache_entries`` (the XArray's entries from XaDump), ``issue`` (many RPCs at once, as gRPC futures),
``mapped_file_ptes`` (PTEs of page-cache folios, from FolioMapcount) and the model's page view of a file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mmsim.client import PAGE_SIZE, Cluster
from mmsim.v1 import page_cache_pb2, reverse_map_pb2

_NODE = re.compile(r"^\s*node shift (\d+) indices 0x([0-9a-f]+)-")
_SLOT = re.compile(r"^\s*\[\s*(\d+)\] 0x([0-9a-f]+): (folio pfn 0x([0-9a-f]+) order (\d+) node (\d+)|zero entry)")
_SIBLINGS = re.compile(r"^\s*\[\s*(\d+)(?:-(\d+))?\] sibling of slot (\d+)")
_HEAD = re.compile(r"^head: index 0 -> (folio pfn 0x([0-9a-f]+) order (\d+) node (\d+)|zero entry)")


@dataclass
class Entry:
    first: int          # first file index covered (pages)
    last: int           # last file index covered (pages, inclusive)
    pfn: int = 0        # head pfn (0 for a zero entry)
    order: int = 0      # folio order
    node: int = 0       # NUMA node
    zero: bool = False  # a zero entry (a hole), no page

    @property
    def nr_pages(self) -> int:
        return self.last - self.first + 1


def parse_xa_dump(text: str) -> list[Entry]:
    """The entries of an XaDump, each with the file range it covers (a run of sibling slots included)."""
    entries: list[Entry] = []
    by_slot: dict[tuple[int, int], Entry] = {}
    shift = base = 0
    for line in text.splitlines():
        if m := _HEAD.match(line):
            zero = m.group(2) is None
            order = 0 if zero else int(m.group(3))
            entries.append(Entry(0, (1 << order) - 1, 0 if zero else int(m.group(2), 16), order,
                                 0 if zero else int(m.group(4)), zero))
        elif m := _NODE.match(line):
            shift, base = int(m.group(1)), int(m.group(2), 16)
        elif m := _SLOT.match(line):
            slot, first = int(m.group(1)), int(m.group(2), 16)
            zero = m.group(4) is None
            order = shift if zero else int(m.group(5))
            e = Entry(first, first + max(1 << shift, 1 << order) - 1, 0 if zero else int(m.group(4), 16),
                      order, 0 if zero else int(m.group(6)), zero)
            entries.append(e)
            by_slot[(base, slot)] = e
        elif m := _SIBLINGS.match(line):
            upto = int(m.group(2) or m.group(1))
            e = by_slot[(base, int(m.group(3)))]
            e.last = max(e.last, base + ((upto + 1) << shift) - 1)
            if e.zero:
                e.order = (e.nr_pages).bit_length() - 1
    return entries


def issue(mm: Cluster, calls: list[tuple[str, str, object]]) -> list:
    """Send every (service, method, request) at once (gRPC futures) and return the replies in order."""
    futures = [getattr(mm.stubs[svc], method).future(req, timeout=mm.timeout) for svc, method, req in calls]
    return [f.result() for f in futures]


def cache_entries(mm: Cluster, mappings: list[str], also: list[tuple[str, str, object]] | None = None):
    """Each mapping's page-cache entries; with ``also``, those calls go in the same batch and the result is
    (their replies, the entries)."""
    calls = (also or []) + [("pagecache", "XaDump", page_cache_pb2.XaDumpRequest(mapping=m)) for m in mappings]
    replies = issue(mm, calls)
    extra, dumps = replies[:len(also or [])], replies[len(also or []):]
    entries = {m: parse_xa_dump(d.text) for m, d in zip(mappings, dumps)}
    return (extra, entries) if also is not None else entries


def mapped_file_ptes(mm: Cluster, folios: list[Entry]) -> int:
    """PTEs mapping any page of these folios (folio_mapcount summed): every file PTE must map one of them."""
    req = [("rmap", "FolioMapcount", reverse_map_pb2.FolioMapcountRequest(pfn=e.pfn, node=e.node)) for e in folios]
    return sum(r.folio_mapcount for r in issue(mm, req))


def pages_of(nbytes: int) -> int:
    return -(-nbytes // PAGE_SIZE)


def page_view(data: bytes | bytearray) -> bytes:
    """What a mapping of a file holding ``data`` reads: whole pages up to EOF, the tail of the last zeroed."""
    return bytes(data) + bytes(pages_of(len(data)) * PAGE_SIZE - len(data))
