from mmsim.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FaultFlag(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FAULT_FLAG_UNSPECIFIED: _ClassVar[FaultFlag]
    FAULT_FLAG_WRITE: _ClassVar[FaultFlag]
    FAULT_FLAG_MKWRITE: _ClassVar[FaultFlag]
    FAULT_FLAG_ALLOW_RETRY: _ClassVar[FaultFlag]
    FAULT_FLAG_TRIED: _ClassVar[FaultFlag]
    FAULT_FLAG_USER: _ClassVar[FaultFlag]
FAULT_FLAG_UNSPECIFIED: FaultFlag
FAULT_FLAG_WRITE: FaultFlag
FAULT_FLAG_MKWRITE: FaultFlag
FAULT_FLAG_ALLOW_RETRY: FaultFlag
FAULT_FLAG_TRIED: FaultFlag
FAULT_FLAG_USER: FaultFlag

class FaultRequest(_message.Message):
    __slots__ = ("mapping", "index", "flags")
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    mapping: str
    index: int
    flags: _containers.RepeatedScalarFieldContainer[FaultFlag]
    def __init__(self, mapping: _Optional[str] = ..., index: _Optional[int] = ..., flags: _Optional[_Iterable[_Union[FaultFlag, str]]] = ...) -> None: ...

class FaultResponse(_message.Message):
    __slots__ = ("vm_fault", "folio", "folio_index", "i_size")
    VM_FAULT_FIELD_NUMBER: _ClassVar[int]
    FOLIO_FIELD_NUMBER: _ClassVar[int]
    FOLIO_INDEX_FIELD_NUMBER: _ClassVar[int]
    I_SIZE_FIELD_NUMBER: _ClassVar[int]
    vm_fault: _containers.RepeatedScalarFieldContainer[_common_pb2.VmFault]
    folio: _common_pb2.Folio
    folio_index: int
    i_size: int
    def __init__(self, vm_fault: _Optional[_Iterable[_Union[_common_pb2.VmFault, str]]] = ..., folio: _Optional[_Union[_common_pb2.Folio, _Mapping]] = ..., folio_index: _Optional[int] = ..., i_size: _Optional[int] = ...) -> None: ...

class AddFolioRequest(_message.Message):
    __slots__ = ("mapping", "index", "folio")
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    FOLIO_FIELD_NUMBER: _ClassVar[int]
    mapping: str
    index: int
    folio: _common_pb2.Folio
    def __init__(self, mapping: _Optional[str] = ..., index: _Optional[int] = ..., folio: _Optional[_Union[_common_pb2.Folio, _Mapping]] = ...) -> None: ...

class AddFolioResponse(_message.Message):
    __slots__ = ("nrpages",)
    NRPAGES_FIELD_NUMBER: _ClassVar[int]
    nrpages: int
    def __init__(self, nrpages: _Optional[int] = ...) -> None: ...

class FindFolioRequest(_message.Message):
    __slots__ = ("mapping", "index")
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    mapping: str
    index: int
    def __init__(self, mapping: _Optional[str] = ..., index: _Optional[int] = ...) -> None: ...

class FindFolioResponse(_message.Message):
    __slots__ = ("folio", "folio_index")
    FOLIO_FIELD_NUMBER: _ClassVar[int]
    FOLIO_INDEX_FIELD_NUMBER: _ClassVar[int]
    folio: _common_pb2.Folio
    folio_index: int
    def __init__(self, folio: _Optional[_Union[_common_pb2.Folio, _Mapping]] = ..., folio_index: _Optional[int] = ...) -> None: ...
