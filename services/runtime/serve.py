"""Server bootstrap shared by the four services: gRPC wiring, health, reflection, tracing, logging.

``run(name, register)`` is all a service's ``server.py`` calls. Each RPC passes through
``RpcInterceptor`` (inside OpenTelemetry's server interceptor, so the span is current), which:
- adopts the caller's memalloc scope from metadata (mmsim.runtime.scope);
- answers a retry of a mutating call (same ``mmsim-request-id``) with its first answer (mmsim.runtime.idempotency);
- refuses the call while the Redis state is lost (mmsim.runtime.epoch) and requests with undefined enum
  values (mmsim.runtime.validate);
- counts the handler's Redis round trips (mmsim.runtime.redis_client);
- maps mmsim.runtime.errors to their gRPC status with the message unchanged, and what the infrastructure
  causes (Redis unreachable, loading, busy, out of memory) to UNAVAILABLE / RESOURCE_EXHAUSTED: only a bug
  in mmsim itself is INTERNAL;
- counts the handler's calls to other services (mmsim.runtime.peers), and marks the span that entered the
  cluster (no ``mmsim-caller``);
- puts key arguments and the outcome on the span and writes one JSON log line.
Health turns NOT_SERVING when the boot epoch is lost (checked on every health Check and once a second), and on
SIGTERM, after which the server drains and stops.
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
import redis.exceptions
import uvloop
from google.protobuf.message import Message
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry import trace
from opentelemetry.instrumentation.grpc import aio_server_interceptor

from mmsim.allocator.gfp import format_gfp
from mmsim.runtime import channels, config, idempotency, logs, lua, peers, redis_client, scope, tracing
from mmsim.runtime.epoch import CHECK_INTERVAL_S, BootEpoch, StateLost
from mmsim.runtime.errors import MMError
from mmsim.runtime.validate import check_enums
from mmsim.runtime.wire import gfp_from_proto

_STATUS_OK = "OK"
_SKIP_FIELDS = {"data", "payload", "contents"}   # bulk bytes: their length is logged, not the bytes


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


def redis_status(exc: redis.exceptions.RedisError, redis_url: str) -> tuple[str, str] | None:
    """The status of a Redis failure the infrastructure caused (None: a bug of ours, INTERNAL)."""
    text = str(exc)
    if isinstance(exc, StateLost):
        return "FAILED_PRECONDITION", text
    if isinstance(exc, redis.exceptions.BusyLoadingError):
        return "UNAVAILABLE", f"Redis at {redis_url} is loading its data after a restart; retry: {text}"
    if isinstance(exc, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)):
        return "UNAVAILABLE", f"Redis at {redis_url} is unreachable ({type(exc).__name__}: {text}); retry"
    if isinstance(exc, redis.exceptions.ReadOnlyError) or text.startswith(("BUSY", "MASTERDOWN", "TRYAGAIN")):
        return "UNAVAILABLE", f"Redis at {redis_url} cannot take writes now ({text}); retry"
    if text.startswith("OOM"):
        return "RESOURCE_EXHAUSTED", f"Redis at {redis_url} is out of memory (maxmemory): {text}"
    return None


class RpcInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, service: str, ctx: "Context"):
        self._service = service
        self._ctx = ctx
        self._log = ctx.log

    async def _unexpected(self, exc: Exception, method: str) -> tuple[str, str]:
        """Status of an exception no layer mapped: the infrastructure's if it is to blame, else INTERNAL."""
        if isinstance(exc, redis.exceptions.RedisError):
            mapped = redis_status(exc, self._ctx.settings.redis_url)
            if mapped:
                if mapped[0] == "UNAVAILABLE":  # the idle pooled connections are as dead: the next call reconnects
                    await self._ctx.redis.connection_pool.disconnect(inuse_connections=False)
                return mapped
        try:  # half a state (an emptied Redis) makes scripts fail in ways no handler expects
            lost = await self._ctx.epoch.check(self._ctx.redis)
        except redis.exceptions.RedisError:
            lost = ""
        if lost:
            return "FAILED_PRECONDITION", lost
        self._log.exception("rpc.internal_error", rpc=method)
        return "INTERNAL", f"{type(exc).__name__}: {exc}"

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
            claimed = None
            try:
                self._ctx.epoch.require()
                check_enums(request)
                rid = idempotency.request_id_of(metadata, method)
                if rid is not None:
                    stored = await self._ctx.replies.claim(rid, method)
                    if stored is not None:
                        tracing.annotate(replayed_request_id=rid)
                        if stored.code != _STATUS_OK:
                            raise idempotency.Replayed(stored.code, stored.message)
                        response = idempotency.response_class(method).FromString(stored.response)
                        return response
                    claimed = rid
                response = await behavior(request, context)
                return response
            except MMError as exc:
                status, message = exc.code, exc.message
                errno = (("mmsim-errno", exc.errno),) if exc.errno else ()
                await context.abort(grpc.StatusCode[exc.code], exc.message, errno)
            except asyncio.CancelledError:
                status = "CANCELLED"
                raise
            except grpc.aio.AioRpcError as exc:  # a callee's status travels back unchanged
                status, message = exc.code().name, exc.details()
                await context.abort(exc.code(), exc.details())
            except grpc.aio.AbortError:
                status = context.code().name if context.code() else "ABORTED"
                raise
            except Exception as exc:  # noqa: BLE001 - mapped by _unexpected (INTERNAL is logged with its traceback)
                status, message = await self._unexpected(exc, method)
                await context.abort(grpc.StatusCode[status], message)
            finally:
                if claimed is not None:
                    await self._store(claimed, method, status, message, response)
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

    async def _store(self, rid: str, method: str, status: str, message: str, response) -> None:
        try:
            await self._ctx.replies.finish(rid, status, message, response)
        except redis.exceptions.RedisError:  # the lease expires; a retry then runs the call again
            self._log.warning("rpc.reply_not_stored", rpc=method, request_id=rid)

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


