"""The boot epoch: which Redis state a service process was started against.

All of mmsim's state is in Redis. A Redis that comes back empty (restarted without its append-only file,
FLUSHALL, a new volume) must not be served as if it were the old one: the allocator would hand out pages
from a memory map that no longer exists and every file would be NOT_FOUND, half a state. So the first
service to start on a Redis writes a random token to ``mmsim:{cluster}:epoch`` (SET NX); every service
keeps the token it found at start and checks it, cheaply:
- on every new Redis connection (a restarted Redis always means a reconnect): the connect hook reads the
  key on that connection before any command runs on it;
- on every grpc.health.v1 Check, and once a second in the background (an emptied Redis keeps its
  connections), which also turns the health status of every service NOT_SERVING (Watch streams see it);
- when an RPC fails with an unexpected error.
Once lost, the service stays NOT_SERVING and answers every RPC FAILED_PRECONDITION with :attr:`reason`
until it is restarted, which re-initialises a fresh state explicitly (the allocator builds its memory map).
"""

from __future__ import annotations

import secrets

import redis.exceptions

from mmsim.runtime import keys
from mmsim.runtime.errors import FailedPrecondition

KEY = keys.cluster("epoch")
CHECK_INTERVAL_S = 1.0


class StateLost(redis.exceptions.RedisError):
    """Raised by the connect hook: this Redis is not the state the service started on (no retry)."""


class BootEpoch:
    def __init__(self, redis_url: str):
        self._url = redis_url
        self.token: bytes | None = None
        self.reason: str = ""

    async def adopt(self, client) -> bytes:
        """At start: write a new epoch unless the Redis has one; keep the one it has (one round trip)."""
        pipe = client.pipeline(transaction=True)
        pipe.set(KEY, secrets.token_hex(8), nx=True)
        pipe.get(KEY)
        _, self.token = await pipe.execute()
        self.reason = ""
        return self.token

    def _judge(self, found: bytes | None) -> str:
        if self.token is None or found == self.token:
            return ""
        what = "is missing" if found is None else f"is {found.decode(errors='replace')}"
        self.reason = (
            f"Redis at {self._url} lost the state this service started on: boot epoch {KEY} {what}, expected "
            f"{self.token.decode()} (Redis was emptied or restarted without its data). Not serving half a state: "
            "restart the services to initialise a fresh one (mmsim down && mmsim up)"
        )
        return self.reason

    async def check(self, client) -> str:
        """'' while the Redis holds this service's epoch, else the reason (kept: a lost state stays lost)."""
        if self.reason:
            return self.reason
        return self._judge(await client.get(KEY))

    def require(self) -> None:
        """Raise FailedPrecondition(reason) once the state is known to be lost."""
        if self.reason:
            raise FailedPrecondition(self.reason)

    async def on_connect(self, connection) -> None:
        """redis-py ``redis_connect_func``: the usual handshake, then the epoch read on the new connection."""
        await connection.on_connect()
        if self.token is None:
            return
        await connection.send_command("GET", KEY)
        if self._judge(await connection.read_response()):
            raise StateLost(self.reason)
