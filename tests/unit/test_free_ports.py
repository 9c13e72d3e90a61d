"""Free ports for a private stack (mmsim.runtime.redis_server.free_ports, mmsim.stack.pick_free_settings):
every service of one stack gets a port of its own. Picked one at a time, with each probe socket closed
before the next, the kernel may hand out the same port twice; two gRPC servers on one port then share it
(SO_REUSEPORT) and one service receives the other's calls (UNIMPLEMENTED), as seen once in `make test`."""

from __future__ import annotations

from mmsim import stack
from mmsim.runtime import config
from mmsim.runtime.redis_server import free_ports


def test_free_ports_are_distinct_and_bindable():
    ports = free_ports(64)
    assert len(set(ports)) == 64 and all(1024 <= p < 65536 for p in ports)


def test_a_private_stack_gets_a_port_per_service(tmp_path):
    for _ in range(20):
        s = stack.pick_free_settings(config.load(), str(tmp_path))
        ports = [int(s.redis_url.rsplit(":", 1)[1].split("/")[0])] + [int(a.rsplit(":", 1)[1]) for a in s.addrs.values()]
        assert len(set(ports)) == len(ports) == 1 + len(config.SERVICES), s
