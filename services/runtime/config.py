"""The one place that reads mmsim's environment variables.

Every process (services, CLI, client, tests) builds a :class:`Settings` through :func:`load`;
nothing else in the tree reads ``os.environ`` for configuration.

| variable                    | default                 | meaning                                          |
|-----------------------------|-------------------------|--------------------------------------------------|
| MMSIM_REDIS_URL             | redis://127.0.0.1:6390/0 | the Redis that holds all state                   |
| MMSIM_HOST                  | 127.0.0.1               | address the services bind to (port from its ADDR) |
| MMSIM_SERVICE               | (unset)                 | which service this container runs (health check) |
| MMSIM_ALLOCATOR_ADDR        | 127.0.0.1:50061         | PageAllocatorService                             |
| MMSIM_PAGECACHE_ADDR        | 127.0.0.1:50062         | PageCacheService                                 |
| MMSIM_FILESYSTEM_ADDR       | 127.0.0.1:50063         | FilesystemService                                |
| MMSIM_RMAP_ADDR             | 127.0.0.1:50064         | ReverseMapService                                |
| MMSIM_STATE_DIR             | ./.mmsim                | pid files and JSON logs of ``mmsim up``          |
| MMSIM_MEMORY                | 256MiB                  | simulated physical memory (suffixes KiB..GiB)    |
| MMSIM_NUMA_NODES            | 1                       | NUMA nodes the memory is split across            |
| MMSIM_MOVABLE               | 0                       | memory given to ZONE_MOVABLE (like movablecore=) |
| MMSIM_PROFILE               | lsfmm2018               | default semantics profile (see profiles)         |
| MMSIM_XA_CHUNK_SHIFT        | 6                       | XArray node fan-out is 2**shift (2..6)           |
| MMSIM_FAULT_AROUND_BYTES    | 65536                   | debugfs fault_around_bytes (4096 = off)          |
| MMSIM_RECLAIM               | 1                       | 1: page reclaim (kswapd, direct reclaim, compaction, the OOM killer), as the kernel does; 0: switched off, a full machine just fails allocations (for experiments that want to see that) |
| MMSIM_COMPACTION            | 1                       | 1: direct compaction for high orders when reclaim is on (migrates movable pages to free a block); 0: off, as CONFIG_COMPACTION=n |
| MMSIM_DIRTY_RATIO           | 20                      | vm.dirty_ratio: % of memory a writer may leave dirty before it writes back (100 = never) |
| MMSIM_TRACE_KEEP            | 2000                    | traces kept in Redis (oldest dropped)            |
| MMSIM_REQUEST_TTL_S         | 600                     | how long a request id's first answer is kept     |
| MMSIM_REQUEST_LEASE_S       | 120                     | a running attempt's claim on its request id      |
| MMSIM_LOG_LEVEL             | info                    | structlog level                                  |
| MMSIM_LOCK_LEASE_MS         | 15000                   | lease of a sleeping lock (i_rwsem, invalidate_lock); renewed by every fenced step |
| MMSIM_LOCK_WAIT_S           | 60                      | longest wait for a contended lock before UNAVAILABLE |
| MMSIM_LEDGER_DEADLINE_MS    | 60000                   | an in-flight allocation older than this is abandoned |
| MMSIM_RECOVERY_INTERVAL_S   | 30                      | every service's recovery passes (abandoned allocations; the filesystem's interrupted operations) run this often (0 = only at start) |
| MMSIM_FAULT_INJECT          | (unset)                 | test only: SIGKILL this process at the named step (e.g. truncate:i_size) |
| MMSIM_TRANSPORT             | grpc                    | how a client reaches the services: grpc, or inproc (the four run inside the client's process, wired by direct calls; for experiments and benchmarks) |
| OTEL_EXPORTER_OTLP_ENDPOINT | (unset)                 | also export spans over OTLP/gRPC (e.g. Jaeger)   |
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace

_SIZE_RE = re.compile(r"^\s*(\d+)\s*([KMGT]i?B?|B)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}

SERVICES = ("allocator", "pagecache", "filesystem", "rmap")
TRANSPORTS = ("grpc", "inproc")


def parse_size(text: str) -> int:
    """Parse '4GiB', '512M', '65536' into bytes."""
    m = _SIZE_RE.match(text)
    if not m:
        raise ValueError(f"not a size: {text!r} (expected e.g. 256MiB, 4GiB, 65536)")
    unit = (m.group(2) or "").upper()[:1]
    return int(m.group(1)) * _UNITS[unit]


@dataclass(frozen=True)
class Settings:
    redis_url: str = "redis://127.0.0.1:6390/0"
    host: str = "127.0.0.1"
    addrs: dict[str, str] = field(
        default_factory=lambda: {
            "allocator": "127.0.0.1:50061",
            "pagecache": "127.0.0.1:50062",
            "filesystem": "127.0.0.1:50063",
            "rmap": "127.0.0.1:50064",
        }
    )
    state_dir: str = ".mmsim"
    memory_bytes: int = 256 << 20
    numa_nodes: int = 1
    movable_bytes: int = 0
    profile: str = "lsfmm2018"
    xa_chunk_shift: int = 6
    fault_around_bytes: int = 65536
    dirty_ratio: int = 20
    reclaim: bool = True
    compaction: bool = True
    trace_keep: int = 2000
    request_ttl_s: int = 600
    request_lease_s: int = 120
    log_level: str = "info"
    ledger_deadline_ms: int = 60000
    recovery_interval_s: float = 30.0
    otlp_endpoint: str = ""
    service: str = ""
    lock_lease_ms: int = 15000
    lock_wait_s: float = 60.0
    fault_inject: str = ""
    transport: str = "grpc"

    def with_addrs(self, **addrs: str) -> "Settings":
        return replace(self, addrs={**self.addrs, **addrs})

    def with_target(self, target: str) -> "Settings":
        """The services at ``target`` (the CLI's --target/--addr, Cluster.connect(target=)): a HOST whose
        services listen on their usual ports (a compose or k8s stack), or "SERVICE=HOST:PORT,..." for each
        address; "" = these settings. ValueError names a malformed part."""
        if not target:
            return self
        if "=" not in target:
            return self.with_addrs(**{name: f"{target}:{addr.rsplit(':', 1)[1]}" for name, addr in self.addrs.items()})
        addrs = {}
        for part in target.split(","):
            name, _, addr = part.partition("=")
            if name.strip() not in self.addrs or ":" not in addr:
                raise ValueError(f"target part {part!r} must be SERVICE=HOST:PORT with SERVICE one of "
                                 f"{', '.join(self.addrs)}")
            addrs[name.strip()] = addr.strip()
        return self.with_addrs(**addrs)

    def bind_addr(self, name: str) -> str:
        """Where service ``name`` listens: MMSIM_HOST with the port of its MMSIM_<NAME>_ADDR."""
        return f"{self.host}:{self.addrs[name].rsplit(':', 1)[1]}"

    def env(self) -> dict[str, str]:
        """The environment that reproduces these settings in a child process."""
        out = {
            "MMSIM_REDIS_URL": self.redis_url,
            "MMSIM_HOST": self.host,
            "MMSIM_STATE_DIR": self.state_dir,
            "MMSIM_MEMORY": str(self.memory_bytes),
            "MMSIM_NUMA_NODES": str(self.numa_nodes),
            "MMSIM_MOVABLE": str(self.movable_bytes),
            "MMSIM_PROFILE": self.profile,
            "MMSIM_XA_CHUNK_SHIFT": str(self.xa_chunk_shift),
            "MMSIM_FAULT_AROUND_BYTES": str(self.fault_around_bytes),
            "MMSIM_DIRTY_RATIO": str(self.dirty_ratio),
            "MMSIM_RECLAIM": str(int(self.reclaim)),
            "MMSIM_COMPACTION": str(int(self.compaction)),
            "MMSIM_TRACE_KEEP": str(self.trace_keep),
            "MMSIM_REQUEST_TTL_S": str(self.request_ttl_s),
            "MMSIM_REQUEST_LEASE_S": str(self.request_lease_s),
            "MMSIM_LOG_LEVEL": self.log_level,
            "MMSIM_LOCK_LEASE_MS": str(self.lock_lease_ms),
            "MMSIM_LOCK_WAIT_S": str(self.lock_wait_s),
            "MMSIM_LEDGER_DEADLINE_MS": str(self.ledger_deadline_ms),
            "MMSIM_RECOVERY_INTERVAL_S": str(self.recovery_interval_s),
        }
        if self.transport != "grpc":
            out["MMSIM_TRANSPORT"] = self.transport
        if self.fault_inject:
            out["MMSIM_FAULT_INJECT"] = self.fault_inject
        if self.otlp_endpoint:
            out["OTEL_EXPORTER_OTLP_ENDPOINT"] = self.otlp_endpoint
        for name, addr in self.addrs.items():
            out[f"MMSIM_{name.upper()}_ADDR"] = addr
        return out


def load(environ: dict[str, str] | None = None) -> Settings:
    """Build Settings from the environment (``os.environ`` unless given)."""
    env = os.environ if environ is None else environ
    base = Settings()
    addrs = {name: env.get(f"MMSIM_{name.upper()}_ADDR", base.addrs[name]) for name in SERVICES}
    shift = int(env.get("MMSIM_XA_CHUNK_SHIFT", base.xa_chunk_shift))
    if not 2 <= shift <= 6:
        raise ValueError(f"MMSIM_XA_CHUNK_SHIFT must be 2..6, got {shift}")
    transport = env.get("MMSIM_TRANSPORT", base.transport)
    if transport not in TRANSPORTS:
        raise ValueError(f"MMSIM_TRANSPORT must be one of {', '.join(TRANSPORTS)}, got {transport!r}")
    return Settings(
        redis_url=env.get("MMSIM_REDIS_URL", base.redis_url),
        host=env.get("MMSIM_HOST", base.host),
        addrs=addrs,
        state_dir=env.get("MMSIM_STATE_DIR", base.state_dir),
        memory_bytes=parse_size(env.get("MMSIM_MEMORY", str(base.memory_bytes))),
        numa_nodes=int(env.get("MMSIM_NUMA_NODES", base.numa_nodes)),
        movable_bytes=parse_size(env.get("MMSIM_MOVABLE", str(base.movable_bytes))),
        profile=env.get("MMSIM_PROFILE", base.profile),
        xa_chunk_shift=shift,
        fault_around_bytes=parse_size(env.get("MMSIM_FAULT_AROUND_BYTES", str(base.fault_around_bytes))),
        dirty_ratio=int(env.get("MMSIM_DIRTY_RATIO", base.dirty_ratio)),
        reclaim=env.get("MMSIM_RECLAIM", str(int(base.reclaim))) == "1",
        compaction=env.get("MMSIM_COMPACTION", str(int(base.compaction))) == "1",
        trace_keep=int(env.get("MMSIM_TRACE_KEEP", base.trace_keep)),
        request_ttl_s=int(env.get("MMSIM_REQUEST_TTL_S", base.request_ttl_s)),
        request_lease_s=int(env.get("MMSIM_REQUEST_LEASE_S", base.request_lease_s)),
        log_level=env.get("MMSIM_LOG_LEVEL", base.log_level),
        ledger_deadline_ms=int(env.get("MMSIM_LEDGER_DEADLINE_MS", base.ledger_deadline_ms)),
        recovery_interval_s=float(env.get("MMSIM_RECOVERY_INTERVAL_S", base.recovery_interval_s)),
        otlp_endpoint=env.get("OTEL_EXPORTER_OTLP_ENDPOINT", base.otlp_endpoint),
        service=env.get("MMSIM_SERVICE", base.service),
        lock_lease_ms=int(env.get("MMSIM_LOCK_LEASE_MS", base.lock_lease_ms)),
        lock_wait_s=float(env.get("MMSIM_LOCK_WAIT_S", base.lock_wait_s)),
        fault_inject=env.get("MMSIM_FAULT_INJECT", base.fault_inject),
        transport=transport,
    )
