"""Fuzz every RPC of every service over real gRPC, requests built from the proto descriptors (hypothesis).

Each field gets invalid and extreme values for its type (0, -1, the type's limits, enum numbers the .proto
does not define, empty / huge / odd strings, big payloads) mixed with names of objects that exist (a
filesystem, a file, a process, a mapping), so calls get past the first check. Properties:
- no call is answered INTERNAL or UNKNOWN (what a caller sends is never a server bug);
- a rejected call changes nothing: the digest of every Redis key (DUMP of each; trace keys and the request-id
  replies of mmsim.runtime.idempotency excepted) is the same before and after it;
- every service is still SERVING afterwards.
A private small stack (16 MiB, so Fragment stays quick); derandomized, no shrinking: bounded in time.
"""

from __future__ import annotations

import hashlib
import secrets
from collections import Counter

import grpc
import pytest
import redis
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.descriptor import FieldDescriptor as F
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from mmsim import stack
from mmsim.client import Cluster
from mmsim.runtime.idempotency import METADATA_KEY
from mmsim.v1 import filesystem_pb2, page_allocator_pb2, page_cache_pb2, reverse_map_pb2, trace_pb2  # noqa: F401

SERVICES = {
    "allocator": "mmsim.v1.PageAllocatorService",
    "pagecache": "mmsim.v1.PageCacheService",
    "filesystem": "mmsim.v1.FilesystemService",
    "rmap": "mmsim.v1.ReverseMapService",
    "trace": "mmsim.v1.TraceService",
}
EXAMPLES = 12
NOT_A_CHANGE = (b"{trace:", b"{traces}", b"{req:")
REJECTED_UNCHANGED = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION,
                      grpc.StatusCode.ALREADY_EXISTS, grpc.StatusCode.OUT_OF_RANGE}
tally: Counter = Counter()
bugs: list[str] = []
changed: list[str] = []


def _methods():
    pool = descriptor_pool.Default()
    for owner, full in SERVICES.items():
        for m in pool.FindServiceByName(full).methods:
            yield owner, full, m


INT32 = [0, 1, -1, 2, 7, 9, 10, 11, 64, 4096, 2**31 - 1, -(2**31)]
UINT32 = [0, 1, 2, 9, 10, 11, 16, 64, 4095, 4096, 65536, 2**31, 2**32 - 1]
INT64 = [0, 1, -1, 4096, 2**40, 2**63 - 1, -(2**63)]
UINT64 = [0, 1, 4096, 2**20, 2**32, 2**52, 2**63, 2**64 - 1]


def _scalar(field, names: list[str]):
    t = field.type
    if t in (F.TYPE_INT32, F.TYPE_SINT32, F.TYPE_SFIXED32):
        return st.sampled_from(INT32)
    if t in (F.TYPE_UINT32, F.TYPE_FIXED32):
        return st.sampled_from(UINT32)
    if t in (F.TYPE_INT64, F.TYPE_SINT64, F.TYPE_SFIXED64):
        return st.sampled_from(INT64)
    if t in (F.TYPE_UINT64, F.TYPE_FIXED64):
        return st.sampled_from(UINT64)
    if t == F.TYPE_BOOL:
        return st.booleans()
    if t in (F.TYPE_DOUBLE, F.TYPE_FLOAT):
        return st.sampled_from([0.0, -1.0, 1e300, float("nan"), float("inf")])
    if t == F.TYPE_ENUM:
        return st.sampled_from([v.number for v in field.enum_type.values] + [-1, 99, 2**31 - 1])
    if t == F.TYPE_STRING:
        return st.sampled_from(names + ["", "/", "..", "a" * 300, "\u00e9\u4e2d", "x\x00y", "-1", "GFP_KERNEL",
                                        "fz/999999", "nofs/1"])
    if t == F.TYPE_BYTES:
        return st.sampled_from([b"", b"x", b"\x00" * 4097, b"y" * 70000])
    raise AssertionError(f"no strategy for {field.full_name} type {t}")


