"""vm_fault_t: the VM_FAULT_* bits with the kernel's names and values (include/linux/mm_types.h).

The wire form is ``repeated mmsim.v1.VmFault`` (one enum member per set bit, the member's number being
the kernel's bit); in Python it is this IntFlag, so ``VmFault.MAJOR | VmFault.LOCKED`` prints as the
kernel would name it and ``int()`` gives the kernel's mask.
"""

from __future__ import annotations

import enum

from mmsim.v1 import common_pb2


class VmFault(enum.IntFlag):
    OOM = 0x000001
    SIGBUS = 0x000002
    MAJOR = 0x000004
    HWPOISON = 0x000010
    HWPOISON_LARGE = 0x000020
    SIGSEGV = 0x000040
    NOPAGE = 0x000100
    LOCKED = 0x000200
    RETRY = 0x000400
    FALLBACK = 0x000800
    DONE_COW = 0x001000
    NEEDDSYNC = 0x002000
    COMPLETED = 0x004000

    def names(self) -> list[str]:
        """Kernel names of the set bits, lowest bit first (e.g. ['VM_FAULT_MAJOR', 'VM_FAULT_LOCKED'])."""
        return [f"VM_FAULT_{m.name}" for m in VmFault if m in self]

    def __str__(self) -> str:
        return "|".join(self.names()) or "0"

    def to_proto(self) -> list[int]:
        return [m.value for m in VmFault if m in self]

    @classmethod
    def from_proto(cls, values) -> "VmFault":
        out = cls(0)
        for v in values:
            out |= cls(int(v))
        return out


# VM_FAULT_ERROR: the bits that mean the fault failed.
VM_FAULT_ERROR = VmFault.OOM | VmFault.SIGBUS | VmFault.SIGSEGV | VmFault.HWPOISON | VmFault.HWPOISON_LARGE | VmFault.FALLBACK

# The proto enum must carry exactly these members (checked by the unit tests).
PROTO_NAMES = {f"VM_FAULT_{m.name}": m.value for m in VmFault}
assert all(common_pb2.VmFault.Value(n) == v for n, v in PROTO_NAMES.items())
