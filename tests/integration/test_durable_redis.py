"""Durable Redis and the boot epoch, on a private stack (this module kills its Redis).

- kill -9 of Redis right after Fsync acknowledged: calls answer UNAVAILABLE while it is down; restarted on
  the same data directory, every fsynced byte reads back (from the blocks: the page cache is dropped first),
  and the services go on serving;
- FLUSHALL (an emptied Redis): every service's health turns NOT_SERVING with the reason (`mmsim status`
  shows it), and RPCs answer FAILED_PRECONDITION saying why, instead of serving half a state.
"""

from __future__ import annotations

import json
import random
import re

import grpc
import pytest
import redis
from grpc_health.v1 import health_pb2, health_pb2_grpc
from typer.testing import CliRunner

import crash
from mmsim import stack
from mmsim.cli import app
from mmsim.cli_base import EXIT_ERROR
from mmsim.client import Cluster
from mmsim.runtime import config
from mmsim.runtime.epoch import KEY as EPOCH_KEY
from mmsim.runtime.serve import REASON_KEY
from mmsim.v1 import filesystem_pb2, filesystem_pb2_grpc

SEED = 15


@pytest.fixture(scope="module")
def private(private_stack):
    with private_stack("durable-stack", MMSIM_MEMORY="64MiB") as settings:
        yield settings


def test_fsynced_bytes_survive_kill9_of_redis(private):
    rng = random.Random(SEED)
    print(f"seed={SEED}")
    with Cluster.connect(private) as mm:
        fs = mm.mkfs("durable", block_size=4096)
        files = {}
        for i in range(3):
            f = fs.create(f"/f{i}")
            data = rng.randbytes(rng.randrange(1, 5 * 4096 + 17))
            f.write(rng.randrange(0, 3 * 4096), data)
            files[f.path] = (f, data, f.stat().i_size)
            f.fsync()
        expected = {path: f.read(0, i_size) for path, (f, _, i_size) in files.items()}
        crash.kill9(private, "redis")
        with pytest.raises(grpc.RpcError) as err:   # while Redis is down: UNAVAILABLE, saying so
            first = next(iter(files.values()))[0]
            first.stat()
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "is unreachable" in err.value.details() and private.redis_url in err.value.details()
        stack.up(private, timeout=60, tied=True)   # Redis again, on the same --dir; the services were left running
        crash.wait_loaded(private)
        for path, (f, _, i_size) in files.items():
            f.fadvise_dontneed()                 # read from the blocks writeback wrote, not the cached folios
            assert f.stat().i_size == i_size, path
            assert f.read(0, i_size) == expected[path], path
    for name in config.SERVICES:
        assert stack.health(private.addrs[name]) == "SERVING", name


def test_emptied_redis_turns_every_service_not_serving(private):
    with Cluster.connect(private) as mm:
        f = mm.mkfs("gone", block_size=4096).create("/x")
        f.write(0, b"x" * 100)
    client = redis.Redis.from_url(private.redis_url)
    client.flushall()
    client.close()
    for name in config.SERVICES:
        with grpc.insecure_channel(private.addrs[name]) as ch:
            resp, call = health_pb2_grpc.HealthStub(ch).Check.with_call(health_pb2.HealthCheckRequest(), timeout=10)
            assert resp.status == health_pb2.HealthCheckResponse.NOT_SERVING, name
            reason = dict(call.trailing_metadata())[REASON_KEY]
            assert EPOCH_KEY in reason and "is missing" in reason and "restart the services" in reason, reason
    # `mmsim status` says why, in its reason column (and --json); Redis itself still answers
    out = CliRunner().invoke(app, ["status", "--json"], env=private.env())
    assert out.exit_code == EXIT_ERROR, out.output
    rows = {r["name"]: r for r in json.loads(out.stdout)["services"]}
    assert rows["redis"]["health"] == "SERVING" and rows["redis"]["reason"] == ""
    for name in config.SERVICES:
        assert rows[name]["health"] == "NOT_SERVING" and "is missing" in rows[name]["reason"], rows[name]
    text = CliRunner().invoke(app, ["status"], env=private.env()).stdout
    assert re.search(r"^allocator .* NOT_SERVING .*is missing", text, re.M), text
    with grpc.insecure_channel(private.addrs["filesystem"]) as ch:
        with pytest.raises(grpc.RpcError) as err:
            filesystem_pb2_grpc.FilesystemServiceStub(ch).Stat(filesystem_pb2.StatRequest(mapping=f.mapping), timeout=10)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert EPOCH_KEY in err.value.details() and "lost the state" in err.value.details()
