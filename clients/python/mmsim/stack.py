"""Start, watch and stop the local stack: one redis-server and the four services, as processes.

Every process's PID goes into ``STATE_DIR/pids/NAME.pid`` and its output into ``STATE_DIR/logs/NAME.log``
(JSON lines for the services). ``down`` signals exactly those PIDs, all at once (SIGTERM, then SIGKILL
after a short grace period), services before Redis; nothing is ever stopped by name, and a pid file whose
PID now belongs to another program is ignored. ``up`` checks every port it is about to listen on first and
fails at once, naming the port and what it was for, when one is busy; when a process it started dies
during start-up it stops everything it started and raises with the end of that process's log. A PID is
alive only if it is not a zombie: our own exited children are reaped (``kill(pid, 0)`` succeeds on an
unreaped zombie) and /proc/PID/stat state Z counts as dead.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from mmsim.runtime import config
from mmsim.runtime.channels import NOT_SERVING_REASON_KEY
from mmsim.runtime.redis_server import free_ports, redis_args, spawn_tied

MODULES = {name: f"mmsim.{name}.server" for name in config.SERVICES}


@dataclass
class Paths:
    root: Path

    @property
    def pids(self) -> Path:
        return self.root / "pids"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def pidfile(self, name: str) -> Path:
        return self.pids / f"{name}.pid"

    def logfile(self, name: str) -> Path:
        return self.logs / f"{name}.log"


def pick_free_settings(base: config.Settings, state_dir: str) -> config.Settings:
    """Settings with a free port for Redis and for each service (so test runs never collide with `mmsim up`)."""
    redis_port, *ports = free_ports(1 + len(config.SERVICES))
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    addrs = {name: f"127.0.0.1:{port}" for name, port in zip(config.SERVICES, ports)}
    env = {**base.env(), "MMSIM_REDIS_URL": redis_url, "MMSIM_STATE_DIR": state_dir}
    env.update({f"MMSIM_{n.upper()}_ADDR": a for n, a in addrs.items()})
    return config.load(env)


class StackError(RuntimeError):
    """`mmsim up` could not start the stack; the message says why (a busy port, a process that exited)."""


EXITED: dict[int, str] = {}   # our children reaped by _pid_alive: pid -> how they ended ("exit 1", "SIGSEGV")


@contextlib.contextmanager
def private(base: config.Settings | None = None, prefix: str = "mmsim-", timeout: float = 60.0) -> Iterator[config.Settings]:
    """A stack of its own for the length of a ``with``: Redis and the four services on free ports, their state
    in a temporary directory, tied to this process (they die with it), stopped by PID at the end. ``base``:
    the settings to start from (default: the environment's)."""
    with tempfile.TemporaryDirectory(prefix=prefix) as state:
        settings = pick_free_settings(base or config.load(), state)
        up(settings, timeout=timeout, tied=True)
        try:
            yield settings
        finally:
            down(settings)


def _pid_alive(pid: int) -> bool:
    """True while ``pid`` runs: our own exited child is reaped here (how it ended goes to EXITED), and a
    zombie is dead."""
    try:
        got, status = os.waitpid(pid, os.WNOHANG)
        if got == pid:
            EXITED[pid] = (f"killed by {signal.Signals(os.WTERMSIG(status)).name}" if os.WIFSIGNALED(status)
                           else f"exit status {os.WEXITSTATUS(status)}")
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _is_ours(pid: int, name: str) -> bool:
    """The PID still runs the program the pid file was written for (not a later process that reused it)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return True
    if not cmdline.strip():
        # read while the process was between two images (setpriv exec'ing the service, under load): it
        # exists and is no zombie (_pid_alive looked), so it is the one we started
        return True
    return ("redis-server" in cmdline) if name == "redis" else (MODULES[name] in cmdline)


def read_pid(paths: Paths, name: str) -> int | None:
    try:
        pid = int(paths.pidfile(name).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if _pid_alive(pid) and _is_ours(pid, name) else None


def _spawn(paths: Paths, name: str, args: list[str], env: dict[str, str], tied: bool = False) -> int:
    paths.pids.mkdir(parents=True, exist_ok=True)
    paths.logs.mkdir(parents=True, exist_ok=True)
    with open(paths.logfile(name), "ab") as log:
        spawn = spawn_tied if tied else subprocess.Popen
        proc = spawn(args, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    paths.pidfile(name).write_text(str(proc.pid))
    return proc.pid


# How long `mmsim status` waits for each answer: a service that has not answered by then is DOWN (a bound
# for a hung service, not an expected time: a loaded machine answers in milliseconds, rarely in seconds).
STATUS_TIMEOUT = 5.0


def health(addr: str, timeout: float = 1.0) -> str:
    """grpc.health.v1 status of a service: SERVING, NOT_SERVING, or DOWN."""
    return health_reason(addr, timeout)[0]


def health_reason(addr: str, timeout: float = 1.0) -> tuple[str, str]:
    """(grpc.health.v1 status, why): a NOT_SERVING service's own reason (its trailing metadata
    mmsim-not-serving-reason, e.g. the Redis state was lost), or why nothing answered (DOWN)."""
    import grpc  # noqa: PLC0415  (`mmsim down` and a refused `mmsim up` need no grpc)
    from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: PLC0415

    try:
        with grpc.insecure_channel(addr) as ch:
            resp, call = health_pb2_grpc.HealthStub(ch).Check.with_call(health_pb2.HealthCheckRequest(), timeout=timeout)
    except grpc.RpcError as exc:
        if exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
            return "DOWN", f"no answer from {addr} within {timeout} s"
        return "DOWN", f"{exc.code().name}: {(exc.details() or '').splitlines()[0] if exc.details() else ''}"
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)
    reason = dict(call.trailing_metadata() or ()).get(NOT_SERVING_REASON_KEY, "")
    return status, reason or ("" if status == "SERVING" else "the service gave no reason")


def health_reasons(addrs: dict[str, str], timeout: float = STATUS_TIMEOUT) -> dict[str, tuple[str, str]]:
    """:func:`health_reason` of every service in ``addrs`` (name -> address), asked all at once."""
    with ThreadPoolExecutor(max_workers=max(1, len(addrs))) as pool:
        answers = {name: pool.submit(health_reason, addr, timeout) for name, addr in addrs.items()}
    return {name: answer.result() for name, answer in answers.items()}


def _host_port(url_or_addr: str) -> tuple[str, int]:
    hostport = url_or_addr.split("://", 1)[-1].split("/", 1)[0]
    host, port = hostport.rsplit(":", 1)
    return host, int(port)


def check_ports(wanted: dict[str, tuple[str, int]]) -> None:
    """Raise StackError naming every (what, host:port) that something else already listens on."""
    busy = []
    for what, (host, port) in wanted.items():
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((host, port))
            except OSError as exc:
                busy.append(f"{what} {host}:{port} ({exc.strerror})")
    if busy:
        raise StackError("cannot start the stack, port in use: " + "; ".join(busy)
                         + ". Stop what holds it, or choose other ports (MMSIM_REDIS_URL, MMSIM_<SERVICE>_ADDR).")


# How long `up` waits for a live process to answer: a bound for one that hangs, not an expected time (a
# process that dies is reported at once; on 2 loaded cores four services took 18 s to start).
UP_TIMEOUT = 120.0


def up(settings: config.Settings, timeout: float = UP_TIMEOUT, tied: bool = False) -> dict[str, int]:
    """Start whatever is not running yet; wait until Redis answers and every service is SERVING.

    ``tied``: the processes die with the calling process (tests, demo, benchmarks); `mmsim up` leaves
    them running in the background."""
    paths = Paths(Path(settings.state_dir))
    env = {**os.environ, **settings.env()}
    started: dict[str, int] = {}
    host, port = _host_port(settings.redis_url)
    wanted = {"redis": (host, port)} if read_pid(paths, "redis") is None else {}
    wanted.update({n: _host_port(settings.bind_addr(n)) for n in MODULES if read_pid(paths, n) is None})
    check_ports(wanted)
    if read_pid(paths, "redis") is None:
        data = paths.root / "redis"
        data.mkdir(parents=True, exist_ok=True)
        started["redis"] = _spawn(paths, "redis", redis_args(port, host, data.resolve()), env, tied)
    try:
        _wait_redis(paths, host, port, timeout, started.get("redis", 0))
        started.update(services_up(settings, timeout=timeout, tied=tied))
    except Exception:
        _stop_all(paths, list(started), GRACE)
        raise
    return started


def _wait_redis(paths: Paths, host: str, port: int, timeout: float, started_pid: int = 0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            pass
        if read_pid(paths, "redis") is None:
            raise StackError(f"redis-server exited during start-up; end of {paths.logfile('redis')}:\n{_tail(paths, 'redis')}")
        if time.monotonic() > deadline:
            raise StackError(f"redis-server not listening on {host}:{port} after {timeout}s")
        time.sleep(0.02)


def _tail(paths: Paths, name: str) -> str:
    try:
        return paths.logfile(name).read_text(errors="replace")[-3000:]
    except FileNotFoundError:
        return "(no log)"


def services_up(settings: config.Settings, names: tuple[str, ...] | list[str] | None = None,
                timeout: float = UP_TIMEOUT, tied: bool = False) -> dict[str, int]:
    """Start the named services (all four by default) that are not running yet under ``settings.state_dir``;
    wait until each is SERVING. Redis must already answer at ``settings.redis_url``.

    With a distinct ``state_dir`` and addresses (see :func:`replica_settings`) this starts another replica
    set of the services against the same Redis: the services keep no state of their own.
    """
    paths = Paths(Path(settings.state_dir))
    env = {**os.environ, **settings.env()}
    names = list(names or MODULES)
    started: dict[str, int] = {}
    for name in names:
        if read_pid(paths, name) is None:
            started[name] = _spawn(paths, name, [sys.executable, "-m", MODULES[name]], env, tied)
    deadline = time.monotonic() + timeout
    try:
        for name in names:
            while health(settings.addrs[name], 0.5) != "SERVING":
                if read_pid(paths, name) is None:
                    how = EXITED.get(started.get(name, 0), "how: not known")
                    raise StackError(f"service {name} exited during start-up ({how}); end of {paths.logfile(name)}:\n"
                                     f"{_tail(paths, name)}")
                if time.monotonic() > deadline:
                    raise StackError(f"service {name} not SERVING at {settings.addrs[name]} after {timeout}s; "
                                     f"see {paths.logfile(name)}")
                time.sleep(0.05)
    except StackError:
        _stop_all(paths, list(started), GRACE)
        raise
    return started


def services_down(settings: config.Settings, names: tuple[str, ...] | list[str] | None = None,
                  grace: float | None = None) -> list[str]:
    """Stop the named services (all four by default) recorded under ``settings.state_dir``, by PID, all at
    once; Redis is left running."""
    return _stop_all(Paths(Path(settings.state_dir)), list(names or MODULES), GRACE if grace is None else grace)


def replica_settings(base: config.Settings, state_dir: str, **overrides: str) -> config.Settings:
    """Settings for another replica set of the four services: the same Redis (and every other setting) as
    ``base``, a free port for each service, its own ``state_dir`` for pid files and logs. ``overrides`` are
    extra environment variables (e.g. ``OTEL_EXPORTER_OTLP_ENDPOINT``)."""
    env = {**base.env(), "MMSIM_STATE_DIR": state_dir, **overrides}
    env.update({f"MMSIM_{n.upper()}_ADDR": f"127.0.0.1:{port}"
                for n, port in zip(config.SERVICES, free_ports(len(config.SERVICES)))})
    return config.load(env)


# SIGTERM -> SIGKILL: a service drains in-flight RPCs and flushes its spans well within this (seconds)
GRACE = 1.5


def down(settings: config.Settings, grace: float | None = None) -> list[str]:
    """Stop every recorded PID: the four services at once, then Redis (so that they can flush to it)."""
    paths = Paths(Path(settings.state_dir))
    grace = GRACE if grace is None else grace
    return _stop_all(paths, list(MODULES), grace) + _stop_all(paths, ["redis"], grace)


def _stop_all(paths: Paths, names: list[str], grace: float) -> list[str]:
    """SIGTERM the recorded PIDs of ``names`` together, SIGKILL those still running after ``grace`` s;
    the names that were running. Pid files go in every case."""
    pids = {name: read_pid(paths, name) for name in names}
    running = {name: pid for name, pid in pids.items() if pid is not None}
    for pid in running.values():
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while any(_pid_alive(p) for p in running.values()) and time.monotonic() < deadline:
        time.sleep(0.02)
    for pid in running.values():
        if _pid_alive(pid):
            _signal(pid, signal.SIGKILL)
    while any(_pid_alive(p) for p in running.values()):   # SIGKILL is not refused; reap our children
        time.sleep(0.01)
    for name in names:
        paths.pidfile(name).unlink(missing_ok=True)
    return list(running)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def redis_health(url: str, timeout: float = 1.0) -> str:
    """SERVING when Redis answers PING at ``url`` (wherever it runs), else DOWN."""
    return redis_health_reason(url, timeout)[0]


def redis_health_reason(url: str, timeout: float = 1.0) -> tuple[str, str]:
    """(SERVING or DOWN, why) of the Redis at ``url``. A plain redis://HOST:PORT gets an inline PING over a
    socket (the redis package imports OpenTelemetry's metrics SDK, ~0.2 s that `mmsim status` cannot
    afford); a URL with TLS, a password or a unix socket goes through the redis client."""
    parts = urlsplit(url)
    if parts.scheme != "redis" or parts.username or parts.password:
        return _redis_client_health(url, timeout)
    where = f"{parts.hostname}:{parts.port or 6379}"
    try:
        with socket.create_connection((parts.hostname, parts.port or 6379), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            reply = sock.makefile("rb").readline().strip()
    except OSError as exc:
        return "DOWN", f"{exc.strerror or exc} at {where}"
    if reply == b"+PONG":
        return "SERVING", ""
    return "DOWN", f"PING at {where} answered {reply.decode(errors='replace').lstrip('-+') or 'nothing'}"


def _redis_client_health(url: str, timeout: float) -> tuple[str, str]:
    import redis  # noqa: PLC0415

    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        return ("SERVING", "") if client.ping() else ("DOWN", "PING failed")
    except redis.RedisError as exc:
        return "DOWN", str(exc)
    finally:
        client.close()


def status(settings: config.Settings) -> list[dict]:
    """One row per process: address, local PID (None for a remote or foreign stack), health over the
    network (PING for Redis, grpc.health.v1 for the services), log file."""
    paths = Paths(Path(settings.state_dir))
    state, reason = redis_health_reason(settings.redis_url, STATUS_TIMEOUT)
    rows = [{"name": "redis", "addr": settings.redis_url, "pid": read_pid(paths, "redis"),
             "health": state, "reason": reason, "log": str(paths.logfile("redis"))}]
    for name, (state, reason) in health_reasons({name: settings.addrs[name] for name in MODULES}).items():
        rows.append({"name": name, "addr": settings.addrs[name], "pid": read_pid(paths, name),
                     "health": state, "reason": reason, "log": str(paths.logfile(name))})
    return rows
