"""What every filesystem operation needs: Redis, the ports to the other services, the inode locks."""

from __future__ import annotations

from dataclasses import dataclass, field

from mmsim.filesystem.inode import InodeLocks


@dataclass
class Env:
    redis: object
    ports: object
    default_profile: str = "lsfmm2018"
    locks: InodeLocks = field(default_factory=InodeLocks)