REASON_KEY = channels.NOT_SERVING_REASON_KEY


class EpochHealth(health.aio.HealthServicer):
    """grpc.health.v1 that checks the boot epoch on every Check (and once a second): once the Redis state is
    lost every service name turns NOT_SERVING, and Check carries the reason in trailing metadata
    ``mmsim-not-serving-reason`` (and as its status details)."""

    def __init__(self, ctx: "Context", names: list[str]):
        super().__init__()
        self._ctx = ctx
        self._names = names

    async def refresh(self) -> str:
        try:
            reason = await self._ctx.epoch.check(self._ctx.redis)
        except redis.exceptions.RedisError:  # unreachable: RPCs answer UNAVAILABLE; the state may be intact
            return ""
        if reason and self._ctx.epoch.token is not None:
            for name in self._names:
                await self.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        return reason

    async def Check(self, request, context):
        reason = await self.refresh()
        if reason:
            context.set_trailing_metadata(((REASON_KEY, reason),))
            context.set_details(reason)
        return await super().Check(request, context)

    async def watch_epoch(self) -> None:
        """Once a second: the boot epoch, and this instance's heartbeat (mmsim.runtime.idempotency)."""
        logged = False
        while True:
            await asyncio.sleep(CHECK_INTERVAL_S)
            try:
                await self._ctx.replies.heartbeat()
            except redis.exceptions.RedisError:
                pass  # unreachable: nothing can be claimed meanwhile either
            reason = await self.refresh()
            if reason and not logged:
                self._ctx.log.error("redis.state_lost", reason=reason)
                logged = True


RegisterFn = Callable[[grpc.aio.Server, "Context"], list[str] | Awaitable[list[str]]]


class Context:
    """What a service's register function gets: settings, Redis, peers, logger."""

    def __init__(self, name: str, settings: config.Settings, log_stream=None):
        self.name = name
        self.settings = settings
        self.epoch = BootEpoch(settings.redis_url)
        self.redis = redis_client.connect(settings.redis_url, on_connect=self.epoch.on_connect)
        self.replies = idempotency.Replies(self.redis, settings.request_lease_s * 1000, settings.request_ttl_s * 1000)
        self.peers = peers.Peers(settings, caller=name)
        self.log = logs.setup(name, settings.log_level, log_stream)
        self.checker = None   # async def check(report): this service's CheckService domain (mmsim.runtime.debug_vm)
        from mmsim.runtime.debug_vm import ledger_pass  # noqa: PLC0415

        self.recovery = [ledger_pass(self)]   # recovery passes, run at start, periodically and on Recover
        self.on_close: list[Callable[[], Awaitable[None]]] = []   # stop what the service started (kswapd)

    async def close(self) -> None:
        """Stop the service's own tasks (``on_close``), then its peers' channels and its Redis client."""
        for stop in self.on_close:
            await stop()
        await self.peers.close()
        await self.redis.aclose()


