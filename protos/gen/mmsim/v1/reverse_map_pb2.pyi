from mmsim.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Prot(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROT_UNSPECIFIED: _ClassVar[Prot]
    PROT_READ: _ClassVar[Prot]
    PROT_WRITE: _ClassVar[Prot]
    PROT_EXEC: _ClassVar[Prot]
PROT_UNSPECIFIED: Prot
PROT_READ: Prot
PROT_WRITE: Prot
PROT_EXEC: Prot

class SpawnRequest(_message.Message):
    __slots__ = ("comm",)
    COMM_FIELD_NUMBER: _ClassVar[int]
    comm: str
    def __init__(self, comm: _Optional[str] = ...) -> None: ...

class SpawnResponse(_message.Message):
    __slots__ = ("pid",)
    PID_FIELD_NUMBER: _ClassVar[int]
    pid: int
    def __init__(self, pid: _Optional[int] = ...) -> None: ...

class MmapRequest(_message.Message):
    __slots__ = ("pid", "mapping", "length", "offset", "prot", "shared", "addr")
    PID_FIELD_NUMBER: _ClassVar[int]
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    PROT_FIELD_NUMBER: _ClassVar[int]
    SHARED_FIELD_NUMBER: _ClassVar[int]
    ADDR_FIELD_NUMBER: _ClassVar[int]
    pid: int
    mapping: str
    length: int
    offset: int
    prot: _containers.RepeatedScalarFieldContainer[Prot]
    shared: bool
    addr: int
    def __init__(self, pid: _Optional[int] = ..., mapping: _Optional[str] = ..., length: _Optional[int] = ..., offset: _Optional[int] = ..., prot: _Optional[_Iterable[_Union[Prot, str]]] = ..., shared: _Optional[bool] = ..., addr: _Optional[int] = ...) -> None: ...

class MmapResponse(_message.Message):
    __slots__ = ("start", "end")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    start: int
    end: int
    def __init__(self, start: _Optional[int] = ..., end: _Optional[int] = ...) -> None: ...

class MunmapRequest(_message.Message):
    __slots__ = ("pid", "addr", "length")
    PID_FIELD_NUMBER: _ClassVar[int]
    ADDR_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    pid: int
    addr: int
    length: int
    def __init__(self, pid: _Optional[int] = ..., addr: _Optional[int] = ..., length: _Optional[int] = ...) -> None: ...

class MunmapResponse(_message.Message):
    __slots__ = ("pages_unmapped",)
    PAGES_UNMAPPED_FIELD_NUMBER: _ClassVar[int]
    pages_unmapped: int
    def __init__(self, pages_unmapped: _Optional[int] = ...) -> None: ...

class HandleFaultRequest(_message.Message):
    __slots__ = ("pid", "address", "write")
    PID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    WRITE_FIELD_NUMBER: _ClassVar[int]
    pid: int
    address: int
    write: bool
    def __init__(self, pid: _Optional[int] = ..., address: _Optional[int] = ..., write: _Optional[bool] = ...) -> None: ...

class HandleFaultResponse(_message.Message):
    __slots__ = ("vm_fault", "pfn", "folio", "pages_mapped", "major", "spurious", "trace_id")
    VM_FAULT_FIELD_NUMBER: _ClassVar[int]
    PFN_FIELD_NUMBER: _ClassVar[int]
    FOLIO_FIELD_NUMBER: _ClassVar[int]
    PAGES_MAPPED_FIELD_NUMBER: _ClassVar[int]
    MAJOR_FIELD_NUMBER: _ClassVar[int]
    SPURIOUS_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    vm_fault: _containers.RepeatedScalarFieldContainer[_common_pb2.VmFault]
    pfn: int
    folio: _common_pb2.Folio
    pages_mapped: int
    major: bool
    spurious: bool
    trace_id: str
    def __init__(self, vm_fault: _Optional[_Iterable[_Union[_common_pb2.VmFault, str]]] = ..., pfn: _Optional[int] = ..., folio: _Optional[_Union[_common_pb2.Folio, _Mapping]] = ..., pages_mapped: _Optional[int] = ..., major: _Optional[bool] = ..., spurious: _Optional[bool] = ..., trace_id: _Optional[str] = ...) -> None: ...

class ReadMemoryRequest(_message.Message):
    __slots__ = ("pid", "address", "length")
    PID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    pid: int
    address: int
    length: int
    def __init__(self, pid: _Optional[int] = ..., address: _Optional[int] = ..., length: _Optional[int] = ...) -> None: ...

class ReadMemoryResponse(_message.Message):
    __slots__ = ("data", "vm_fault")
    DATA_FIELD_NUMBER: _ClassVar[int]
    VM_FAULT_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    vm_fault: _containers.RepeatedScalarFieldContainer[_common_pb2.VmFault]
    def __init__(self, data: _Optional[bytes] = ..., vm_fault: _Optional[_Iterable[_Union[_common_pb2.VmFault, str]]] = ...) -> None: ...
