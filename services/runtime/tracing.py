"""W3C trace context and spans: OpenTelemetry SDK, spans kept (bounded) in Redis.

Every process installs one TracerProvider (``setup``). The gRPC interceptors of
opentelemetry-instrumentation-grpc continue the ``traceparent`` that arrives in gRPC metadata and start a
span per RPC; ``RedisSpanExporter`` writes each finished span as JSON to ``mmsim:{trace:ID}:spans`` and
indexes the trace id, keeping about the newest MMSIM_TRACE_KEEP traces (trimmed in batches of 5 %), so ``mmsim trace show`` can
assemble one trace across all services. The entry span of a fault (the RPC a client called) also indexes
its trace among the faults, for ``mmsim trace last``.

A span says how many calls its handler made to other services (``child_calls``) and whether it is the
trace's entry (called by a client, not by a service): a trace is complete once its entry span is stored
and every stored span has that many children (mmsim.traceview.TraceTree.complete), whatever the timing. Lockdep splats,
lock waits, fallbacks and retries are span events (``event``), drawn under their span by the renderer.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import grpc
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Decision, ParentBased, Sampler, SamplingResult

from mmsim.runtime import keys, methods

SPANS_PER_TRACE = 1024
TRIM_SLACK = 20   # the index may hold MMSIM_TRACE_KEEP + 1/20 of it before the oldest traces go
TRACE_TTL_S = 24 * 3600
_STATUS_NAMES = {code.value[0]: code.name for code in grpc.StatusCode}


def span_to_dict(span: ReadableSpan, service: str) -> dict:
    """The JSON form of a span (the fields of mmsim.v1.Span)."""
    attrs = dict(span.attributes or {})
    status = attrs.pop("rpc.grpc.status_code", None)
    events = [{"name": e.name, "time_unix_ms": e.timestamp / 1e6,
               "attributes": {k: str(v) for k, v in (e.attributes or {}).items()}} for e in span.events]
    parent = span.parent.span_id if span.parent else 0
    return {
        "trace_id": format(span.context.trace_id, "032x"),
        "span_id": format(span.context.span_id, "016x"),
        "parent_span_id": format(parent, "016x") if parent else "",
        "service": service,
        "name": span.name,
        "start_unix_ms": span.start_time / 1e6,
        "duration_ms": (span.end_time - span.start_time) / 1e6,
        "status": _STATUS_NAMES.get(status, "OK" if status is None else str(status)),
        "redis_round_trips": int(attrs.pop("mmsim.redis_round_trips", 0)),
        "child_calls": int(attrs.pop("mmsim.child_calls", 0)),
        "entry": bool(attrs.pop("mmsim.entry", False)),
        "attributes": {k.removeprefix("mmsim."): str(v) for k, v in attrs.items() if not k.startswith("rpc.")},
        "events": events,
    }


class RedisSpanExporter(SpanExporter):
    """Exports spans to Redis from the BatchSpanProcessor's thread (never on the RPC's own path)."""

    def __init__(self, url: str, service: str, keep: int):
        # no read timeout (a long Lua script holds Redis for seconds) and no retry (a span pushed twice)
        self._client = redis.Redis.from_url(url, socket_timeout=None, retry=Retry(NoBackoff(), 0))
        self._service = service
        self._keep = keep

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """One pipeline per batch (the index's size comes back in it); a trim only when the index has grown
        TRIM_SLACK past MMSIM_TRACE_KEEP, so a full index costs no extra round trips per batch."""
        try:
            pipe = self._client.pipeline(transaction=False)
            for span in spans:
                data = span_to_dict(span, self._service)
                key = keys.trace(data["trace_id"])
                pipe.rpush(key, json.dumps(data, separators=(",", ":")))
                pipe.ltrim(key, 0, SPANS_PER_TRACE - 1)
                pipe.expire(key, TRACE_TTL_S)
                pipe.zadd(keys.TRACE_INDEX, {data["trace_id"]: data["start_unix_ms"]}, nx=True)
                if data["entry"] and span.name in methods.FAULTS:
                    pipe.zadd(keys.TRACE_FAULT_INDEX, {data["trace_id"]: data["start_unix_ms"]}, nx=True)
            pipe.zcard(keys.TRACE_INDEX)
            extra = pipe.execute()[-1] - self._keep
            if extra > self._keep // TRIM_SLACK:
                self._trim(extra)
        except redis.RedisError:
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def _trim(self, extra: int) -> None:
        """Drop the ``extra`` oldest traces (ZPOPMIN takes them off the index in the same step)."""
        old = [tid for tid, _ in self._client.zpopmin(keys.TRACE_INDEX, extra)]
        pipe = self._client.pipeline()
        for tid in old:
            pipe.delete(keys.trace(tid.decode()))
        pipe.zrem(keys.TRACE_FAULT_INDEX, *old)
        pipe.execute()

    def shutdown(self) -> None:
        self._client.close()


UNTRACED_PREFIXES = ("/grpc.health.v1.", "/grpc.reflection.")


class SkipProbes(Sampler):
    """No spans for health checks and reflection: container and Kubernetes probes call Health/Check every few
    seconds, which would flood an OTLP backend and push the users' traces out of Redis' bounded index (so
    `mmsim trace last` would show a probe). No trace either for an inspection RPC (NO_SIDE_EFFECTS in its
    .proto: GetPage, stats, /proc files, GetTrace...) that arrives without a sampled parent: looking must not
    push what was looked at out of the index. Everything else: parent-based, always on."""

    def __init__(self):
        self._inner = ParentBased(ALWAYS_ON)

    def should_sample(self, parent_context, trace_id, name, kind=None, attributes=None, links=None, trace_state=None):
        if name.startswith(UNTRACED_PREFIXES):
            return SamplingResult(Decision.DROP)
        if methods.is_inspection(name) and not trace.get_current_span(parent_context).get_span_context().is_valid:
            return SamplingResult(Decision.DROP)
        return self._inner.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        return "SkipProbes{" + self._inner.get_description() + "}"


def setup(service: str, redis_url: str | None, keep: int, otlp_endpoint: str | None = None) -> TracerProvider:
    """Install this process's TracerProvider; spans go to Redis (and to OTLP when an endpoint is set)."""
    provider = make_provider(service, redis_url, keep, otlp_endpoint)
    trace.set_tracer_provider(provider)
    return provider


def make_provider(service: str, redis_url: str | None, keep: int, otlp_endpoint: str | None = None) -> TracerProvider:
    """A TracerProvider for one service (not installed globally: the in-process mode runs four)."""
    provider = TracerProvider(resource=Resource.create({"service.name": f"mmsim-{service}"}), sampler=SkipProbes())
    if redis_url:
        provider.add_span_processor(
            BatchSpanProcessor(RedisSpanExporter(redis_url, service, keep), schedule_delay_millis=20)
        )
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter  # noqa: PLC0415

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint, insecure=True)))
    return provider


def current_ids() -> tuple[str, str]:
    """(trace_id, span_id) of the current span as hex, or empty strings outside a span."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return "", ""
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


def annotate(**attrs) -> None:
    """Add key arguments or outcomes to the current RPC's span."""
    annotate_many(attrs)


def event(name: str, **attrs) -> None:
    """Record a span event on the current RPC's span ("lockdep", "lock_wait", "fallback", "retry")."""
    trace.get_current_span().add_event(name, {k: v if isinstance(v, (bool, int, float, str)) else str(v)
                                              for k, v in attrs.items()})


def annotate_many(attrs: dict) -> None:
    span = trace.get_current_span()
    for k, v in attrs.items():
        span.set_attribute(f"mmsim.{k}", v if isinstance(v, (bool, int, float, str)) else str(v))
