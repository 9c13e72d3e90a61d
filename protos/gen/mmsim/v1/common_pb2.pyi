from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class VmFault(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VM_FAULT_UNSPECIFIED: _ClassVar[VmFault]
    VM_FAULT_OOM: _ClassVar[VmFault]
    VM_FAULT_SIGBUS: _ClassVar[VmFault]
    VM_FAULT_MAJOR: _ClassVar[VmFault]
    VM_FAULT_HWPOISON: _ClassVar[VmFault]
    VM_FAULT_HWPOISON_LARGE: _ClassVar[VmFault]
    VM_FAULT_SIGSEGV: _ClassVar[VmFault]
    VM_FAULT_NOPAGE: _ClassVar[VmFault]
    VM_FAULT_LOCKED: _ClassVar[VmFault]
    VM_FAULT_RETRY: _ClassVar[VmFault]
    VM_FAULT_FALLBACK: _ClassVar[VmFault]
    VM_FAULT_DONE_COW: _ClassVar[VmFault]
    VM_FAULT_NEEDDSYNC: _ClassVar[VmFault]
    VM_FAULT_COMPLETED: _ClassVar[VmFault]

class GfpFlag(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GFP_FLAG_UNSPECIFIED: _ClassVar[GfpFlag]
    GFP_FLAG_DMA: _ClassVar[GfpFlag]
    GFP_FLAG_HIGHMEM: _ClassVar[GfpFlag]
    GFP_FLAG_DMA32: _ClassVar[GfpFlag]
    GFP_FLAG_MOVABLE: _ClassVar[GfpFlag]
    GFP_FLAG_RECLAIMABLE: _ClassVar[GfpFlag]
    GFP_FLAG_HIGH: _ClassVar[GfpFlag]
    GFP_FLAG_IO: _ClassVar[GfpFlag]
    GFP_FLAG_FS: _ClassVar[GfpFlag]
    GFP_FLAG_ZERO: _ClassVar[GfpFlag]
    GFP_FLAG_DIRECT_RECLAIM: _ClassVar[GfpFlag]
    GFP_FLAG_KSWAPD_RECLAIM: _ClassVar[GfpFlag]
    GFP_FLAG_WRITE: _ClassVar[GfpFlag]
    GFP_FLAG_NOWARN: _ClassVar[GfpFlag]
    GFP_FLAG_RETRY_MAYFAIL: _ClassVar[GfpFlag]
    GFP_FLAG_NOFAIL: _ClassVar[GfpFlag]
    GFP_FLAG_NORETRY: _ClassVar[GfpFlag]
    GFP_FLAG_MEMALLOC: _ClassVar[GfpFlag]
    GFP_FLAG_COMP: _ClassVar[GfpFlag]
    GFP_FLAG_NOMEMALLOC: _ClassVar[GfpFlag]
    GFP_FLAG_HARDWALL: _ClassVar[GfpFlag]
    GFP_FLAG_THISNODE: _ClassVar[GfpFlag]
    GFP_FLAG_ACCOUNT: _ClassVar[GfpFlag]
    GFP_FLAG_NOLOCKDEP: _ClassVar[GfpFlag]

class MemallocScope(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MEMALLOC_SCOPE_UNSPECIFIED: _ClassVar[MemallocScope]
    MEMALLOC_SCOPE_NOFS: _ClassVar[MemallocScope]
    MEMALLOC_SCOPE_NOIO: _ClassVar[MemallocScope]
VM_FAULT_UNSPECIFIED: VmFault
VM_FAULT_OOM: VmFault
VM_FAULT_SIGBUS: VmFault
VM_FAULT_MAJOR: VmFault
VM_FAULT_HWPOISON: VmFault
VM_FAULT_HWPOISON_LARGE: VmFault
VM_FAULT_SIGSEGV: VmFault
VM_FAULT_NOPAGE: VmFault
VM_FAULT_LOCKED: VmFault
VM_FAULT_RETRY: VmFault
VM_FAULT_FALLBACK: VmFault
VM_FAULT_DONE_COW: VmFault
VM_FAULT_NEEDDSYNC: VmFault
VM_FAULT_COMPLETED: VmFault
GFP_FLAG_UNSPECIFIED: GfpFlag
GFP_FLAG_DMA: GfpFlag
GFP_FLAG_HIGHMEM: GfpFlag
GFP_FLAG_DMA32: GfpFlag
GFP_FLAG_MOVABLE: GfpFlag
GFP_FLAG_RECLAIMABLE: GfpFlag
GFP_FLAG_HIGH: GfpFlag
GFP_FLAG_IO: GfpFlag
GFP_FLAG_FS: GfpFlag
GFP_FLAG_ZERO: GfpFlag
GFP_FLAG_DIRECT_RECLAIM: GfpFlag
GFP_FLAG_KSWAPD_RECLAIM: GfpFlag
GFP_FLAG_WRITE: GfpFlag
GFP_FLAG_NOWARN: GfpFlag
GFP_FLAG_RETRY_MAYFAIL: GfpFlag
GFP_FLAG_NOFAIL: GfpFlag
GFP_FLAG_NORETRY: GfpFlag
GFP_FLAG_MEMALLOC: GfpFlag
GFP_FLAG_COMP: GfpFlag
GFP_FLAG_NOMEMALLOC: GfpFlag
GFP_FLAG_HARDWALL: GfpFlag
GFP_FLAG_THISNODE: GfpFlag
GFP_FLAG_ACCOUNT: GfpFlag
GFP_FLAG_NOLOCKDEP: GfpFlag
MEMALLOC_SCOPE_UNSPECIFIED: MemallocScope
MEMALLOC_SCOPE_NOFS: MemallocScope
MEMALLOC_SCOPE_NOIO: MemallocScope

class GfpMask(_message.Message):
    __slots__ = ("flags",)
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    flags: _containers.RepeatedScalarFieldContainer[GfpFlag]
    def __init__(self, flags: _Optional[_Iterable[_Union[GfpFlag, str]]] = ...) -> None: ...

class Folio(_message.Message):
    __slots__ = ("pfn", "order", "node")
    PFN_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    pfn: int
    order: int
    node: int
    def __init__(self, pfn: _Optional[int] = ..., order: _Optional[int] = ..., node: _Optional[int] = ...) -> None: ...