def request_strategy(desc, names: list[str], depth: int = 0):
    fields = {}
    for field in desc.fields:
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            continue
        if field.message_type is not None:
            if depth >= 2:
                continue
            one = request_strategy(field.message_type, names, depth + 1)
        else:
            one = _scalar(field, names)
        if field.is_repeated:
            one = st.lists(one, max_size=3)
        fields[field.name] = st.one_of(st.none(), one)
    cls = message_factory.GetMessageClass(desc)

    def build(values: dict):
        msg = cls()
        for name, value in values.items():
            if value is None:
                continue
            f = desc.fields_by_name[name]
            if f.is_repeated:
                target = getattr(msg, name)
                if f.message_type is not None:
                    for v in value:
                        target.add().CopyFrom(v)
                else:
                    target.extend(value)
            elif f.message_type is not None:
                getattr(msg, name).CopyFrom(value)
            else:
                setattr(msg, name, value)
        return msg

    return st.fixed_dictionaries(fields).map(build)


def digest(client: redis.Redis) -> str:
    """sha256 over (key, DUMP key) of every key but NOT_A_CHANGE's, in key order (one pipeline of DUMPs)."""
    names = sorted(k for k in client.scan_iter(count=10000) if not any(t in k for t in NOT_A_CHANGE))
    pipe = client.pipeline(transaction=False)
    for key in names:
        pipe.dump(key)
    h = hashlib.sha256()
    for key, value in zip(names, pipe.execute()):
        h.update(key)
        h.update(value or b"")
    return h.hexdigest()


@pytest.fixture(scope="module")
def fuzz_stack(private_stack):
    with private_stack("fuzz-stack", MMSIM_MEMORY="16MiB") as s:
        with Cluster.connect(s) as mm:
            fs = mm.mkfs("fz", block_size=4096)
            f = fs.create("/f")
            f.write(0, b"fuzz" * 5000)
            proc = mm.spawn("fuzz")
            vma = proc.mmap(f, length=1 << 16, prot="rw", shared=True)
            names = ["fz", "/f", f.mapping, s.addrs["allocator"], s.addrs["pagecache"], "Normal", "DMA32",
                     str(proc.pid), hex(vma.start)]
        channels = {owner: grpc.insecure_channel(s.addrs["rmap" if owner == "trace" else owner]) for owner in SERVICES}
        client = redis.Redis.from_url(s.redis_url)
        yield s, names, channels, client
        print(f"\nfuzz: {sum(tally.values())} calls, by status: {dict(tally)}; INTERNAL/UNKNOWN: {len(bugs)}; "
              f"rejected calls that changed state: {len(changed)}")
        client.close()
        for ch in channels.values():
            ch.close()


@pytest.mark.parametrize("owner, service, method", [(o, s, m) for o, s, m in _methods()],
                         ids=[f"{s.rsplit('.', 1)[1]}.{m.name}" for _, s, m in _methods()])
def test_rpc_survives_fuzzed_requests(fuzz_stack, owner, service, method):
    s, names, channels, client = fuzz_stack
    out_cls = message_factory.GetMessageClass(method.output_type)
    call = channels[owner].unary_unary(f"/{service}/{method.name}", request_serializer=lambda m: m.SerializeToString(),
                                       response_deserializer=out_cls.FromString)

    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(request=request_strategy(method.input_type, names), with_id=st.booleans())
    def fuzz(request, with_id):
        metadata = ((METADATA_KEY, "fz-" + secrets.token_hex(6)),) if with_id else ()
        before = digest(client)
        try:
            call(request, timeout=60, metadata=metadata)
            tally["OK"] += 1
            return
        except grpc.RpcError as exc:
            code, details = exc.code(), exc.details()
        tally[code.name] += 1
        if code in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN):
            bugs.append(f"{method.full_name} {code.name} {details!r} <- {request}")
        elif code in REJECTED_UNCHANGED and digest(client) != before:
            changed.append(f"{method.full_name} {code.name} {details!r} <- {request}")

    print(f"{method.full_name}: derandomized, {EXAMPLES} examples")
    n_bugs, n_changed = len(bugs), len(changed)
    fuzz()
    for name in ("allocator", "pagecache", "filesystem", "rmap"):
        assert stack.health(s.addrs[name], timeout=10) == "SERVING", f"{name} not SERVING after fuzzing {method.full_name}"
    assert bugs[n_bugs:] == [], "\n".join(bugs[n_bugs:])
    assert changed[n_changed:] == [], "\n".join(changed[n_changed:])
