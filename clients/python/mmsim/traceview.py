"""One trace's spans as a tree: ``mmsim trace show``, ``Cluster.trace()`` and the benchmarks use it."""

from __future__ import annotations

import json
from dataclasses import dataclass

from google.protobuf.json_format import MessageToDict

# Attributes worth showing on a line, in this order (request fields, then outcomes prefixed "out.").
KEY_ARGS = ("pid", "address", "mapping", "index", "order", "gfp", "pfn", "name", "block_size", "path", "offset",
            "length", "write", "memalloc_scope", "attempts", "policy")
KEY_OUTCOMES = ("out.vm_fault", "out.folio.pfn", "out.folio.order", "out.effective_gfp", "out.raced", "out.merged_order",
                "out.folios_split", "out.split_failed")


@dataclass
class Node:
    span: object
    children: list["Node"]


class TraceTree:
    def __init__(self, spans):
        self.spans = sorted(spans, key=lambda s: s.start_unix_ms)
        ids = {s.span_id for s in self.spans}
        nodes = {s.span_id: Node(s, []) for s in self.spans}
        self.roots: list[Node] = []
        for s in self.spans:
            parent = nodes.get(s.parent_span_id) if s.parent_span_id in ids else None
            (parent.children if parent else self.roots).append(nodes[s.span_id])

    # Figures used by tests and benchmarks -------------------------------------------------------------
    @property
    def trace_id(self) -> str:
        return self.spans[0].trace_id if self.spans else ""

    @property
    def services(self) -> set[str]:
        return {s.service for s in self.spans}

    @property
    def hops(self) -> int:
        """gRPC hops: one per server span (the client's call into the first service counts as one)."""
        return len(self.spans)

    @property
    def redis_round_trips(self) -> int:
        return sum(s.redis_round_trips for s in self.spans)

    def methods(self) -> list[str]:
        return [short_name(s.name) for s in self.spans]

    def find(self, method: str) -> list:
        return [s for s in self.spans if short_name(s.name) == method]

    # Rendering -----------------------------------------------------------------------------------------
    def render(self) -> str:
        if not self.spans:
            return "(no spans)"
        lines = [f"trace {self.trace_id}  {self.hops} gRPC hops, {self.redis_round_trips} Redis round trips"]

        def walk(node: Node, depth: int) -> None:
            s = node.span
            args = " ".join(f"{k}={_show(k, s.attributes[k])}" for k in KEY_ARGS if k in s.attributes)
            outs = " ".join(f"{k[4:]}={_show(k, s.attributes[k])}" for k in KEY_OUTCOMES if s.attributes.get(k))
            outcome = s.status if s.status != "OK" else (outs or "OK")
            lines.append(
                f"{'  ' * depth}{s.service:<10} {short_name(s.name):<26} {args}  -> {outcome}  "
                f"[{s.duration_ms:.2f} ms, redis x{s.redis_round_trips}]"
            )
            for child in node.children:
                walk(child, depth + 1)

        for root in self.roots:
            walk(root, 0)
        return "\n".join(lines)

    __str__ = render

    def to_json(self) -> str:
        return json.dumps({"trace_id": self.trace_id, "hops": self.hops, "redis_round_trips": self.redis_round_trips,
                           "spans": [MessageToDict(s, preserving_proto_field_name=True) for s in self.spans]}, indent=2)


def _show(key: str, value: str) -> str:
    """Addresses in hex, as the kernel prints them."""
    hexed = key in ("address", "pfn") or key.endswith(".pfn")
    return f"{int(value):#x}" if hexed and value.isdigit() else value


def short_name(rpc: str) -> str:
    """'/mmsim.v1.PageCacheService/Fault' -> 'PageCacheService/Fault'."""
    return rpc.strip("/").split(".")[-1]
