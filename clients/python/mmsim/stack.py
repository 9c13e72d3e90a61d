"""Start, watch and stop the local stack: one redis-server and the four services, as processes.

Every process's PID goes into ``STATE_DIR/pids/NAME.pid`` and its output into ``STATE_DIR/logs/NAME.log``
(JSON lines for the services). ``stop`` signals exactly those PIDs (SIGTERM, then SIGKILL after a grace
period); nothing is ever stopped by name.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from mmsim.runtime import config
from mmsim.runtime.redis_server import die_with_parent, free_port, redis_args, wait_for_port

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
    redis_url = f"redis://127.0.0.1:{free_port()}/0"
    addrs = {name: f"127.0.0.1:{free_port()}" for name in config.SERVICES}
    env = {**base.env(), "MMSIM_REDIS_URL": redis_url, "MMSIM_STATE_DIR": state_dir}
    env.update({f"MMSIM_{n.upper()}_ADDR": a for n, a in addrs.items()})
    return config.load(env)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_pid(paths: Paths, name: str) -> int | None:
    try:
        pid = int(paths.pidfile(name).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if _pid_alive(pid) else None


def _spawn(paths: Paths, name: str, args: list[str], env: dict[str, str], tied: bool = False) -> int:
    paths.pids.mkdir(parents=True, exist_ok=True)
    paths.logs.mkdir(parents=True, exist_ok=True)
    with open(paths.logfile(name), "ab") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
                                preexec_fn=die_with_parent if tied else None)
    paths.pidfile(name).write_text(str(proc.pid))
    return proc.pid


def health(addr: str, timeout: float = 1.0) -> str:
    """grpc.health.v1 status of a service: SERVING, NOT_SERVING, or DOWN."""
    try:
        with grpc.insecure_channel(addr) as ch:
            resp = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=timeout)
            return health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)
    except grpc.RpcError:
        return "DOWN"


def _host_port(url_or_addr: str) -> tuple[str, int]:
    hostport = url_or_addr.split("://", 1)[-1].split("/", 1)[0]
    host, port = hostport.rsplit(":", 1)
    return host, int(port)


def up(settings: config.Settings, timeout: float = 30.0, tied: bool = False) -> dict[str, int]:
    """Start whatever is not running yet; wait until Redis answers and every service is SERVING.

    ``tied``: the processes die with the calling process (tests, demo, benchmarks); `mmsim up` leaves
    them running in the background."""
    paths = Paths(Path(settings.state_dir))
    env = {**os.environ, **settings.env()}
    started: dict[str, int] = {}
    host, port = _host_port(settings.redis_url)
    if read_pid(paths, "redis") is None:
        data = paths.root / "redis"
        data.mkdir(parents=True, exist_ok=True)
        started["redis"] = _spawn(paths, "redis", redis_args(port, host, data), env, tied)
    wait_for_port(host, port, timeout)
    started.update(services_up(settings, timeout=timeout, tied=tied))
    return started


def services_up(settings: config.Settings, names: tuple[str, ...] | list[str] | None = None,
                timeout: float = 30.0, tied: bool = False) -> dict[str, int]:
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
    for name in names:
        while health(settings.addrs[name], 0.5) != "SERVING":
            pid = read_pid(paths, name)
            if pid is None:
                tail = paths.logfile(name).read_text(errors="replace")[-3000:]
                raise RuntimeError(f"service {name} exited during start-up; end of {paths.logfile(name)}:\n{tail}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"service {name} not SERVING at {settings.addrs[name]} after {timeout}s")
            time.sleep(0.05)
    return started


def services_down(settings: config.Settings, names: tuple[str, ...] | list[str] | None = None,
                  grace: float = 8.0) -> list[str]:
    """Stop the named services (all four by default) recorded under ``settings.state_dir``, by PID; Redis is
    left running."""
    paths = Paths(Path(settings.state_dir))
    return [name for name in (names or MODULES) if _stop_pid(paths, name, grace)]


def replica_settings(base: config.Settings, state_dir: str, **overrides: str) -> config.Settings:
    """Settings for another replica set of the four services: the same Redis (and every other setting) as
    ``base``, a free port for each service, its own ``state_dir`` for pid files and logs. ``overrides`` are
    extra environment variables (e.g. ``OTEL_EXPORTER_OTLP_ENDPOINT``)."""
    env = {**base.env(), "MMSIM_STATE_DIR": state_dir, **overrides}
    env.update({f"MMSIM_{n.upper()}_ADDR": f"127.0.0.1:{free_port()}" for n in config.SERVICES})
    return config.load(env)


def down(settings: config.Settings, grace: float = 8.0) -> list[str]:
    """SIGTERM each recorded PID (services first, Redis last), SIGKILL after the grace period."""
    paths = Paths(Path(settings.state_dir))
    return [name for name in [*MODULES, "redis"] if _stop_pid(paths, name, grace)]


def _stop_pid(paths: Paths, name: str, grace: float) -> bool:
    """SIGTERM the PID recorded for ``name``, SIGKILL after ``grace`` s; True when one was running."""
    pid = read_pid(paths, name)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while _pid_alive(pid) and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(0.05)
        if _pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
            _reap(pid)
    paths.pidfile(name).unlink(missing_ok=True)
    return pid is not None


def _reap(pid: int) -> None:
    """Collect our own child if it has exited (so it does not linger as a zombie that looks alive)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def status(settings: config.Settings) -> list[dict]:
    paths = Paths(Path(settings.state_dir))
    rows = [{"name": "redis", "addr": settings.redis_url, "pid": read_pid(paths, "redis"),
             "health": "SERVING" if read_pid(paths, "redis") else "DOWN", "log": str(paths.logfile("redis"))}]
    for name in MODULES:
        rows.append({"name": name, "addr": settings.addrs[name], "pid": read_pid(paths, name),
                     "health": health(settings.addrs[name]), "log": str(paths.logfile(name))})
    return rows
