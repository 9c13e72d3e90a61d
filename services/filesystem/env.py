"""What every filesystem operation needs: Redis, the ports to the other services, the locks (in Redis,
shared by every replica: mmsim.runtime.locks) and the settings (lock lease, fault injection)."""

from __future__ import annotations

from dataclasses import dataclass, field

from mmsim.runtime import config
from mmsim.runtime.locks import Locks


@dataclass
class Env:
    redis: object
    ports: object
    default_profile: str = "lsfmm2018"
    settings: config.Settings = field(default_factory=config.Settings)
    locks: Locks = field(init=False)

    def __post_init__(self) -> None:
        self.locks = Locks(self.redis, self.settings.lock_lease_ms, self.settings.lock_wait_s, on_intent=self._recover,
                           of_inodes=True)

    async def _recover(self, mapping: str) -> None:
        from mmsim.filesystem import intents  # noqa: PLC0415 - intents runs the operations that use Env

        await intents.recover(self, mapping)
