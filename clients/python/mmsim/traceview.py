"""One trace's spans as a tree: ``mmsim trace show``, ``Cluster.trace()`` and the benchmarks use it.

Span events (lockdep splats, lock waits, fallbacks, retries) are drawn under their span, marked ``!``.
``complete`` says whether every span of the trace is in: the entry span (the RPC a client called) is
there and every span has as many children as the calls its handler made (``child_calls``).
"""

from __future__ import annotations

import json
import math
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
    def complete(self) -> bool:
        children: dict[str, int] = {}
        for s in self.spans:
            children[s.parent_span_id] = children.get(s.parent_span_id, 0) + 1
        return any(s.entry for s in self.spans) and all(children.get(s.span_id, 0) >= s.child_calls for s in self.spans)

    def events(self, name: str | None = None) -> list:
        """Every span event of the trace (of one name), in span order."""
        return [e for s in self.spans for e in s.events if name is None or e.name == name]

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
            for e in s.events:
                detail = " ".join(f"{k}={v}" for k, v in sorted(e.attributes.items()))
                lines.append(f"{'  ' * (depth + 1)}! {e.name}: {detail}")
            for child in node.children:
                walk(child, depth + 1)

        for root in self.roots:
            walk(root, 0)
        return "\n".join(lines)

    __str__ = render

    def to_dict(self) -> dict:
        """JSON-ready, numbers as numbers (attribute values that are numbers or booleans are typed back)."""
        spans = []
        for s in self.spans:
            d = MessageToDict(s, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)
            d["attributes"] = {k: _typed(v) for k, v in s.attributes.items()}
            for e in d["events"]:
                e["attributes"] = {k: _typed(v) for k, v in e.get("attributes", {}).items()}
            spans.append(d)
        return {"trace_id": self.trace_id, "hops": self.hops, "redis_round_trips": self.redis_round_trips,
                "complete": self.complete, "spans": spans}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


def _show(key: str, value: str) -> str:
    """Addresses in hex, as the kernel prints them."""
    hexed = key in ("address", "pfn") or key.endswith(".pfn")
    return f"{int(value):#x}" if hexed and value.isdigit() else value


def _typed(value: str):
    """A span attribute (stored as text) as the JSON type it stands for."""
    if value in ("True", "False"):
        return value == "True"
    try:
        return int(value)
    except ValueError:
        pass
    try:
        number = float(value)
    except ValueError:
        return value
    return number if math.isfinite(number) else value


def short_name(rpc: str) -> str:
    """'/mmsim.v1.PageCacheService/Fault' -> 'PageCacheService/Fault'."""
    return rpc.strip("/").split(".")[-1]
