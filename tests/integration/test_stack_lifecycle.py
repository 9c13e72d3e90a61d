"""`mmsim up` / `down` / `status` as processes: a busy port, a service that dies at start-up, a parallel stop by
PID, zombies, a remote stack; and Cluster.reset() on a private stack (it flushes the whole machine)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mmsim import errors, stack
from mmsim.client import Cluster
from mmsim.runtime import config


def _settings(tmp_path: Path) -> config.Settings:
    return stack.pick_free_settings(config.load({"MMSIM_MEMORY": "64MiB"}), str(tmp_path / "state"))


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _nothing_recorded(settings: config.Settings) -> bool:
    pids = Path(settings.state_dir) / "pids"
    return not pids.exists() or not any(pids.iterdir())


def test_up_refuses_a_busy_port_before_starting_anything(tmp_path):
    settings = _settings(tmp_path)
    host, port = settings.addrs["pagecache"].rsplit(":", 1)
    with socket.socket() as squatter:
        squatter.bind((host, int(port)))
        squatter.listen()
        with pytest.raises(stack.StackError) as err:
            stack.up(settings, tied=True)
    assert f"pagecache {host}:{port}" in str(err.value) and "in use" in str(err.value)
    assert _nothing_recorded(settings)
    redis_host, redis_port = stack._host_port(settings.redis_url)
    assert _port_free(redis_host, redis_port)          # Redis was never started


def test_a_service_dying_at_start_up_stops_what_up_started(tmp_path, monkeypatch):
    settings = _settings(tmp_path)
    monkeypatch.setitem(stack.MODULES, "rmap", "mmsim.no_such_service")
    with pytest.raises(stack.StackError) as err:
        stack.up(settings, tied=True)
    assert "rmap exited during start-up" in str(err.value) and "No module named" in str(err.value)
    assert _nothing_recorded(settings)
    for name in ("allocator", "pagecache", "filesystem"):
        host, port = settings.addrs[name].rsplit(":", 1)
        assert stack.health(settings.addrs[name]) == "DOWN" and _port_free(host, int(port)), name


def test_an_unreaped_child_is_not_alive():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    stat = Path(f"/proc/{child.pid}/stat")
    while stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z":
        time.sleep(0.01)                                # until it has exited (a zombie: nobody reaped it)
    assert not stack._pid_alive(child.pid)              # reaped here
    assert not stat.exists()


def test_up_reset_status_down(tmp_path):
    settings = _settings(tmp_path)
    try:
        started = stack.up(settings, timeout=60, tied=True)
        assert set(started) == {"redis", "allocator", "pagecache", "filesystem", "rmap"}
        assert stack.up(settings, timeout=60, tied=True) == {}          # already running: nothing new

        with Cluster.connect(settings) as mm:
            boot_free = mm.vmstat()["nr_free_pages"]
            fs = mm.mkfs("xfs0", block_size=16384)
            fs.create("/a").write(0, b"a" * 65536)
            proc = mm.spawn("p")
            assert mm.vmstat()["nr_free_pages"] < boot_free
            done = mm.reset()
            assert done.keys_deleted > 0 and done.nodes == 1 and done.free_pages == boot_free
            assert mm.vmstat()["nr_free_pages"] == boot_free
            with pytest.raises(errors.NotFound):
                mm.filesystem("xfs0")
            with pytest.raises(errors.NotFound):
                proc.status()
            mm.mkfs("xfs0", block_size=16384)             # the walk-through runs again: no ALREADY_EXISTS
            assert mm.spawn("p").pid == 1                  # pids start over

        # another state dir with the same addresses: a remote stack seen from here (no local pid files)
        remote = config.load({**settings.env(), "MMSIM_STATE_DIR": str(tmp_path / "elsewhere")})
        rows = {r["name"]: r for r in stack.status(remote)}
        assert all(r["health"] == "SERVING" and r["pid"] is None for r in rows.values()), rows

        pids = {name: stack.read_pid(stack.Paths(Path(settings.state_dir)), name) for name in started}
        t0 = time.monotonic()
        stopped = stack.down(settings)
        print(f"mmsim down: {time.monotonic() - t0:.2f} s for {len(stopped)} processes")
        assert sorted(stopped) == sorted(started)
        assert all(not stack._pid_alive(pid) for pid in pids.values())
        assert _nothing_recorded(settings)
        assert {r["name"]: r["health"] for r in stack.status(settings)} == dict.fromkeys(started, "DOWN")
    finally:
        stack.down(settings)
