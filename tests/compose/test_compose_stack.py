"""The docker-compose stack, driven from the host with the Python client, as a user would.

Collected by every pytest run but skipped unless MMSIM_COMPOSE_STACK=1: `make compose-test`
(deploy/compose-test.sh) builds the images, brings the stack up, waits for health, sets that variable and the
services' published addresses (MMSIM_<SERVICE>_ADDR, all on 127.0.0.1), runs this module, and tears the stack
down. COMPOSE_PROJECT_NAME and COMPOSE_FILE name the stack, so the checks on published ports and the
Redis restart go to exactly its containers.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time

import pytest

from mmsim import stack
from mmsim.client import PAGE_SIZE, Cluster
from mmsim.runtime import config
from mmsim.runtime.vmfault import VmFault

pytestmark = pytest.mark.skipif(os.environ.get("MMSIM_COMPOSE_STACK") != "1",
                                reason="needs the docker-compose stack: run `make compose-test`")

DOCKER = "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else (shutil.which("docker") or "docker")


def _compose(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    cmd = ["docker-compose", "-p", os.environ["COMPOSE_PROJECT_NAME"], *args]  # files: COMPOSE_FILE
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=check)


def _container(service: str) -> str:
    cid = _compose("ps", "-q", service).stdout.strip()
    assert cid, f"no container for compose service {service}"
    return cid


def _inspect(cid: str) -> dict:
    out = subprocess.run([DOCKER, "inspect", cid], capture_output=True, text=True, timeout=30, check=True)
    return json.loads(out.stdout)[0]


@pytest.fixture(scope="module")
def settings() -> config.Settings:
    return config.load()


@pytest.fixture()
def mm(settings):
    with Cluster.connect(settings) as c:
        yield c


def test_every_service_is_serving_on_loopback(settings):
    for name, addr in settings.addrs.items():
        assert addr.startswith("127.0.0.1:"), addr
        assert stack.health(addr, timeout=5) == "SERVING", name


def test_only_grpc_ports_are_published_and_only_on_127_0_0_1():
    for name in config.SERVICES:
        info = _inspect(_container(name))
        assert info["State"]["Health"]["Status"] == "healthy", name
        bindings = [b for bs in (info["NetworkSettings"]["Ports"] or {}).values() if bs for b in bs]
        assert bindings, f"{name} publishes nothing"
        assert all(b["HostIp"] == "127.0.0.1" for b in bindings), (name, bindings)
    redis = _inspect(_container("redis"))
    published = [b for bs in (redis["NetworkSettings"]["Ports"] or {}).values() if bs for b in bs]
    assert published == [], f"Redis must not be published: {published}"
    assert any(m.get("Destination") == "/data" and m.get("Type") == "volume" for m in redis["Mounts"])
    assert "--appendonly" in redis["Config"]["Cmd"] and "yes" in redis["Config"]["Cmd"]


def test_major_fault_through_all_four_services_and_its_trace(mm):
    fs = mm.mkfs("c" + secrets.token_hex(4), block_size=16384, profile="linux-6.12")
    f = fs.create("/data/a")
    payload = b"hello" * 1000
    f.write(0, payload)
    f.write(1 << 20, b"end")                       # leaves a hole: not in the page cache after write(2)
    proc = mm.spawn("reader")
    vma = proc.mmap(f, length=2 << 20, prot="r", shared=True)

    first = proc.fault(vma.start + (512 << 10))    # first touch of the hole: Populate + AllocPages
    assert first.ok and first.major and first.vm_fault & VmFault.MAJOR, first
    tree = mm.trace(first.trace_id)
    assert tree.trace_id == first.trace_id
    assert tree.services >= {"rmap", "pagecache", "filesystem", "allocator"}, tree.render()
    assert len(tree.roots) == 1 and tree.roots[0].span.service == "rmap"
    ids = {s.span_id for s in tree.spans}
    assert all(s.parent_span_id in ids for s in tree.spans[1:]), tree.render()
    methods = tree.methods()
    assert any("Populate" in m for m in methods) and any("AllocPages" in m for m in methods), methods

    second = proc.fault(vma.start + (512 << 10))   # same page again: minor, no Populate/AllocPages
    assert second.ok and not second.major, second
    methods = mm.trace(second.trace_id).methods()
    assert not any("Populate" in m or "AllocPages" in m for m in methods), methods

    other = mm.spawn("reader2")                    # another process, same page: found in the page cache
    vma2 = other.mmap(f, length=2 << 20, prot="r", shared=True)
    third = other.fault(vma2.start + (512 << 10))
    assert third.ok and not third.major and third.folio_pfn == first.folio_pfn, (first, third)

    assert proc.read(vma.start, len(payload)) == payload
    assert proc.read(vma.start + (512 << 10), PAGE_SIZE) == bytes(PAGE_SIZE)


def test_cli_on_the_host_shows_the_trace(mm):
    fs = mm.mkfs("c" + secrets.token_hex(4), block_size=4096, profile="linux-6.12")
    f = fs.create("/data/t")
    f.write(8 * PAGE_SIZE, b"x")
    proc = mm.spawn("tracer")
    vma = proc.mmap(f, length=16 * PAGE_SIZE, prot="r")
    r = proc.fault(vma.start)
    assert r.major
    mm.trace(r.trace_id)  # wait until every service has exported its span
    out = subprocess.run([sys.executable, "-m", "mmsim.cli", "trace", "show", r.trace_id, "--json"],
                         capture_output=True, text=True, timeout=60, env=os.environ.copy())
    assert out.returncode == 0, out.stderr
    spans = json.loads(out.stdout)
    text = json.dumps(spans)
    for svc in ("rmap", "pagecache", "filesystem", "allocator"):
        assert f'"{svc}"' in text, (svc, text[:2000])
    # the container health checks (every 2 s) are not traced, so the newest trace is still this fault's
    last = subprocess.run([sys.executable, "-m", "mmsim.cli", "trace", "last", "--json"],
                          capture_output=True, text=True, timeout=60, env=os.environ.copy())
    assert last.returncode == 0, last.stderr
    assert r.trace_id in last.stdout and "Health" not in last.stdout, last.stdout[:2000]


def test_state_survives_a_redis_restart(mm, settings):
    """Redis keeps its data in the volume (append-only file, fsynced before every reply); the services reconnect
    by themselves."""
    fs = mm.mkfs("c" + secrets.token_hex(4), block_size=4096)
    f = fs.create("/data/durable")
    f.write(0, b"durable" * 100)
    f.fsync()
    _compose("restart", "redis")
    cid = _container("redis")
    deadline = time.monotonic() + 60
    while _inspect(cid)["State"]["Health"]["Status"] != "healthy":
        assert time.monotonic() < deadline, "redis not healthy 60 s after a restart"
        time.sleep(0.5)
    last_exc = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:   # the services' Redis clients reconnect on their next command
        try:
            assert f.read(0, 700) == b"durable" * 100
            break
        except AssertionError:
            raise
        except Exception as exc:  # noqa: BLE001 - a connection error while the service reconnects
            last_exc = exc
            time.sleep(0.5)
    else:
        pytest.fail(f"file not readable 30 s after the Redis restart: {last_exc!r}")
    for name, addr in settings.addrs.items():
        assert stack.health(addr, timeout=5) == "SERVING", name


@pytest.mark.skipif(os.environ.get("MMSIM_COMPOSE_OTLP") != "1",
                    reason="needs the stack with compose.observability.yaml and the OTLP stand-in")
def test_observability_overlay_exports_every_hop_over_otlp(mm):
    """With compose.observability.yaml the services export over OTLP/gRPC to jaeger:4317 (here a stand-in
    receiver that prints the spans it gets): one major fault arrives with a span from each of the four."""
    for name in config.SERVICES:
        env = _inspect(_container(name))["Config"]["Env"]
        assert "OTEL_EXPORTER_OTLP_ENDPOINT=http://jaeger:4317" in env, name
    fs = mm.mkfs("o" + secrets.token_hex(4), block_size=4096, profile="linux-6.12")
    f = fs.create("/data/o")
    f.write(8 * PAGE_SIZE, b"x")
    proc = mm.spawn("otlp")
    vma = proc.mmap(f, length=16 * PAGE_SIZE, prot="r")
    r = proc.fault(vma.start)
    assert r.major
    seen: set[str] = set()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        logs = _compose("logs", "--no-color", "jaeger").stdout
        seen = set()
        for line in logs.splitlines():
            _, _, text = line.partition("|")
            try:
                span = json.loads(text.strip())
            except ValueError:
                continue
            if span.get("trace_id") == r.trace_id:
                seen.add(span["service"])
        if seen >= {f"mmsim-{n}" for n in config.SERVICES}:
            break
        time.sleep(0.5)
    assert seen >= {f"mmsim-{n}" for n in config.SERVICES}, f"spans of {r.trace_id} seen from {sorted(seen)}"
