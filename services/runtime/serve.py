"""Server bootstrap shared by the four services: gRPC wiring, health, reflection, tracing, logging.

``run(name, register)`` is all a service's ``server.py`` calls. Each RPC passes through
``RpcInterceptor`` (inside OpenTelemetry's server interceptor, so the span is current), which:
- adopts the caller's memalloc scope from metadata (mmsim.runtime.scope);
- counts the handler's Redis round trips (mmsim.runtime.redis_client) and its calls to other services
  (mmsim.runtime.peers), and marks the span that entered the cluster (no ``mmsim-caller``);
- maps mmsim.runtime.errors to their gRPC status with the message unchanged;
- puts key arguments and the outcome on the span and writes one JSON log line.
On SIGTERM the health status turns NOT_SERVING, then the server drains and stops.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable

import grpc
import structlog
from google.protobuf.message import Message
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry import trace
from opentelemetry.instrumentation.grpc import aio_server_interceptor

from mmsim.allocator.gfp import format_gfp
from mmsim.runtime import config, logs, peers, redis_client, scope, tracing
from mmsim.runtime.errors import MMError
from mmsim.runtime.wire import gfp_from_proto

_STATUS_OK = "OK"
_SKIP_FIELDS = {"data", "payload"}


def describe(message: Message, prefix: str = "") -> dict[str, object]:
    """Scalar fields of a request/response (zeros included), enums by name, gfp masks as the kernel
    prints them; bulk bytes are left out (their length is given instead)."""
    out: dict[str, object] = {}
    for field in message.DESCRIPTOR.fields:
        name, value = prefix + field.name, getattr(message, field.name)
        if field.name in _SKIP_FIELDS:
            out[name + "_len"] = len(value)
        elif field.message_type is not None:
            if field.is_repeated or not message.HasField(field.name):
                continue
            out.update({name: gfp_text(value)} if field.message_type.name == "GfpMask" else describe(value, name + "."))
        elif field.enum_type is not None:
            values = value if field.is_repeated else [value]
            out[name] = "|".join(field.enum_type.values_by_number[v].name for v in values if v)
        elif not field.is_repeated:
            out[name] = value
    return out


def gfp_text(mask: Message) -> str:
    """GfpMask as the kernel's %pGg prints a gfp_t, e.g. 0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP)."""
    return format_gfp(gfp_from_proto(mask))


class RpcInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, service: str, log: structlog.stdlib.BoundLogger):
        self._service = service
        self._log = log

    async def intercept_service(self, continuation, details):
        handler = await continuation(details)
        if handler is None or handler.unary_unary is None or details.method.startswith("/grpc."):
            return handler
        behavior = handler.unary_unary
        method = details.method
        metadata = dict(details.invocation_metadata or ())
        memalloc, held = metadata.get(scope.METADATA_KEY), metadata.get(scope.HELD_LOCKS_KEY)
        entry = peers.CALLER_KEY not in metadata

        async def wrapped(request, context):
            scope.set_from_metadata(memalloc)
            scope.set_held_from_metadata(held)
            trips = redis_client.start_counting()
            calls = peers.start_counting_calls()
            started = time.perf_counter()
            status, message, response = _STATUS_OK, "", None
            try:
                response = await behavior(request, context)
                return response
            except MMError as exc:
                status, message = exc.code, exc.message
                await context.abort(grpc.StatusCode[exc.code], exc.message)
            except asyncio.CancelledError:
                status = "CANCELLED"
                raise
            except grpc.aio.AioRpcError as exc:  # a callee's status travels back unchanged
                status, message = exc.code().name, exc.details()
                await context.abort(exc.code(), exc.details())
            except grpc.aio.AbortError:
                status = context.code().name if context.code() else "ABORTED"
                raise
            except Exception as exc:  # noqa: BLE001 - logged with its traceback, reported as INTERNAL
                status, message = "INTERNAL", f"{type(exc).__name__}: {exc}"
                self._log.exception("rpc.internal_error", rpc=method)
                await context.abort(grpc.StatusCode.INTERNAL, message)
            finally:
                try:
                    tracing.annotate(child_calls=calls.count, entry=entry)
                    self._finish(method, request, response, status, message, trips.count, started)
                except Exception:  # noqa: BLE001 - observability must never fail the RPC
                    self._log.exception("rpc.annotate_failed", rpc=method)

        return grpc.unary_unary_rpc_method_handler(
            wrapped,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    def _finish(self, method, request, response, status, message, trips, started) -> None:
        span = trace.get_current_span()
        span_ctx = span.get_span_context()
        parent = getattr(span, "parent", None)
        args = describe(request)
        outcome = describe(response) if response is not None else {}
        memalloc = scope.encode(scope.current())
        tracing.annotate_many(args)
        tracing.annotate_many({f"out.{k}": v for k, v in outcome.items()})
        tracing.annotate_many({"redis_round_trips": trips, "memalloc_scope": memalloc} if memalloc else {"redis_round_trips": trips})
        self._log.info(
            "rpc",
            rpc=method,
            trace_id=format(span_ctx.trace_id, "032x") if span_ctx.is_valid else "",
            span_id=format(span_ctx.span_id, "016x") if span_ctx.is_valid else "",
            parent_span_id=format(parent.span_id, "016x") if parent else "",
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
            status=status,
            error=message or None,
            redis_round_trips=trips,
            memalloc_scope=memalloc or None,
            args=args,
            outcome=outcome,
        )


RegisterFn = Callable[[grpc.aio.Server, "Context"], list[str] | Awaitable[list[str]]]


class Context:
    """What a service's register function gets: settings, Redis, peers, logger."""

    def __init__(self, name: str, settings: config.Settings):
        self.name = name
        self.settings = settings
        self.redis = redis_client.connect(settings.redis_url)
        self.peers = peers.Peers(settings, caller=name)
        self.log = logs.setup(name, settings.log_level)

    async def close(self) -> None:
        await self.peers.close()
        await self.redis.aclose()


async def serve(name: str, register: RegisterFn, settings: config.Settings | None = None) -> None:
    settings = settings or config.load()
    ctx = Context(name, settings)
    provider = tracing.setup(name, settings.redis_url, settings.trace_keep, settings.otlp_endpoint)
    server = grpc.aio.server(interceptors=[aio_server_interceptor(), RpcInterceptor(name, ctx.log)])
    service_names = register(server, ctx)
    if inspect.isawaitable(service_names):  # register may be a coroutine (to prepare Redis state first)
        service_names = await service_names
    from mmsim.runtime.trace_service import register as register_trace  # noqa: PLC0415

    service_names += register_trace(server, ctx)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection([*service_names, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
    addr = settings.bind_addr(name)
    server.add_insecure_port(addr)
    await server.start()
    for svc in ["", *service_names]:
        await health_servicer.set(svc, health_pb2.HealthCheckResponse.SERVING)
    ctx.log.info("server.started", addr=addr, redis=settings.redis_url, services=service_names)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    ctx.log.info("server.stopping", addr=addr)
    await health_servicer.enter_graceful_shutdown()
    await server.stop(grace=5)
    provider.shutdown()
    await ctx.close()
    ctx.log.info("server.stopped", addr=addr)


def run(name: str, register: RegisterFn) -> None:
    """Entry point of ``python -m mmsim.<service>.server``.

    Once serve() has returned, RPCs are drained, spans flushed and Redis closed; the interpreter's own exit
    would then spend over a second in gRPC core's teardown, so the process leaves at once (`mmsim down`
    stops the whole stack in well under 2 s)."""
    asyncio.run(serve(name, register))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
