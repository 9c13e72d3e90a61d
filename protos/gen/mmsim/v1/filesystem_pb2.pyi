from mmsim.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MkfsRequest(_message.Message):
    __slots__ = ("name", "block_size", "profile")
    NAME_FIELD_NUMBER: _ClassVar[int]
    BLOCK_SIZE_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    name: str
    block_size: int
    profile: str
    def __init__(self, name: _Optional[str] = ..., block_size: _Optional[int] = ..., profile: _Optional[str] = ...) -> None: ...

class MkfsResponse(_message.Message):
    __slots__ = ("name", "block_size", "profile", "min_folio_order")
    NAME_FIELD_NUMBER: _ClassVar[int]
    BLOCK_SIZE_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    MIN_FOLIO_ORDER_FIELD_NUMBER: _ClassVar[int]
    name: str
    block_size: int
    profile: str
    min_folio_order: int
    def __init__(self, name: _Optional[str] = ..., block_size: _Optional[int] = ..., profile: _Optional[str] = ..., min_folio_order: _Optional[int] = ...) -> None: ...

class CreateRequest(_message.Message):
    __slots__ = ("fs", "path")
    FS_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    fs: str
    path: str
    def __init__(self, fs: _Optional[str] = ..., path: _Optional[str] = ...) -> None: ...

class CreateResponse(_message.Message):
    __slots__ = ("mapping", "ino")
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    INO_FIELD_NUMBER: _ClassVar[int]
    mapping: str
    ino: int
    def __init__(self, mapping: _Optional[str] = ..., ino: _Optional[int] = ...) -> None: ...

class WriteRequest(_message.Message):
    __slots__ = ("mapping", "offset", "data")
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    mapping: str
    offset: int
    data: bytes
    def __init__(self, mapping: _Optional[str] = ..., offset: _Optional[int] = ..., data: _Optional[bytes] = ...) -> None: ...

class WriteResponse(_message.Message):
    __slots__ = ("written", "i_size")
    WRITTEN_FIELD_NUMBER: _ClassVar[int]
    I_SIZE_FIELD_NUMBER: _ClassVar[int]
    written: int
    i_size: int
    def __init__(self, written: _Optional[int] = ..., i_size: _Optional[int] = ...) -> None: ...

class ReadRequest(_message.Message):
    __slots__ = ("mapping", "offset", "length")
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    mapping: str
    offset: int
    length: int
    def __init__(self, mapping: _Optional[str] = ..., offset: _Optional[int] = ..., length: _Optional[int] = ...) -> None: ...

class ReadResponse(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    def __init__(self, data: _Optional[bytes] = ...) -> None: ...

class StatRequest(_message.Message):
    __slots__ = ("mapping",)
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    mapping: str
    def __init__(self, mapping: _Optional[str] = ...) -> None: ...

class StatResponse(_message.Message):
    __slots__ = ("mapping", "path", "i_size", "blocks", "block_size", "nrpages")
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    I_SIZE_FIELD_NUMBER: _ClassVar[int]
    BLOCKS_FIELD_NUMBER: _ClassVar[int]
    BLOCK_SIZE_FIELD_NUMBER: _ClassVar[int]
    NRPAGES_FIELD_NUMBER: _ClassVar[int]
    mapping: str
    path: str
    i_size: int
    blocks: int
    block_size: int
    nrpages: int
    def __init__(self, mapping: _Optional[str] = ..., path: _Optional[str] = ..., i_size: _Optional[int] = ..., blocks: _Optional[int] = ..., block_size: _Optional[int] = ..., nrpages: _Optional[int] = ...) -> None: ...

class PopulateRequest(_message.Message):
    __slots__ = ("mapping", "index", "gfp")
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    GFP_FIELD_NUMBER: _ClassVar[int]
    mapping: str
    index: int
    gfp: _common_pb2.GfpMask
    def __init__(self, mapping: _Optional[str] = ..., index: _Optional[int] = ..., gfp: _Optional[_Union[_common_pb2.GfpMask, _Mapping]] = ...) -> None: ...

class PopulateAttempt(_message.Message):
    __slots__ = ("order", "ok", "reason")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    order: int
    ok: bool
    reason: str
    def __init__(self, order: _Optional[int] = ..., ok: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...

class PopulateResponse(_message.Message):
    __slots__ = ("folio", "folio_index", "attempts", "raced", "vm_fault")
    FOLIO_FIELD_NUMBER: _ClassVar[int]
    FOLIO_INDEX_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    RACED_FIELD_NUMBER: _ClassVar[int]
    VM_FAULT_FIELD_NUMBER: _ClassVar[int]
    folio: _common_pb2.Folio
    folio_index: int
    attempts: _containers.RepeatedCompositeFieldContainer[PopulateAttempt]
    raced: bool
    vm_fault: _containers.RepeatedScalarFieldContainer[_common_pb2.VmFault]
    def __init__(self, folio: _Optional[_Union[_common_pb2.Folio, _Mapping]] = ..., folio_index: _Optional[int] = ..., attempts: _Optional[_Iterable[_Union[PopulateAttempt, _Mapping]]] = ..., raced: _Optional[bool] = ..., vm_fault: _Optional[_Iterable[_Union[_common_pb2.VmFault, str]]] = ...) -> None: ...
