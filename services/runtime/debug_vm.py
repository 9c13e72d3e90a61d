"""CheckService, served by every service: its domain's invariants (CONFIG_DEBUG_VM), and its recovery passes.

Each service's ``register`` sets ``ctx.checker`` to an ``async def check(report)`` over its own keys (the
allocator: buddy lists, struct pages, page_owner, the in-flight ledger; the page cache: every mapping's
XArray; the filesystem: block reference counts and unlinked files; the reverse map: PTEs against
_mapcount/_refcount). ``Check(cluster=true)`` on any service is the one entry point: it asks every service
(``Check(cluster=false)`` over gRPC) and merges, then applies the cross-domain rule no single service can
see (``mapcount_total``: the pages' _mapcount sum equals the PTEs that raised them).

Recovery passes (``ctx.recovery``, a list of ``async def pass_(older_than_ms) -> pages``) run at start, then
every MMSIM_RECOVERY_INTERVAL_S seconds, and on ``Recover``. Every service has the ledger pass (the
allocator's reclaim of abandoned in-flight allocations: mmsim.allocator.buddy.reclaim_ledger); other
mechanisms (intents of interrupted truncates, a restarted Redis) append their own.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import asdict, dataclass, field

from redis.exceptions import RedisError

from mmsim.runtime import config
from mmsim.runtime.errors import MMError, require
from mmsim.runtime.kthread import Kthreads
from mmsim.v1 import check_pb2, check_pb2_grpc

DEFAULT_MAX_VIOLATIONS = 1000


@dataclass
class Violation:
    rule: str
    service: str
    pfn: int = -1
    key: str = ""
    message: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Report:
    """What one domain check found: violations (at most ``limit``), pages per owner, objects checked."""

    service: str
    limit: int = DEFAULT_MAX_VIOLATIONS
    violations: list[Violation] = field(default_factory=list)
    owners: Counter = field(default_factory=Counter)
    checked: Counter = field(default_factory=Counter)
    truncated: bool = False

    def add(self, rule: str, message: str, pfn: int = -1, key: str = "") -> None:
        if len(self.violations) >= self.limit:
            self.truncated = True
            return
        self.violations.append(Violation(rule, self.service, pfn, key, message))

    def to_proto(self) -> check_pb2.CheckResponse:
        return check_pb2.CheckResponse(
            violations=[check_pb2.Violation(**v.to_dict()) for v in self.violations], owners=dict(self.owners),
            checked=dict(self.checked), services=[self.service], truncated=self.truncated)


def ledger_pass(ctx):
    """The in-flight ledger's recovery pass over ``ctx``'s Redis (any service can run it)."""
    from mmsim.allocator.buddy import BuddyAllocator  # noqa: PLC0415 - the allocator's Lua, shared by all
    from mmsim.allocator.zones import Layout  # noqa: PLC0415

    s = ctx.settings
    buddy = BuddyAllocator(ctx.redis, Layout.build(s.memory_bytes, s.numa_nodes, s.movable_bytes), comm=ctx.name)

    async def reclaim(older_than_ms: int) -> int:
        return await buddy.reclaim_ledger(older_than_ms or s.ledger_deadline_ms)

    return reclaim


async def run_recovery(ctx, older_than_ms: int = 0) -> int:
    pages = 0
    for pass_ in ctx.recovery:
        pages += await pass_(older_than_ms)
    return pages


async def recovery_loop(ctx) -> None:
    """At start, then every recovery_interval_s: every recovery pass; a Redis outage is logged, not fatal."""
    while True:
        try:
            await run_recovery(ctx)
        except (RedisError, MMError, OSError) as exc:
            ctx.log.warning("recovery.failed", error=f"{type(exc).__name__}: {exc}")
        if ctx.settings.recovery_interval_s <= 0:
            return
        await asyncio.sleep(ctx.settings.recovery_interval_s)


def merge(reports: list[check_pb2.CheckResponse], limit: int) -> check_pb2.CheckResponse:
    out = check_pb2.CheckResponse()
    owners, checked = Counter(), Counter()
    for r in reports:
        out.violations.extend(r.violations[: max(0, limit - len(out.violations))])
        out.truncated |= r.truncated or len(out.violations) + len(r.violations) > limit
        owners.update(dict(r.owners))
        checked.update(dict(r.checked))
        out.services.extend(r.services)
    if "mapped_pages" in checked and "ptes_raising_mapcount" in checked and \
            checked["mapped_pages"] != checked["ptes_raising_mapcount"]:
        out.violations.append(check_pb2.Violation(
            rule="mapcount_total", service="cluster", pfn=-1,
            message=f"struct pages say {checked['mapped_pages']} mappings (sum of _mapcount + 1), the page tables "
                    f"hold {checked['ptes_raising_mapcount']} PTEs that raised a _mapcount"))
    out.owners.update(dict(owners))
    out.checked.update(dict(checked))
    return out


class CheckServicer(check_pb2_grpc.CheckServiceServicer):
    def __init__(self, ctx):
        self._ctx = ctx

    async def _local(self, limit: int) -> check_pb2.CheckResponse:
        report = Report(self._ctx.name, limit)
        checker = getattr(self._ctx, "checker", None)
        if checker is not None:
            await checker(report)
        return report.to_proto()

    async def Check(self, request, context):
        limit = request.max_violations or DEFAULT_MAX_VIOLATIONS
        require(limit <= 100000, f"max_violations must be at most 100000, got {request.max_violations}")
        if not request.cluster:
            return await self._local(limit)
        # kswapd parked first (mmsim.runtime.kthread): the domains are read in many round trips, none of them
        # between a reclaim pass's unmap and its free (a gRPC call starts when it is made: made inside)
        async with Kthreads(self._ctx.redis, self._ctx.settings.lock_lease_ms).parked("check"):
            calls = []
            for name in config.SERVICES:
                if name == self._ctx.name:
                    calls.append(self._local(limit))
                else:
                    stub = check_pb2_grpc.CheckServiceStub(self._ctx.peers.channel(self._ctx.settings.addrs[name]))
                    calls.append(stub.Check(check_pb2.CheckRequest(cluster=False, max_violations=limit)))
            reports = await asyncio.gather(*calls)   # a peer's status (UNAVAILABLE...) travels back unchanged
        return merge(list(reports), limit)

    async def Recover(self, request, context):
        require(request.older_than_ms >= 0, f"older_than_ms must be >= 0, got {request.older_than_ms}")
        if not request.cluster:
            return check_pb2.RecoverResponse(pages_reclaimed=await run_recovery(self._ctx, request.older_than_ms))
        calls = []
        for name in config.SERVICES:
            if name == self._ctx.name:
                calls.append(run_recovery(self._ctx, request.older_than_ms))
            else:
                stub = check_pb2_grpc.CheckServiceStub(self._ctx.peers.channel(self._ctx.settings.addrs[name]))
                calls.append(self._remote_recover(stub, request.older_than_ms))
        return check_pb2.RecoverResponse(pages_reclaimed=sum(await asyncio.gather(*calls)))

    @staticmethod
    async def _remote_recover(stub, older_than_ms: int) -> int:
        return (await stub.Recover(check_pb2.RecoverRequest(older_than_ms=older_than_ms))).pages_reclaimed


def register(server, ctx) -> list[str]:
    check_pb2_grpc.add_CheckServiceServicer_to_server(CheckServicer(ctx), server)
    return [check_pb2.DESCRIPTOR.services_by_name["CheckService"].full_name]
