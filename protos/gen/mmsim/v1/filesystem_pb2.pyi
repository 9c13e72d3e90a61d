from mmsim.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Indexing(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INDEXING_UNSPECIFIED: _ClassVar[Indexing]
    INDEXING_MULTI_ORDER: _ClassVar[Indexing]
    INDEXING_ORDER_0: _ClassVar[Indexing]
    INDEXING_HUGETLB: _ClassVar[Indexing]
INDEXING_UNSPECIFIED: Indexing
INDEXING_MULTI_ORDER: Indexing
INDEXING_ORDER_0: Indexing
INDEXING_HUGETLB: Indexing

class MkfsRequest(_message.Message):
    __slots__ = ("name", "block_size", "profile", "max_folio_order", "alloc_context", "indexing")
    NAME_FIELD_NUMBER: _ClassVar[int]
    BLOCK_SIZE_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    MAX_FOLIO_ORDER_FIELD_NUMBER: _ClassVar[int]
    ALLOC_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    INDEXING_FIELD_NUMBER: _ClassVar[int]
    name: str
    block_size: int
    profile: str
    max_folio_order: int
    alloc_context: str
    indexing: Indexing
    def __init__(self, name: _Optional[str] = ..., block_size: _Optional[int] = ..., profile: _Optional[str] = ..., max_folio_order: _Optional[int] = ..., alloc_context: _Optional[str] = ..., indexing: _Optional[_Union[Indexing, str]] = ...) -> None: ...

class MkfsResponse(_message.Message):
    __slots__ = ("name", "block_size", "profile", "min_folio_order", "max_folio_order", "populate_policy", "indexing")
    NAME_FIELD_NUMBER: _ClassVar[int]
    BLOCK_SIZE_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    MIN_FOLIO_ORDER_FIELD_NUMBER: _ClassVar[int]
    MAX_FOLIO_ORDER_FIELD_NUMBER: _ClassVar[int]
    POPULATE_POLICY_FIELD_NUMBER: _ClassVar[int]
    INDEXING_FIELD_NUMBER: _ClassVar[int]
    name: str
    block_size: int
    profile: str
    min_folio_order: int
    max_folio_order: int
    populate_policy: str
    indexing: Indexing
    def __init__(self, name: _Optional[str] = ..., block_size: _Optional[int] = ..., profile: _Optional[str] = ..., min_folio_order: _Optional[int] = ..., max_folio_order: _Optional[int] = ..., populate_policy: _Optional[str] = ..., indexing: _Optional[_Union[Indexing, str]] = ...) -> None: ...

class StatFsRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class StatFsResponse(_message.Message):
    __slots__ = ("name", "block_size", "profile", "min_folio_order", "max_folio_order", "populate_policy", "indexing", "alloc_context", "blocks_used")
    NAME_FIELD_NUMBER: _ClassVar[int]
    BLOCK_SIZE_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    MIN_FOLIO_ORDER_FIELD_NUMBER: _ClassVar[int]
    MAX_FOLIO_ORDER_FIELD_NUMBER: _ClassVar[int]
    POPULATE_POLICY_FIELD_NUMBER: _ClassVar[int]
    INDEXING_FIELD_NUMBER: _ClassVar[int]
    ALLOC_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    BLOCKS_USED_FIELD_NUMBER: _ClassVar[int]
    name: str
    block_size: int
    profile: str
    min_folio_order: int
    max_folio_order: int
    populate_policy: str
    indexing: Indexing
    alloc_context: str
    blocks_used: int
    def __init__(self, name: _Optional[str] = ..., block_size: _Optional[int] = ..., profile: _Optional[str] = ..., min_folio_order: _Optional[int] = ..., max_folio_order: _Optional[int] = ..., populate_policy: _Optional[str] = ..., indexing: _Optional[_Union[Indexing, str]] = ..., alloc_context: _Optional[str] = ..., blocks_used: _Optional[int] = ...) -> None: ...

class CreateRequest(_message.Message):
    __slots__ = ("fs", "path", "indexing")
    FS_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    INDEXING_FIELD_NUMBER: _ClassVar[int]
    fs: str
    path: str
    indexing: Indexing
    def __init__(self, fs: _Optional[str] = ..., path: _Optional[str] = ..., indexing: _Optional[_Union[Indexing, str]] = ...) -> None: ...

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
    __slots__ = ("mapping", "path", "i_size", "blocks", "block_size", "nrpages", "nlink", "profile", "min_folio_order", "shared_blocks", "indexing", "orphan", "fs_orphans")
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    I_SIZE_FIELD_NUMBER: _ClassVar[int]
    BLOCKS_FIELD_NUMBER: _ClassVar[int]
    BLOCK_SIZE_FIELD_NUMBER: _ClassVar[int]
    NRPAGES_FIELD_NUMBER: _ClassVar[int]
    NLINK_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    MIN_FOLIO_ORDER_FIELD_NUMBER: _ClassVar[int]
    SHARED_BLOCKS_FIELD_NUMBER: _ClassVar[int]
    INDEXING_FIELD_NUMBER: _ClassVar[int]
    ORPHAN_FIELD_NUMBER: _ClassVar[int]
    FS_ORPHANS_FIELD_NUMBER: _ClassVar[int]
    mapping: str
    path: str
    i_size: int
    blocks: int
    block_size: int
    nrpages: int
    nlink: int
    profile: str
    min_folio_order: int
    shared_blocks: int
    indexing: Indexing
    orphan: bool
    fs_orphans: int
    def __init__(self, mapping: _Optional[str] = ..., path: _Optional[str] = ..., i_size: _Optional[int] = ..., blocks: _Optional[int] = ..., block_size: _Optional[int] = ..., nrpages: _Optional[int] = ..., nlink: _Optional[int] = ..., profile: _Optional[str] = ..., min_folio_order: _Optional[int] = ..., shared_blocks: _Optional[int] = ..., indexing: _Optional[_Union[Indexing, str]] = ..., orphan: _Optional[bool] = ..., fs_orphans: _Optional[int] = ...) -> None: ...

class PopulateRequest(_message.Message):
    __slots__ = ("mapping", "index", "gfp", "write")
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    GFP_FIELD_NUMBER: _ClassVar[int]
    WRITE_FIELD_NUMBER: _ClassVar[int]
    mapping: str
    index: int
    gfp: _common_pb2.GfpMask
    write: bool
    def __init__(self, mapping: _Optional[str] = ..., index: _Optional[int] = ..., gfp: _Optional[_Union[_common_pb2.GfpMask, _Mapping]] = ..., write: _Optional[bool] = ...) -> None: ...

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
    __slots__ = ("folio", "folio_index", "attempts", "raced", "vm_fault", "zero_entry", "zero_order", "policy", "memalloc_scope", "ra_order")
    FOLIO_FIELD_NUMBER: _ClassVar[int]
    FOLIO_INDEX_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    RACED_FIELD_NUMBER: _ClassVar[int]
    VM_FAULT_FIELD_NUMBER: _ClassVar[int]
    ZERO_ENTRY_FIELD_NUMBER: _ClassVar[int]
    ZERO_ORDER_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    MEMALLOC_SCOPE_FIELD_NUMBER: _ClassVar[int]
    RA_ORDER_FIELD_NUMBER: _ClassVar[int]
    folio: _common_pb2.Folio
    folio_index: int
    attempts: _containers.RepeatedCompositeFieldContainer[PopulateAttempt]
    raced: bool
    vm_fault: _containers.RepeatedScalarFieldContainer[_common_pb2.VmFault]
    zero_entry: bool
    zero_order: int
    policy: str
    memalloc_scope: str
    ra_order: int
    def __init__(self, folio: _Optional[_Union[_common_pb2.Folio, _Mapping]] = ..., folio_index: _Optional[int] = ..., attempts: _Optional[_Iterable[_Union[PopulateAttempt, _Mapping]]] = ..., raced: _Optional[bool] = ..., vm_fault: _Optional[_Iterable[_Union[_common_pb2.VmFault, str]]] = ..., zero_entry: _Optional[bool] = ..., zero_order: _Optional[int] = ..., policy: _Optional[str] = ..., memalloc_scope: _Optional[str] = ..., ra_order: _Optional[int] = ...) -> None: ...

class UnlinkRequest(_message.Message):
    __slots__ = ("fs", "path", "mapping")
    FS_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    fs: str
    path: str
    mapping: str
    def __init__(self, fs: _Optional[str] = ..., path: _Optional[str] = ..., mapping: _Optional[str] = ...) -> None: ...

class UnlinkResponse(_message.Message):
    __slots__ = ("mapping", "orphaned", "blocks_freed")
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    ORPHANED_FIELD_NUMBER: _ClassVar[int]
    BLOCKS_FREED_FIELD_NUMBER: _ClassVar[int]
    mapping: str
    orphaned: bool
    blocks_freed: int
    def __init__(self, mapping: _Optional[str] = ..., orphaned: _Optional[bool] = ..., blocks_freed: _Optional[int] = ...) -> None: ...

class TruncateRequest(_message.Message):
    __slots__ = ("mapping", "size")
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    mapping: str
    size: int
    def __init__(self, mapping: _Optional[str] = ..., size: _Optional[int] = ...) -> None: ...

class TruncateResponse(_message.Message):
    __slots__ = ("old_size", "i_size", "blocks_freed", "blocks_zeroed", "folios_removed", "folios_split", "bytes_zeroed", "ptes_unmapped")
    OLD_SIZE_FIELD_NUMBER: _ClassVar[int]
    I_SIZE_FIELD_NUMBER: _ClassVar[int]
    BLOCKS_FREED_FIELD_NUMBER: _ClassVar[int]
    BLOCKS_ZEROED_FIELD_NUMBER: _ClassVar[int]
    FOLIOS_REMOVED_FIELD_NUMBER: _ClassVar[int]
    FOLIOS_SPLIT_FIELD_NUMBER: _ClassVar[int]
    BYTES_ZEROED_FIELD_NUMBER: _ClassVar[int]
    PTES_UNMAPPED_FIELD_NUMBER: _ClassVar[int]
    old_size: int
    i_size: int
    blocks_freed: int
    blocks_zeroed: int
    folios_removed: int
    folios_split: int
    bytes_zeroed: int
    ptes_unmapped: int
    def __init__(self, old_size: _Optional[int] = ..., i_size: _Optional[int] = ..., blocks_freed: _Optional[int] = ..., blocks_zeroed: _Optional[int] = ..., folios_removed: _Optional[int] = ..., folios_split: _Optional[int] = ..., bytes_zeroed: _Optional[int] = ..., ptes_unmapped: _Optional[int] = ...) -> None: ...

class PunchHoleRequest(_message.Message):
    __slots__ = ("mapping", "offset", "length")
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    mapping: str
    offset: int
    length: int
    def __init__(self, mapping: _Optional[str] = ..., offset: _Optional[int] = ..., length: _Optional[int] = ...) -> None: ...

class PunchHoleResponse(_message.Message):
    __slots__ = ("blocks_freed", "blocks_zeroed", "folios_removed", "folios_split", "bytes_zeroed", "ptes_unmapped")
    BLOCKS_FREED_FIELD_NUMBER: _ClassVar[int]
    BLOCKS_ZEROED_FIELD_NUMBER: _ClassVar[int]
    FOLIOS_REMOVED_FIELD_NUMBER: _ClassVar[int]
    FOLIOS_SPLIT_FIELD_NUMBER: _ClassVar[int]
    BYTES_ZEROED_FIELD_NUMBER: _ClassVar[int]
    PTES_UNMAPPED_FIELD_NUMBER: _ClassVar[int]
    blocks_freed: int
    blocks_zeroed: int
    folios_removed: int
    folios_split: int
    bytes_zeroed: int
    ptes_unmapped: int
    def __init__(self, blocks_freed: _Optional[int] = ..., blocks_zeroed: _Optional[int] = ..., folios_removed: _Optional[int] = ..., folios_split: _Optional[int] = ..., bytes_zeroed: _Optional[int] = ..., ptes_unmapped: _Optional[int] = ...) -> None: ...

class FsyncRequest(_message.Message):
    __slots__ = ("mapping",)
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    mapping: str
    def __init__(self, mapping: _Optional[str] = ...) -> None: ...

class FsyncResponse(_message.Message):
    __slots__ = ("folios_written", "blocks_written", "blocks_cowed", "blocks_allocated")
    FOLIOS_WRITTEN_FIELD_NUMBER: _ClassVar[int]
    BLOCKS_WRITTEN_FIELD_NUMBER: _ClassVar[int]
    BLOCKS_COWED_FIELD_NUMBER: _ClassVar[int]
    BLOCKS_ALLOCATED_FIELD_NUMBER: _ClassVar[int]
    folios_written: int
    blocks_written: int
    blocks_cowed: int
    blocks_allocated: int
    def __init__(self, folios_written: _Optional[int] = ..., blocks_written: _Optional[int] = ..., blocks_cowed: _Optional[int] = ..., blocks_allocated: _Optional[int] = ...) -> None: ...

class ReflinkRequest(_message.Message):
    __slots__ = ("src_mapping", "src_offset", "dst_mapping", "dst_offset", "length", "share_folios")
    SRC_MAPPING_FIELD_NUMBER: _ClassVar[int]
    SRC_OFFSET_FIELD_NUMBER: _ClassVar[int]
    DST_MAPPING_FIELD_NUMBER: _ClassVar[int]
    DST_OFFSET_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    SHARE_FOLIOS_FIELD_NUMBER: _ClassVar[int]
    src_mapping: str
    src_offset: int
    dst_mapping: str
    dst_offset: int
    length: int
    share_folios: bool
    def __init__(self, src_mapping: _Optional[str] = ..., src_offset: _Optional[int] = ..., dst_mapping: _Optional[str] = ..., dst_offset: _Optional[int] = ..., length: _Optional[int] = ..., share_folios: _Optional[bool] = ...) -> None: ...

class ReflinkResponse(_message.Message):
    __slots__ = ("blocks_shared", "i_size", "blocks_freed", "pages_shared")
    BLOCKS_SHARED_FIELD_NUMBER: _ClassVar[int]
    I_SIZE_FIELD_NUMBER: _ClassVar[int]
    BLOCKS_FREED_FIELD_NUMBER: _ClassVar[int]
    PAGES_SHARED_FIELD_NUMBER: _ClassVar[int]
    blocks_shared: int
    i_size: int
    blocks_freed: int
    pages_shared: int
    def __init__(self, blocks_shared: _Optional[int] = ..., i_size: _Optional[int] = ..., blocks_freed: _Optional[int] = ..., pages_shared: _Optional[int] = ...) -> None: ...

class EvictInodeRequest(_message.Message):
    __slots__ = ("mapping",)
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    mapping: str
    def __init__(self, mapping: _Optional[str] = ...) -> None: ...

class EvictInodeResponse(_message.Message):
    __slots__ = ("evicted", "blocks_freed", "pages_freed")
    EVICTED_FIELD_NUMBER: _ClassVar[int]
    BLOCKS_FREED_FIELD_NUMBER: _ClassVar[int]
    PAGES_FREED_FIELD_NUMBER: _ClassVar[int]
    evicted: bool
    blocks_freed: int
    pages_freed: int
    def __init__(self, evicted: _Optional[bool] = ..., blocks_freed: _Optional[int] = ..., pages_freed: _Optional[int] = ...) -> None: ...

class PageoutRequest(_message.Message):
    __slots__ = ("mapping", "indices", "gfp")
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    INDICES_FIELD_NUMBER: _ClassVar[int]
    GFP_FIELD_NUMBER: _ClassVar[int]
    mapping: str
    indices: _containers.RepeatedScalarFieldContainer[int]
    gfp: _common_pb2.GfpMask
    def __init__(self, mapping: _Optional[str] = ..., indices: _Optional[_Iterable[int]] = ..., gfp: _Optional[_Union[_common_pb2.GfpMask, _Mapping]] = ...) -> None: ...

class PageoutResponse(_message.Message):
    __slots__ = ("folios_written", "blocks_written")
    FOLIOS_WRITTEN_FIELD_NUMBER: _ClassVar[int]
    BLOCKS_WRITTEN_FIELD_NUMBER: _ClassVar[int]
    folios_written: int
    blocks_written: int
    def __init__(self, folios_written: _Optional[int] = ..., blocks_written: _Optional[int] = ...) -> None: ...
