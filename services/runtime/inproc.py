"""The in-process mode (MMSIM_TRANSPORT=inproc): the four services in one process and one event loop.

Each service keeps its own Context (Redis client, boot epoch, request-id replies, logger) and its own
TracerProvider exporting to the same Redis, and its servicers are registered as on a gRPC server (the
generated ``add_*Servicer_to_server`` functions, on :class:`Registry`). What changes is the transport: a
call to a peer goes through the same ``Peers`` interface and the same generated stubs, over
:class:`InprocChannel`, which serializes the request with the stub's serializer, builds the metadata the
gRPC client interceptor would send (mmsim.runtime.peers.outgoing_metadata), and runs the callee's
handler behind the same server interceptors (OpenTelemetry's span, then serve.RpcInterceptor) in a fresh
context, as a new RPC would be served. A status travels back as a grpc.aio.AioRpcError, so the callers
cannot tell the difference: the same protos, the same Redis, the same spans (one per hop), the same
counters; only the gRPC hops' cost is gone. For experiments and benchmarks (``Cluster.inproc``,
``mmsim bench``): there is one process, so nothing here survives a crash of it.
"""

from __future__ import annotations

import asyncio
import contextvars
import importlib
import threading
from collections import namedtuple
from pathlib import Path

import grpc
import uvloop

from mmsim.runtime import config, logs, peers, serve, tracing

Metadatum = namedtuple("Metadatum", ("key", "value"))
HandlerCallDetails = namedtuple("HandlerCallDetails", ("method", "invocation_metadata"))

PEER = "unix:inproc"


class RpcStatusError(grpc.aio.AioRpcError):
    """A status from an in-process call (what grpc.aio raises for a call that did not end OK)."""

    def __init__(self, code: grpc.StatusCode, details: str, trailing_metadata=()):
        super().__init__(code, grpc.aio.Metadata(), grpc.aio.Metadata(*trailing_metadata), details)


class ServicerContext:
    """The part of grpc.aio.ServicerContext the services and the interceptors use."""

    def __init__(self, metadata: list[tuple[str, str]]):
        self._metadata = tuple(Metadatum(k, v) for k, v in metadata)
        self._code: grpc.StatusCode | None = None
        self._details = ""
        self._trailing: tuple = ()

    def invocation_metadata(self):
        return self._metadata

    def peer(self) -> str:
        return PEER

    async def abort(self, code: grpc.StatusCode, details: str = "", trailing_metadata=()):
        self._code, self._details = code, details
        if trailing_metadata:
            self._trailing = tuple(trailing_metadata)
        raise grpc.aio.AbortError()

    def set_code(self, code: grpc.StatusCode) -> None:
        self._code = code

    def code(self) -> grpc.StatusCode | None:
        return self._code

    def set_details(self, details: str) -> None:
        self._details = details

    def details(self) -> str:
        return self._details

    def set_trailing_metadata(self, metadata) -> None:
        self._trailing = tuple(metadata)

    def time_remaining(self) -> float | None:
        return None

    def cancelled(self) -> bool:
        return False

    def status(self) -> tuple[grpc.StatusCode, str, tuple]:
        return self._code or grpc.StatusCode.OK, self._details, self._trailing


class Registry:
    """What ``add_*Servicer_to_server`` registers on, for one service: method path -> handler, served behind
    that service's interceptors (the ones serve.serve gives its grpc.aio server)."""

    def __init__(self, interceptors: list[grpc.aio.ServerInterceptor]):
        self._interceptors = interceptors
        self._handlers: dict[str, grpc.RpcMethodHandler] = {}

    def add_generic_rpc_handlers(self, handlers) -> None:
        """The generated code registers every method again with add_registered_method_handlers."""

    def add_registered_method_handlers(self, service: str, handlers: dict[str, grpc.RpcMethodHandler]) -> None:
        for name, handler in handlers.items():
            self._handlers[f"/{service}/{name}"] = handler

    async def _intercepted(self, details: HandlerCallDetails, interceptors) -> grpc.RpcMethodHandler | None:
        interceptor = next(interceptors, None)
        if interceptor is None:
            return self._handlers.get(details.method)
        return await interceptor.intercept_service(lambda d: self._intercepted(d, interceptors), details)

    async def serve(self, method: str, request: bytes, metadata: list[tuple[str, str]]) -> bytes:
        """One RPC: the request's bytes in, the response's bytes out, RpcStatusError for any other status."""
        details = HandlerCallDetails(method, tuple(metadata))
        handler = await self._intercepted(details, iter(self._interceptors))
        if handler is None:
            raise RpcStatusError(grpc.StatusCode.UNIMPLEMENTED, f"Method not found: {method}")
        context = ServicerContext(metadata)
        try:
            response = await handler.unary_unary(handler.request_deserializer(request), context)
        except grpc.aio.AbortError:
            code, details_text, trailing = context.status()
            raise RpcStatusError(code, details_text, trailing) from None
        code, details_text, trailing = context.status()
        if code != grpc.StatusCode.OK:
            raise RpcStatusError(code, details_text, trailing)
        return handler.response_serializer(response)


