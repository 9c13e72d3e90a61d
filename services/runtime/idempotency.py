"""Idempotent mutating RPCs: a retry carrying the same request id gets the first answer.

A caller names each attempt of one request with the same id in gRPC metadata ``mmsim-request-id`` (the
Python client sends one per call and retries UNAVAILABLE through gRPC's service-config retry policy; peers,
mmsim.runtime.peers, send ``PARENT/METHOD#N.CHAIN``, N the call's place among the parent's calls and CHAIN the
hash of every call so far and of this one, so a retried parent that makes the same calls re-sends the same
child ids and children it already finished answer from their stored replies, while from the first call that
differs from the first attempt's, because the state moved on in between, every call is a new request). The server side (mmsim.runtime.serve):

1. ``claim``: one script, one round trip: no reply key -> mark it ``running:INSTANCE`` (this service
   process; with a lease) and run the handler; DONE -> answer the stored reply; RUNNING -> UNAVAILABLE
   "still running" (the caller's retry policy comes back later): never run twice at once. Unless INSTANCE
   is dead: every service process keeps ``mmsim:{cluster}:alive:INSTANCE`` alive (heartbeat, once a
   second, expiring after HEARTBEAT_TTL_MS), so a retry after a SIGKILL takes the id over within seconds
   instead of waiting for the lease.
2. ``finish``: the serialized response, or the error status and message, kept under the id for
   MMSIM_REQUEST_TTL_S. Failures the infrastructure caused (UNAVAILABLE, CANCELLED, DEADLINE_EXCEEDED)
   release the id instead, so the retry runs again.
3. ``did``: a handler whose work cannot be found again once done (Exit: the process is gone; Unlink: the
   name is) has its durable step's script record what it did under the id (``{req:ID}:did``, ``marker()``
   gives the script its KEY and ARG), in the same script as the step. A retry whose first attempt got past
   that step, and then died or lost its answer to a peer's failure, finds the record (``first_did``, read
   only when the retry would otherwise answer NOT_FOUND) and answers as the first attempt would have, where
   it would answer NOT_FOUND for work it did itself.

Read-only RPCs run as they are (running them twice is harmless), and so do the fault-path RPCs, which are
retry-safe by construction as in the kernel (a retried handle_mm_fault, VM_FAULT_RETRY, finds the PTE or the
cached folio the first attempt installed) and must stay within their Redis round-trip budget.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import secrets
from dataclasses import dataclass

from google.protobuf import descriptor_pool, message_factory
from google.protobuf.message import Message

from mmsim.runtime import keys, methods
from mmsim.runtime.errors import InvalidArgument, MMError
from mmsim.runtime.lua import Spec, SpecScript

METADATA_KEY = "mmsim-request-id"
MAX_ID_LEN = 200

# full gRPC method names that do not take part: reads (the inspections, NO_SIDE_EFFECTS in the protos), the
# RPCs declared IDEMPOTENT (a retry has the same effect), and
# the fault path (retry-safe, round-trip budget): the faults, the populate they call, read(2), and Echo
EXEMPT = frozenset(
    {name for name, inspection in methods.INSPECTION.items() if inspection}
    | methods.IDEMPOTENT
    | methods.FAULTS
    | {"/mmsim.v1.FilesystemService/Populate", "/mmsim.v1.FilesystemService/Read", "/mmsim.v1.TraceService/Echo"}
)
HEARTBEAT_TTL_MS = 10_000
RELEASE_ON = frozenset({"UNAVAILABLE", "CANCELLED", "DEADLINE_EXCEEDED"})

CLAIM = SpecScript(Spec("idempotency_claim", keys=("reply",), args=("lease_ms", "marker", "take_over"),
                        replies={"claimed": (), "running": ("instance",), "stored": ("json:bytes",)}), __file__)
"""idempotency_claim.lua: KEY reply (the request's reply key); ARG lease_ms, marker (this attempt's
'running:INSTANCE'), take_over (a dead attempt's marker, or ''). Replies: claimed, running (by INSTANCE),
stored (JSON: {"code": NAME, "message": text, "response": hex of the serialized response})."""

RUNNING = "running:"


@dataclass(frozen=True)
class Stored:
    code: str          # grpc.StatusCode name; "OK" with a response
    message: str
    response: bytes


class Replayed(MMError):
    """The error the first attempt answered, answered again."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


class InProgress(MMError):
    """A retry arrived while the first attempt is still running (the caller's retry policy retries it)."""

    code = "UNAVAILABLE"


_current: contextvars.ContextVar["Request | None"] = contextvars.ContextVar("mmsim_request", default=None)


class Request:
    """The request id of the RPC being served, and the counter that names the calls it makes to peers."""

    def __init__(self, request_id: str, ttl_ms: int = 0):
        self.id = request_id
        self.ttl_ms = ttl_ms   # how long its answer (and what its durable step did) is kept
        self._n = 0
        self._chain = hashlib.sha256(request_id.encode())

    def child_id(self, method: str, request: bytes) -> str:
        """``ID/Method#N.CHAIN`` for the N-th call this RPC makes, CHAIN the digest of every call it made so
        far (methods and serialized requests, the exempt ones included) and of this one (hashed when the id
        grows past MAX_ID_LEN). So the id names what is asked and the road that led there: a retried parent
        that retraces its first attempt's calls gets the first answers; once it takes another road (a folio
        its first attempt inserted is found now, a smaller order after a fallback), each later call is a new
        request, never told what a different call of the first attempt got (AllocPages would hand back a page
        that attempt already put in the page cache)."""
        self._chain.update(method.encode() + b"\0" + hashlib.sha256(request).digest())
        n, self._n = self._n, self._n + 1
        child = f"{self.id}/{method.lstrip('/').rsplit('.', 1)[-1]}#{n}.{self._chain.hexdigest()[:16]}"
        return child if len(child) <= MAX_ID_LEN else hashlib.sha256(child.encode()).hexdigest()


def current() -> "Request | None":
    return _current.get()


NO_RECORD = {"did": keys.cluster("did:none"), "did_ttl_ms": 0}
"""A durable step's KEY ``did`` and ARG ``did_ttl_ms`` when nothing is to be recorded (the script writes
nothing: did_ttl_ms is 0)."""


def marker() -> dict[str, object]:
    """KEY ``did`` and ARG ``did_ttl_ms`` for a durable step's script (``SET KEY.did WHAT PX ARG.did_ttl_ms``
    when did_ttl_ms > 0): the current request's record; outside a request (no id) NO_RECORD."""
    req = current()
    if req is None or not req.ttl_ms:
        return dict(NO_RECORD)
    return {"did": keys.request(req.id, "did"), "did_ttl_ms": req.ttl_ms}


async def first_did(redis) -> str | None:
    """What the durable step of the current request's first attempt recorded, or None (no such step ran)."""
    req = current()
    if req is None:
        return None
    raw = await redis.get(keys.request(req.id, "did"))
    return raw.decode() if raw is not None else None


def response_class(method: str) -> type[Message]:
    """The response message class of a full gRPC method name ('/mmsim.v1.Service/Method')."""
    service, name = method.lstrip("/").rsplit("/", 1)
    desc = descriptor_pool.Default().FindServiceByName(service).methods_by_name[name]
    return message_factory.GetMessageClass(desc.output_type)


def alive_key(instance: str) -> str:
    return keys.cluster(f"alive:{instance}")


class Replies:
    """The stored replies in Redis: ``mmsim:{req:ID}:reply`` (string: 'running:INSTANCE' or the JSON of
    Stored), and this service instance's heartbeat."""

    def __init__(self, redis, lease_ms: int, ttl_ms: int):
        self._redis = redis
        self._lease_ms = lease_ms
        self._ttl_ms = ttl_ms
        self.instance = secrets.token_hex(8)

    async def heartbeat(self) -> None:
        await self._redis.set(alive_key(self.instance), 1, px=HEARTBEAT_TTL_MS)

    async def retire(self) -> None:
        await self._redis.delete(alive_key(self.instance))

    async def claim(self, request_id: str, method: str) -> Stored | None:
        """Start serving request_id (None), or the first attempt's stored answer; InProgress while it runs."""
        claim = {"reply": keys.request(request_id), "lease_ms": self._lease_ms, "marker": RUNNING + self.instance}
        reply = await CLAIM(self._redis, **claim, take_over="")
        if reply.kind == "running" and not await self._redis.exists(alive_key(reply.instance)):
            reply = await CLAIM(self._redis, **claim, take_over=RUNNING + reply.instance)   # its instance died
        if reply.kind == "claimed":
            _current.set(Request(request_id, self._ttl_ms))
            return None
        if reply.kind == "running":
            raise InProgress(f"request {request_id} ({method}) is still being served by its first attempt "
                             f"(service instance {reply.instance}); retry later")
        data = json.loads(reply.json)
        return Stored(data["code"], data["message"], bytes.fromhex(data["response"]))

    async def finish(self, request_id: str, code: str, message: str, response: Message | None) -> None:
        key = keys.request(request_id)
        if code in RELEASE_ON:
            await self._redis.delete(key)
            return
        body = response.SerializeToString().hex() if response is not None else ""
        await self._redis.set(key, json.dumps({"code": code, "message": message, "response": body}), px=self._ttl_ms)


def request_id_of(metadata: dict[str, str], method: str) -> str | None:
    """The caller's request id if this RPC takes part (validated: printable, bounded), else None."""
    rid = metadata.get(METADATA_KEY)
    if rid is None or method in EXEMPT:
        return None
    if not (0 < len(rid) <= MAX_ID_LEN and rid.isprintable()):
        raise InvalidArgument(f"{METADATA_KEY} must be 1..{MAX_ID_LEN} printable characters, got {rid[:40]!r}")
    return rid