def interceptors(name: str, ctx: Context, provider) -> list[grpc.aio.ServerInterceptor]:
    """The server interceptors of every RPC, outermost first: OpenTelemetry's span, then RpcInterceptor."""
    return [aio_server_interceptor(tracer_provider=provider), RpcInterceptor(name, ctx)]


async def start_services(ctx: Context, register: RegisterFn, server) -> tuple[EpochHealth, list[str]]:
    """Adopt the boot epoch and register the service's servicers (with TraceService, CheckService and
    Health) on ``server``: a grpc.aio.Server, or mmsim.runtime.inproc's in-process registry."""
    await ctx.epoch.adopt(ctx.redis)
    await ctx.replies.heartbeat()
    service_names = register(server, ctx)
    if inspect.isawaitable(service_names):  # register may be a coroutine (to prepare Redis state first)
        service_names = await service_names
    from mmsim.runtime.trace_service import register as register_trace  # noqa: PLC0415

    from mmsim.runtime import debug_vm  # noqa: PLC0415

    service_names += register_trace(server, ctx)
    service_names += debug_vm.register(server, ctx)
    await lua.preload(ctx.redis)   # every script of the process, before the first call
    health_servicer = EpochHealth(ctx, ["", *service_names])
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    return health_servicer, service_names


async def serving(ctx: Context, health_servicer: EpochHealth, service_names: list[str]) -> list[asyncio.Task]:
    """Mark every service SERVING; start the epoch watcher (with the heartbeat) and the recovery passes."""
    from mmsim.runtime import debug_vm  # noqa: PLC0415

    for svc in ["", *service_names]:
        await health_servicer.set(svc, health_pb2.HealthCheckResponse.SERVING)
    return [asyncio.create_task(health_servicer.watch_epoch()), asyncio.create_task(debug_vm.recovery_loop(ctx))]


async def serve(name: str, register: RegisterFn, settings: config.Settings | None = None) -> None:
    settings = settings or config.load()
    ctx = Context(name, settings)
    provider = tracing.setup(name, settings.redis_url, settings.trace_keep, settings.otlp_endpoint)
    # no SO_REUSEPORT (gRPC's default on Linux): a second server on a port already served must fail to bind,
    # not share it with the first, which would get half of the other service's calls (UNIMPLEMENTED)
    server = grpc.aio.server(interceptors=interceptors(name, ctx, provider), options=[("grpc.so_reuseport", 0)])
    health_servicer, service_names = await start_services(ctx, register, server)
    reflection.enable_server_reflection([*service_names, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
    addr = settings.bind_addr(name)
    server.add_insecure_port(addr)
    await server.start()
    tasks = await serving(ctx, health_servicer, service_names)
    ctx.log.info("server.started", addr=addr, redis=settings.redis_url, services=service_names,
                 boot_epoch=ctx.epoch.token.decode())

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    ctx.log.info("server.stopping", addr=addr)
    for task in tasks:
        task.cancel()
    await health_servicer.enter_graceful_shutdown()
    await server.stop(grace=5)
    await ctx.replies.retire()
    provider.shutdown()
    await ctx.close()
    ctx.log.info("server.stopped", addr=addr)


def run(name: str, register: RegisterFn) -> None:
    """Entry point of ``python -m mmsim.<service>.server``, on uvloop (libuv's event loop: its callbacks and
    socket reads cost a fraction of asyncio's default selector loop on the fault path).

    Once serve() has returned, RPCs are drained, spans flushed and Redis closed; the interpreter's own exit
    would then spend over a second in gRPC core's teardown, so the process leaves at once (`mmsim down`
    stops the whole stack in well under 2 s)."""
    uvloop.run(serve(name, register))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
