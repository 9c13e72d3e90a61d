from mmsim.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PagecacheTag(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PAGECACHE_TAG_UNSPECIFIED: _ClassVar[PagecacheTag]
    PAGECACHE_TAG_DIRTY: _ClassVar[PagecacheTag]
    PAGECACHE_TAG_WRITEBACK: _ClassVar[PagecacheTag]
    PAGECACHE_TAG_TOWRITE: _ClassVar[PagecacheTag]

class FaultFlag(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FAULT_FLAG_UNSPECIFIED: _ClassVar[FaultFlag]
    FAULT_FLAG_WRITE: _ClassVar[FaultFlag]
    FAULT_FLAG_MKWRITE: _ClassVar[FaultFlag]
    FAULT_FLAG_ALLOW_RETRY: _ClassVar[FaultFlag]
    FAULT_FLAG_TRIED: _ClassVar[FaultFlag]
    FAULT_FLAG_USER: _ClassVar[FaultFlag]

class XaEntryKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    XA_ENTRY_KIND_UNSPECIFIED: _ClassVar[XaEntryKind]
    XA_ENTRY_KIND_NODE: _ClassVar[XaEntryKind]
    XA_ENTRY_KIND_FOLIO: _ClassVar[XaEntryKind]
    XA_ENTRY_KIND_SIBLING: _ClassVar[XaEntryKind]
    XA_ENTRY_KIND_VALUE: _ClassVar[XaEntryKind]
    XA_ENTRY_KIND_ZERO: _ClassVar[XaEntryKind]
    XA_ENTRY_KIND_RESERVED: _ClassVar[XaEntryKind]
PAGECACHE_TAG_UNSPECIFIED: PagecacheTag
PAGECACHE_TAG_DIRTY: PagecacheTag
PAGECACHE_TAG_WRITEBACK: PagecacheTag
PAGECACHE_TAG_TOWRITE: PagecacheTag
FAULT_FLAG_UNSPECIFIED: FaultFlag
FAULT_FLAG_WRITE: FaultFlag
FAULT_FLAG_MKWRITE: FaultFlag
FAULT_FLAG_ALLOW_RETRY: FaultFlag
FAULT_FLAG_TRIED: FaultFlag
FAULT_FLAG_USER: FaultFlag
XA_ENTRY_KIND_UNSPECIFIED: XaEntryKind
XA_ENTRY_KIND_NODE: XaEntryKind
XA_ENTRY_KIND_FOLIO: XaEntryKind
XA_ENTRY_KIND_SIBLING: XaEntryKind
XA_ENTRY_KIND_VALUE: XaEntryKind
XA_ENTRY_KIND_ZERO: XaEntryKind
XA_ENTRY_KIND_RESERVED: XaEntryKind

class FaultRequest(_message.Message):
    __slots__ = ("mapping", "index", "flags", "around_start", "around_pages")
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    AROUND_START_FIELD_NUMBER: _ClassVar[int]
    AROUND_PAGES_FIELD_NUMBER: _ClassVar[int]
    mapping: str
    index: int
    flags: _containers.RepeatedScalarFieldContainer[FaultFlag]
    around_start: int
    around_pages: int
    def __init__(self, mapping: _Optional[str] = ..., index: _Optional[int] = ..., flags: _Optional[_Iterable[_Union[FaultFlag, str]]] = ..., around_start: _Optional[int] = ..., around_pages: _Optional[int] = ...) -> None: ...

class FaultResponse(_message.Message):
    __slots__ = ("vm_fault", "folio", "folio_index", "i_size", "around")
    VM_FAULT_FIELD_NUMBER: _ClassVar[int]
    FOLIO_FIELD_NUMBER: _ClassVar[int]
    FOLIO_INDEX_FIELD_NUMBER: _ClassVar[int]
    I_SIZE_FIELD_NUMBER: _ClassVar[int]
    AROUND_FIELD_NUMBER: _ClassVar[int]
    vm_fault: _containers.RepeatedScalarFieldContainer[_common_pb2.VmFault]
    folio: _common_pb2.Folio
    folio_index: int
    i_size: int
    around: _containers.RepeatedCompositeFieldContainer[FindFolioResponse]
    def __init__(self, vm_fault: _Optional[_Iterable[_Union[_common_pb2.VmFault, str]]] = ..., folio: _Optional[_Union[_common_pb2.Folio, _Mapping]] = ..., folio_index: _Optional[int] = ..., i_size: _Optional[int] = ..., around: _Optional[_Iterable[_Union[FindFolioResponse, _Mapping]]] = ...) -> None: ...

class AddFolioRequest(_message.Message):
    __slots__ = ("mapping", "index", "folio", "zero_entry", "zero_order", "data_seq", "contents", "count_alloc", "fallback_orders", "unlock", "dirty")
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    FOLIO_FIELD_NUMBER: _ClassVar[int]
    ZERO_ENTRY_FIELD_NUMBER: _ClassVar[int]
    ZERO_ORDER_FIELD_NUMBER: _ClassVar[int]
    DATA_SEQ_FIELD_NUMBER: _ClassVar[int]
    CONTENTS_FIELD_NUMBER: _ClassVar[int]
    COUNT_ALLOC_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_ORDERS_FIELD_NUMBER: _ClassVar[int]
    UNLOCK_FIELD_NUMBER: _ClassVar[int]
    DIRTY_FIELD_NUMBER: _ClassVar[int]
    mapping: str
    index: int
    folio: _common_pb2.Folio
    zero_entry: bool
    zero_order: int
    data_seq: int
    contents: bytes
    count_alloc: bool
    fallback_orders: _containers.RepeatedScalarFieldContainer[int]
    unlock: bool
    dirty: bool
    def __init__(self, mapping: _Optional[str] = ..., index: _Optional[int] = ..., folio: _Optional[_Union[_common_pb2.Folio, _Mapping]] = ..., zero_entry: _Optional[bool] = ..., zero_order: _Optional[int] = ..., data_seq: _Optional[int] = ..., contents: _Optional[bytes] = ..., count_alloc: _Optional[bool] = ..., fallback_orders: _Optional[_Iterable[int]] = ..., unlock: _Optional[bool] = ..., dirty: _Optional[bool] = ...) -> None: ...

class AddFolioResponse(_message.Message):
    __slots__ = ("nrpages", "unlocked", "waiters_woken", "zero_pages_replaced")
    NRPAGES_FIELD_NUMBER: _ClassVar[int]
    UNLOCKED_FIELD_NUMBER: _ClassVar[int]
    WAITERS_WOKEN_FIELD_NUMBER: _ClassVar[int]
    ZERO_PAGES_REPLACED_FIELD_NUMBER: _ClassVar[int]
    nrpages: int
    unlocked: bool
    waiters_woken: int
    zero_pages_replaced: int
    def __init__(self, nrpages: _Optional[int] = ..., unlocked: _Optional[bool] = ..., waiters_woken: _Optional[int] = ..., zero_pages_replaced: _Optional[int] = ...) -> None: ...

class FindFolioRequest(_message.Message):
    __slots__ = ("mapping", "index")
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    mapping: str
    index: int
    def __init__(self, mapping: _Optional[str] = ..., index: _Optional[int] = ...) -> None: ...

class FindFolioResponse(_message.Message):
    __slots__ = ("folio", "folio_index", "zero_entry", "tags", "shared", "found")
    FOLIO_FIELD_NUMBER: _ClassVar[int]
    FOLIO_INDEX_FIELD_NUMBER: _ClassVar[int]
    ZERO_ENTRY_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    SHARED_FIELD_NUMBER: _ClassVar[int]
    FOUND_FIELD_NUMBER: _ClassVar[int]
    folio: _common_pb2.Folio
    folio_index: int
    zero_entry: bool
    tags: _containers.RepeatedScalarFieldContainer[PagecacheTag]
    shared: bool
    found: bool
    def __init__(self, folio: _Optional[_Union[_common_pb2.Folio, _Mapping]] = ..., folio_index: _Optional[int] = ..., zero_entry: _Optional[bool] = ..., tags: _Optional[_Iterable[_Union[PagecacheTag, str]]] = ..., shared: _Optional[bool] = ..., found: _Optional[bool] = ...) -> None: ...

class ShareFoliosRequest(_message.Message):
    __slots__ = ("src_mapping", "src_index", "dst_mapping", "dst_index", "nr_pages")
    SRC_MAPPING_FIELD_NUMBER: _ClassVar[int]
    SRC_INDEX_FIELD_NUMBER: _ClassVar[int]
    DST_MAPPING_FIELD_NUMBER: _ClassVar[int]
    DST_INDEX_FIELD_NUMBER: _ClassVar[int]
    NR_PAGES_FIELD_NUMBER: _ClassVar[int]
    src_mapping: str
    src_index: int
    dst_mapping: str
    dst_index: int
    nr_pages: int
    def __init__(self, src_mapping: _Optional[str] = ..., src_index: _Optional[int] = ..., dst_mapping: _Optional[str] = ..., dst_index: _Optional[int] = ..., nr_pages: _Optional[int] = ...) -> None: ...

class ShareFoliosResponse(_message.Message):
    __slots__ = ("folios_shared", "pages_shared", "folios_skipped")
    FOLIOS_SHARED_FIELD_NUMBER: _ClassVar[int]
    PAGES_SHARED_FIELD_NUMBER: _ClassVar[int]
    FOLIOS_SKIPPED_FIELD_NUMBER: _ClassVar[int]
    folios_shared: int
    pages_shared: int
    folios_skipped: int
    def __init__(self, folios_shared: _Optional[int] = ..., pages_shared: _Optional[int] = ..., folios_skipped: _Optional[int] = ...) -> None: ...

class UnshareFolioRequest(_message.Message):
    __slots__ = ("mapping", "index")
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    mapping: str
    index: int
    def __init__(self, mapping: _Optional[str] = ..., index: _Optional[int] = ...) -> None: ...

class UnshareFolioResponse(_message.Message):
    __slots__ = ("folio", "folio_index", "copied")
    FOLIO_FIELD_NUMBER: _ClassVar[int]
    FOLIO_INDEX_FIELD_NUMBER: _ClassVar[int]
    COPIED_FIELD_NUMBER: _ClassVar[int]
    folio: _common_pb2.Folio
    folio_index: int
    copied: bool
    def __init__(self, folio: _Optional[_Union[_common_pb2.Folio, _Mapping]] = ..., folio_index: _Optional[int] = ..., copied: _Optional[bool] = ...) -> None: ...

class TruncateRangeRequest(_message.Message):
    __slots__ = ("mapping", "lstart", "lend", "to_eof")
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    LSTART_FIELD_NUMBER: _ClassVar[int]
    LEND_FIELD_NUMBER: _ClassVar[int]
    TO_EOF_FIELD_NUMBER: _ClassVar[int]
    mapping: str
    lstart: int
    lend: int
    to_eof: bool
    def __init__(self, mapping: _Optional[str] = ..., lstart: _Optional[int] = ..., lend: _Optional[int] = ..., to_eof: _Optional[bool] = ...) -> None: ...

class TruncateRangeResponse(_message.Message):
    __slots__ = ("folios_removed", "pages_freed", "folios_split", "bytes_zeroed", "split_failed", "ptes_unmapped", "split_log")
    FOLIOS_REMOVED_FIELD_NUMBER: _ClassVar[int]
    PAGES_FREED_FIELD_NUMBER: _ClassVar[int]
    FOLIOS_SPLIT_FIELD_NUMBER: _ClassVar[int]
    BYTES_ZEROED_FIELD_NUMBER: _ClassVar[int]
    SPLIT_FAILED_FIELD_NUMBER: _ClassVar[int]
    PTES_UNMAPPED_FIELD_NUMBER: _ClassVar[int]
    SPLIT_LOG_FIELD_NUMBER: _ClassVar[int]
    folios_removed: int
    pages_freed: int
    folios_split: int
    bytes_zeroed: int
    split_failed: int
    ptes_unmapped: int
    split_log: str
    def __init__(self, folios_removed: _Optional[int] = ..., pages_freed: _Optional[int] = ..., folios_split: _Optional[int] = ..., bytes_zeroed: _Optional[int] = ..., split_failed: _Optional[int] = ..., ptes_unmapped: _Optional[int] = ..., split_log: _Optional[str] = ...) -> None: ...

class InvalidateMappingRequest(_message.Message):
    __slots__ = ("mapping",)
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    mapping: str
    def __init__(self, mapping: _Optional[str] = ...) -> None: ...

class InvalidateMappingResponse(_message.Message):
    __slots__ = ("folios_removed", "folios_busy", "pages_freed")
    FOLIOS_REMOVED_FIELD_NUMBER: _ClassVar[int]
    FOLIOS_BUSY_FIELD_NUMBER: _ClassVar[int]
    PAGES_FREED_FIELD_NUMBER: _ClassVar[int]
    folios_removed: int
    folios_busy: int
    pages_freed: int
    def __init__(self, folios_removed: _Optional[int] = ..., folios_busy: _Optional[int] = ..., pages_freed: _Optional[int] = ...) -> None: ...

class DropCachesRequest(_message.Message):
    __slots__ = ("mode",)
    MODE_FIELD_NUMBER: _ClassVar[int]
    mode: int
    def __init__(self, mode: _Optional[int] = ...) -> None: ...

class DropCachesResponse(_message.Message):
    __slots__ = ("mappings_scanned", "folios_removed", "folios_busy", "pages_freed", "slab_objects_freed", "drop_pagecache", "drop_slab")
    MAPPINGS_SCANNED_FIELD_NUMBER: _ClassVar[int]
    FOLIOS_REMOVED_FIELD_NUMBER: _ClassVar[int]
    FOLIOS_BUSY_FIELD_NUMBER: _ClassVar[int]
    PAGES_FREED_FIELD_NUMBER: _ClassVar[int]
    SLAB_OBJECTS_FREED_FIELD_NUMBER: _ClassVar[int]
    DROP_PAGECACHE_FIELD_NUMBER: _ClassVar[int]
    DROP_SLAB_FIELD_NUMBER: _ClassVar[int]
    mappings_scanned: int
    folios_removed: int
    folios_busy: int
    pages_freed: int
    slab_objects_freed: int
    drop_pagecache: int
    drop_slab: int
    def __init__(self, mappings_scanned: _Optional[int] = ..., folios_removed: _Optional[int] = ..., folios_busy: _Optional[int] = ..., pages_freed: _Optional[int] = ..., slab_objects_freed: _Optional[int] = ..., drop_pagecache: _Optional[int] = ..., drop_slab: _Optional[int] = ...) -> None: ...

class TagFolioRequest(_message.Message):
    __slots__ = ("mapping", "index", "tag", "clear")
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    CLEAR_FIELD_NUMBER: _ClassVar[int]
    mapping: str
    index: int
    tag: PagecacheTag
    clear: bool
    def __init__(self, mapping: _Optional[str] = ..., index: _Optional[int] = ..., tag: _Optional[_Union[PagecacheTag, str]] = ..., clear: _Optional[bool] = ...) -> None: ...

class TagFolioResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WriteFolioRequest(_message.Message):
    __slots__ = ("mapping", "offset", "data")
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    mapping: str
    offset: int
    data: bytes
    def __init__(self, mapping: _Optional[str] = ..., offset: _Optional[int] = ..., data: _Optional[bytes] = ...) -> None: ...

class WriteFolioResponse(_message.Message):
    __slots__ = ("entry", "written")
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    WRITTEN_FIELD_NUMBER: _ClassVar[int]
    entry: FindFolioResponse
    written: int
    def __init__(self, entry: _Optional[_Union[FindFolioResponse, _Mapping]] = ..., written: _Optional[int] = ...) -> None: ...

class FindTaggedRequest(_message.Message):
    __slots__ = ("mapping", "tag", "start", "limit")
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    mapping: str
    tag: PagecacheTag
    start: int
    limit: int
    def __init__(self, mapping: _Optional[str] = ..., tag: _Optional[_Union[PagecacheTag, str]] = ..., start: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class FindTaggedResponse(_message.Message):
    __slots__ = ("folios",)
    FOLIOS_FIELD_NUMBER: _ClassVar[int]
    folios: _containers.RepeatedCompositeFieldContainer[FindFolioResponse]
    def __init__(self, folios: _Optional[_Iterable[_Union[FindFolioResponse, _Mapping]]] = ...) -> None: ...

class XaStatsRequest(_message.Message):
    __slots__ = ("mapping",)
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    mapping: str
    def __init__(self, mapping: _Optional[str] = ...) -> None: ...

class XaStatsResponse(_message.Message):
    __slots__ = ("mapping", "indexing", "chunk_shift", "entries", "folio_entries", "zero_entries", "nodes", "height", "redis_bytes", "nrpages", "zero_pages", "tagged")
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    INDEXING_FIELD_NUMBER: _ClassVar[int]
    CHUNK_SHIFT_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    FOLIO_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    ZERO_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    REDIS_BYTES_FIELD_NUMBER: _ClassVar[int]
    NRPAGES_FIELD_NUMBER: _ClassVar[int]
    ZERO_PAGES_FIELD_NUMBER: _ClassVar[int]
    TAGGED_FIELD_NUMBER: _ClassVar[int]
    mapping: str
    indexing: str
    chunk_shift: int
    entries: int
    folio_entries: int
    zero_entries: int
    nodes: int
    height: int
    redis_bytes: int
    nrpages: int
    zero_pages: int
    tagged: _containers.RepeatedScalarFieldContainer[PagecacheTag]
    def __init__(self, mapping: _Optional[str] = ..., indexing: _Optional[str] = ..., chunk_shift: _Optional[int] = ..., entries: _Optional[int] = ..., folio_entries: _Optional[int] = ..., zero_entries: _Optional[int] = ..., nodes: _Optional[int] = ..., height: _Optional[int] = ..., redis_bytes: _Optional[int] = ..., nrpages: _Optional[int] = ..., zero_pages: _Optional[int] = ..., tagged: _Optional[_Iterable[_Union[PagecacheTag, str]]] = ...) -> None: ...

class XaDumpRequest(_message.Message):
    __slots__ = ("mapping",)
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    mapping: str
    def __init__(self, mapping: _Optional[str] = ...) -> None: ...

class XaDumpResponse(_message.Message):
    __slots__ = ("text",)
    TEXT_FIELD_NUMBER: _ClassVar[int]
    text: str
    def __init__(self, text: _Optional[str] = ...) -> None: ...

class XaSlot(_message.Message):
    __slots__ = ("offset", "index", "kind", "folio", "order", "value", "sibling_of", "marks")
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    FOLIO_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    SIBLING_OF_FIELD_NUMBER: _ClassVar[int]
    MARKS_FIELD_NUMBER: _ClassVar[int]
    offset: int
    index: int
    kind: XaEntryKind
    folio: _common_pb2.Folio
    order: int
    value: int
    sibling_of: int
    marks: _containers.RepeatedScalarFieldContainer[PagecacheTag]
    def __init__(self, offset: _Optional[int] = ..., index: _Optional[int] = ..., kind: _Optional[_Union[XaEntryKind, str]] = ..., folio: _Optional[_Union[_common_pb2.Folio, _Mapping]] = ..., order: _Optional[int] = ..., value: _Optional[int] = ..., sibling_of: _Optional[int] = ..., marks: _Optional[_Iterable[_Union[PagecacheTag, str]]] = ...) -> None: ...

class XaNode(_message.Message):
    __slots__ = ("shift", "index", "offset", "count", "nr_values", "slots")
    SHIFT_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    NR_VALUES_FIELD_NUMBER: _ClassVar[int]
    SLOTS_FIELD_NUMBER: _ClassVar[int]
    shift: int
    index: int
    offset: int
    count: int
    nr_values: int
    slots: _containers.RepeatedCompositeFieldContainer[XaSlot]
    def __init__(self, shift: _Optional[int] = ..., index: _Optional[int] = ..., offset: _Optional[int] = ..., count: _Optional[int] = ..., nr_values: _Optional[int] = ..., slots: _Optional[_Iterable[_Union[XaSlot, _Mapping]]] = ...) -> None: ...

class XaTreeRequest(_message.Message):
    __slots__ = ("mapping", "max_nodes")
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    MAX_NODES_FIELD_NUMBER: _ClassVar[int]
    mapping: str
    max_nodes: int
    def __init__(self, mapping: _Optional[str] = ..., max_nodes: _Optional[int] = ...) -> None: ...

class XaTreeResponse(_message.Message):
    __slots__ = ("mapping", "chunk_shift", "head", "root_shift", "total_nodes", "nodes", "levels", "levels_shown", "marks")
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    CHUNK_SHIFT_FIELD_NUMBER: _ClassVar[int]
    HEAD_FIELD_NUMBER: _ClassVar[int]
    ROOT_SHIFT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_NODES_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    LEVELS_FIELD_NUMBER: _ClassVar[int]
    LEVELS_SHOWN_FIELD_NUMBER: _ClassVar[int]
    MARKS_FIELD_NUMBER: _ClassVar[int]
    mapping: str
    chunk_shift: int
    head: XaSlot
    root_shift: int
    total_nodes: int
    nodes: _containers.RepeatedCompositeFieldContainer[XaNode]
    levels: int
    levels_shown: int
    marks: _containers.RepeatedScalarFieldContainer[PagecacheTag]
    def __init__(self, mapping: _Optional[str] = ..., chunk_shift: _Optional[int] = ..., head: _Optional[_Union[XaSlot, _Mapping]] = ..., root_shift: _Optional[int] = ..., total_nodes: _Optional[int] = ..., nodes: _Optional[_Iterable[_Union[XaNode, _Mapping]]] = ..., levels: _Optional[int] = ..., levels_shown: _Optional[int] = ..., marks: _Optional[_Iterable[_Union[PagecacheTag, str]]] = ...) -> None: ...

class ThpStatsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ThpSizeStats(_message.Message):
    __slots__ = ("size_kb", "order", "path", "file_alloc", "file_fallback", "split", "split_failed")
    SIZE_KB_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    FILE_ALLOC_FIELD_NUMBER: _ClassVar[int]
    FILE_FALLBACK_FIELD_NUMBER: _ClassVar[int]
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    SPLIT_FAILED_FIELD_NUMBER: _ClassVar[int]
    size_kb: int
    order: int
    path: str
    file_alloc: int
    file_fallback: int
    split: int
    split_failed: int
    def __init__(self, size_kb: _Optional[int] = ..., order: _Optional[int] = ..., path: _Optional[str] = ..., file_alloc: _Optional[int] = ..., file_fallback: _Optional[int] = ..., split: _Optional[int] = ..., split_failed: _Optional[int] = ...) -> None: ...

class ThpStatsResponse(_message.Message):
    __slots__ = ("sizes", "vmstat")
    class VmstatEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    SIZES_FIELD_NUMBER: _ClassVar[int]
    VMSTAT_FIELD_NUMBER: _ClassVar[int]
    sizes: _containers.RepeatedCompositeFieldContainer[ThpSizeStats]
    vmstat: _containers.ScalarMap[str, int]
    def __init__(self, sizes: _Optional[_Iterable[_Union[ThpSizeStats, _Mapping]]] = ..., vmstat: _Optional[_Mapping[str, int]] = ...) -> None: ...
