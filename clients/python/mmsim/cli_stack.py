"""`mmsim up / down / status / reset / demo / bench`: the stack's lifecycle and the canned runs."""

from __future__ import annotations

import contextlib
from typing import Annotated

from mmsim.cli_base import (EXIT_ERROR, EXIT_USAGE, Out, app, command, connect, fail, group, number, opt, remote,
                            settings, table)


def _local_settings():
    from mmsim.runtime import config  # noqa: PLC0415

    return config.load()


@command(app, "up", panel="Stack")
def up() -> Out:
    """Start redis-server and the four services in the background (pid files and logs in MMSIM_STATE_DIR).

    Example: mmsim up
    """
    from mmsim import errors, stack  # noqa: PLC0415

    settings = _local_settings()
    try:
        started = stack.up(settings)
    except stack.StackError as exc:      # a busy port, a service that died: up stopped what it started
        raise errors.FailedPrecondition(str(exc)) from None
    rows = stack.status(settings)
    for row in rows:
        row["started"] = row["name"] in started
    text = table(["service", "address", "pid", "health", "", "log"],
                 [[r["name"], r["addr"], r["pid"] or "-", r["health"], "started" if r["started"] else "running",
                   r["log"]] for r in rows])
    note = f"profile {settings.profile}; memory {settings.memory_bytes >> 20} MiB; stop with `mmsim down`"
    return Out({"services": rows, "profile": settings.profile, "memory_bytes": settings.memory_bytes},
               text, notes=[note])


@command(app, "down", panel="Stack")
def down() -> Out:
    """Stop what `mmsim up` started, by the PIDs in its pid files.

    Example: mmsim down
    """
    from mmsim import stack  # noqa: PLC0415

    stopped = stack.down(_local_settings())
    return Out({"stopped": stopped}, "stopped: " + (", ".join(stopped) if stopped else "nothing was running"))


@command(app, "status", panel="Stack")
def status() -> Out:
    """Each service's address, grpc.health.v1 status and, when it is not SERVING, why (the service's own
    reason, e.g. its Redis state was lost; or what the connection said); the semantics profile. Exit 1
    unless all serve.

    Against a stack given by --target/--addr only the services are asked (Redis sits behind them, and no
    local pid file says anything about it).

    Example: mmsim status; mmsim --target 127.0.0.1 status --json
    """
    from mmsim import stack  # noqa: PLC0415
    from mmsim.runtime import profiles  # noqa: PLC0415

    where = settings()
    if remote():
        rows = [{"name": n, "addr": where.addrs[n], "pid": None, "health": state, "reason": reason}
                for n, (state, reason) in stack.health_reasons(where.addrs).items()]
    else:
        rows = stack.status(where)
    prof = profiles.get(where.profile).to_dict()
    text = lambda: table(["service", "address", "pid", "health", "reason"],  # noqa: E731  (--json needs no rich)
                         [[r["name"], r["addr"], r["pid"] or "-", r["health"], r["reason"]] for r in rows])
    serving = all(r["health"] == "SERVING" for r in rows)
    notes = [] if serving else ["not everything is SERVING: start the stack with `mmsim up` "
                                "(or point at another with --target HOST)"]
    notes.append("profile " + " ".join(f"{k}={v}" for k, v in prof.items()))
    return Out({"profile": prof, "services": rows}, text, 0 if serving else EXIT_ERROR, notes=notes)


@command(app, "reset", panel="Stack")
def reset() -> Out:
    """Flush the simulated machine: no filesystems, files or processes; memory all free (the stack keeps running).

    Example: mmsim reset
    """
    with connect() as mm:
        r = mm.reset()
    return Out(r.to_dict(), f"reset: an empty machine ({r.keys_deleted} keys deleted, {r.free_pages} pages free "
                            f"on {r.nodes} node(s))")


@command(app, "demo", panel="Stack")
def demo() -> Out:
    """Start a private stack on free ports, fault a file mapping (a major fault, then a minor one), print the
    traces, stop.

    Example: mmsim demo
    """
    from mmsim.demo import run  # noqa: PLC0415

    return Out({"exit_code": run()}, "")