class InprocStack:
    """The four services in the running event loop, wired to each other in-process."""

    def __init__(self, settings: config.Settings):
        self.settings = settings
        self.registries: dict[str, Registry] = {}
        self._addr_service = {addr: name for name, addr in settings.addrs.items()}
        self._contexts: list[serve.Context] = []
        self._providers = []
        self._tasks: list[asyncio.Task] = []
        self._log = None

    async def start(self) -> "InprocStack":
        s = self.settings
        logs = Path(s.state_dir) / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self._log = open(logs / "inproc.log", "a", buffering=1)   # noqa: SIM115 - closed in stop()
        for name in config.SERVICES:   # the allocator first: the others' start-up may allocate
            ctx = serve.Context(name, s, log_stream=self._log)
            ctx.peers = InprocPeers(self, name)
            provider = tracing.make_provider(name, s.redis_url, s.trace_keep, s.otlp_endpoint)
            registry = Registry(serve.interceptors(name, ctx, provider))
            register = importlib.import_module(f"mmsim.{name}.server").register
            health, names = await serve.start_services(ctx, register, registry)
            self._tasks += await serve.serving(ctx, health, names)
            self.registries[name] = registry
            self._contexts.append(ctx)
            self._providers.append(provider)
            ctx.log.info("server.started", transport="inproc", redis=s.redis_url, services=names,
                         boot_epoch=ctx.epoch.token.decode())
        return self

    def service_of(self, addr: str) -> str:
        if addr not in self._addr_service:
            raise RpcStatusError(grpc.StatusCode.UNAVAILABLE, f"no in-process service at {addr}")
        return self._addr_service[addr]

    async def call(self, service: str, method: str, request: bytes, metadata) -> bytes:
        """Serve one call in a fresh context (nothing of the caller's context vars leaks in: what travels
        is the metadata, as on the wire)."""
        task = asyncio.get_running_loop().create_task(self.registries[service].serve(method, request, list(metadata)),
                                                      context=contextvars.Context())
        return await task

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for ctx in self._contexts:
            await ctx.replies.retire()
            await ctx.close()
        for provider in self._providers:
            provider.shutdown()
        if self._log is not None:
            logs.redirect(None)   # its loggers outlive it: back to stdout before the file closes
            self._log.close()


class InprocChannel:
    """A channel to one in-process service: the generated stubs' ``unary_unary`` over InprocStack.call, with
    the metadata the gRPC client interceptor of ``caller`` would add (None: a client, which sends its own)."""

    def __init__(self, stack: InprocStack, service: str, caller: str | None):
        self._stack = stack
        self._service = service
        self._caller = caller

    def unary_unary(self, method, request_serializer=None, response_deserializer=None, _registered_method=False):
        method = method.decode() if isinstance(method, bytes) else method

        async def call(request, timeout=None, metadata=None, **_):
            md = (peers.outgoing_metadata(self._caller, method, request.SerializeToString(deterministic=True), metadata)
                  if self._caller else list(metadata or ()))
            reply = await self._stack.call(self._service, method, request_serializer(request), md)
            return response_deserializer(reply)

        return call

    async def close(self) -> None:
        """Nothing to close: the stack stops its services."""


class InprocPeers(peers.Peers):
    """Peers whose channels are in-process (the stubs, the trace stubs and CheckService's are the same)."""

    def __init__(self, stack: InprocStack, caller: str):
        super().__init__(stack.settings, caller)
        self._stack = stack

    def channel(self, addr: str) -> InprocChannel:
        if addr not in self._channels:
            self._channels[addr] = InprocChannel(self._stack, self._stack.service_of(addr), self._caller)
        return self._channels[addr]



class SyncChannel:
    """A blocking channel to one in-process service, for the synchronous client (mmsim.client.Cluster)."""

    def __init__(self, runner: "Runner", service: str):
        self._runner = runner
        self._service = service

    def unary_unary(self, method, request_serializer=None, response_deserializer=None, _registered_method=False):
        method = method.decode() if isinstance(method, bytes) else method

        def call(request, timeout=None, metadata=None, **_):
            coro = self._runner.stack.call(self._service, method, request_serializer(request), list(metadata or ()))
            return response_deserializer(self._runner.run(coro, timeout))

        return call

    def close(self) -> None:
        """Nothing to close: Runner.stop stops the services."""


class Runner:
    """An InprocStack on its own event loop (uvloop), driven from synchronous code: the thread that calls
    drives the loop itself (``run_until_complete``), so a call costs no handoff between threads (under load,
    each wake-up of another thread costs milliseconds: the GIL and the scheduler). Calls from several
    threads at once run concurrently on the loop: one of the callers drives it, the others wait for their
    result or for their turn to drive. Between calls the loop is idle: its timers (heartbeat, recovery
    passes) run at the next call."""

    def __init__(self, settings: config.Settings, timeout: float = 60.0):
        self._loop = uvloop.new_event_loop()
        self._turn = threading.Condition()
        self._driving = False
        self.stack = InprocStack(settings)
        try:
            self.run(self.stack.start(), timeout)
        except BaseException:
            self._loop.close()
            raise

    def run(self, coro, timeout: float | None = None):
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        while not future.done():
            with self._turn:
                if self._driving:
                    self._turn.wait_for(lambda: future.done() or not self._driving, timeout)
                    continue
                self._driving = True
            try:
                self._loop.run_until_complete(asyncio.wrap_future(future, loop=self._loop))
            except BaseException:   # the call's own outcome is in future (raised below)
                if not future.done():
                    raise
            finally:
                with self._turn:
                    self._driving = False
                    self._turn.notify_all()
        return future.result()

    def channel(self, service: str) -> SyncChannel:
        return SyncChannel(self, service)

    def stop(self) -> None:
        if not self._loop.is_closed():
            try:
                self.run(self.stack.stop(), 30)
            finally:
                self._loop.close()