bench_app = group("bench", "Benchmarks that print figures (ratios against a baseline measured in the same run).", "Stack")


@contextlib.contextmanager
def _bench_cluster(here: bool):
    """(Cluster, its Redis URL) for a bench command: the stack this command points at (``--here``, or
    --target, whose Redis is not this client's: URL None), else a private stack on free ports."""
    if here or remote():
        with connect() as mm:
            yield mm, None if remote() else mm.settings.redis_url
    else:
        from mmsim import stack  # noqa: PLC0415
        from mmsim.client import Cluster  # noqa: PLC0415

        with stack.private(prefix="mmsim-bench-") as settings, Cluster.connect(settings) as mm:
            yield mm, settings.redis_url


@command(bench_app, "fault")
def bench_fault(
    faults: Annotated[int, opt("faults of each kind (major, minor), at least 1 (e.g. 200)", "--faults",
                               parser=number(1, 100_000), metavar="N")] = 200,
    here: Annotated[bool, opt("run against the stack this command points at (MMSIM_*_ADDR, --target) "
                              "instead of a private one on free ports", "--here")] = False,
) -> Out:
    """p50/p99 of major and minor faults against an echo chain of the same hops and Redis round trips.

    x echo: the fault's p50 over the echo's (PINGs); x echo+w: over the echo whose round trips are durable
    writes (the AOF's fsync paid, as by the fault's scripts); lua us: Redis time in the fault's scripts
    (INFO commandstats of the stack's Redis; not shown for a stack reached by --target).

    Example: mmsim bench fault --faults 100; mmsim --target 127.0.0.1 bench fault --here
    """
    from mmsim import bench  # noqa: PLC0415

    with _bench_cluster(here) as (mm, redis_url):
        rows = bench.bench_fault(mm, faults, redis_url)
    text = table(["what", "n", "p50 ms", "p99 ms", "per s", "hops", "redis", "lua us", "x echo", "x echo+w"],
                 [[r["label"], r["n"], f"{r['p50_ms']:.2f}", f"{r['p99_ms']:.2f}", f"{r['per_s']:.0f}", r["hops"],
                   r["redis"], "" if r.get("lua_us") is None else f"{r['lua_us']:.0f}",
                   f"{r['ratio']:.2f}" if "ratio" in r else "",
                   f"{r['ratio_writes']:.2f}" if "ratio_writes" in r else ""] for r in rows])
    return Out(rows, text)


@command(bench_app, "scripts")
def bench_scripts(
    faults: Annotated[int, opt("faults of each kind (major, minor), 1 to 1000 (e.g. 50)", "--faults",
                               parser=number(1, 1000), metavar="N")] = 50,
    here: Annotated[bool, opt("run against the stack this command points at (MMSIM_*_ADDR, its MMSIM_REDIS_URL) "
                              "instead of a private one on free ports", "--here")] = False,
) -> Out:
    """Where a fault's Redis time goes, script by script: calls per fault, p50 of one call (us), us per fault,
    redis.call per call, and its libraries' top level (what each call pays to define them again).

    SLOWLOG of every command of the stack's Redis while the faults run (its settings come back after); not
    for a stack reached by --target, whose Redis is not this client's to configure.

    Example: mmsim bench scripts --faults 50
    """
    from mmsim import bench  # noqa: PLC0415

    if remote():
        raise fail("bench scripts reads the stack's Redis (SLOWLOG), which --target does not reach: run it on "
                   "the stack's host with --here", EXIT_USAGE)
    with _bench_cluster(here) as (mm, redis_url):
        rows = bench.bench_scripts(mm, faults, redis_url)

    def num(r, k, f):
        return "" if r.get(k) is None else format(r[k], f)

    text = table(["fault", "script", "calls", "p50 us", "us/fault", "redis.call", "top level us"],
                 [[r["fault"], r["script"], num(r, "calls", ".2f"), num(r, "p50_us", ".0f"),
                   num(r, "us_per_fault", ".0f"), num(r, "redis_calls", ".1f"), num(r, "top_level_us", ".0f")]
                  for r in rows])
    return Out(rows, text)

