from mmsim.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AllocPagesRequest(_message.Message):
    __slots__ = ("order", "gfp", "node", "in_flight_for")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    GFP_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    IN_FLIGHT_FOR_FIELD_NUMBER: _ClassVar[int]
    order: int
    gfp: _common_pb2.GfpMask
    node: int
    in_flight_for: str
    def __init__(self, order: _Optional[int] = ..., gfp: _Optional[_Union[_common_pb2.GfpMask, _Mapping]] = ..., node: _Optional[int] = ..., in_flight_for: _Optional[str] = ...) -> None: ...

class AllocPagesResponse(_message.Message):
    __slots__ = ("folio", "effective_gfp")
    FOLIO_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_GFP_FIELD_NUMBER: _ClassVar[int]
    folio: _common_pb2.Folio
    effective_gfp: _common_pb2.GfpMask
    def __init__(self, folio: _Optional[_Union[_common_pb2.Folio, _Mapping]] = ..., effective_gfp: _Optional[_Union[_common_pb2.GfpMask, _Mapping]] = ...) -> None: ...

class FreePagesRequest(_message.Message):
    __slots__ = ("pfn", "order")
    PFN_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    pfn: int
    order: int
    def __init__(self, pfn: _Optional[int] = ..., order: _Optional[int] = ...) -> None: ...

class FreePagesResponse(_message.Message):
    __slots__ = ("merged_order",)
    MERGED_ORDER_FIELD_NUMBER: _ClassVar[int]
    merged_order: int
    def __init__(self, merged_order: _Optional[int] = ...) -> None: ...

class ReleaseFoliosRequest(_message.Message):
    __slots__ = ("folios",)
    FOLIOS_FIELD_NUMBER: _ClassVar[int]
    folios: _containers.RepeatedCompositeFieldContainer[_common_pb2.Folio]
    def __init__(self, folios: _Optional[_Iterable[_Union[_common_pb2.Folio, _Mapping]]] = ...) -> None: ...

class ReleaseFoliosResponse(_message.Message):
    __slots__ = ("folios_freed", "pages_freed")
    FOLIOS_FREED_FIELD_NUMBER: _ClassVar[int]
    PAGES_FREED_FIELD_NUMBER: _ClassVar[int]
    folios_freed: int
    pages_freed: int
    def __init__(self, folios_freed: _Optional[int] = ..., pages_freed: _Optional[int] = ...) -> None: ...

class GetPageRequest(_message.Message):
    __slots__ = ("pfn",)
    PFN_FIELD_NUMBER: _ClassVar[int]
    pfn: int
    def __init__(self, pfn: _Optional[int] = ...) -> None: ...

class PageDescriptor(_message.Message):
    __slots__ = ("pfn", "node", "zone", "flags", "page_type", "union_member", "mapping", "index", "private", "compound_head", "order", "mapcount", "refcount", "memcg", "owner_words")
    PFN_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    ZONE_FIELD_NUMBER: _ClassVar[int]
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    PAGE_TYPE_FIELD_NUMBER: _ClassVar[int]
    UNION_MEMBER_FIELD_NUMBER: _ClassVar[int]
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    PRIVATE_FIELD_NUMBER: _ClassVar[int]
    COMPOUND_HEAD_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    MAPCOUNT_FIELD_NUMBER: _ClassVar[int]
    REFCOUNT_FIELD_NUMBER: _ClassVar[int]
    MEMCG_FIELD_NUMBER: _ClassVar[int]
    OWNER_WORDS_FIELD_NUMBER: _ClassVar[int]
    pfn: int
    node: int
    zone: str
    flags: _containers.RepeatedScalarFieldContainer[str]
    page_type: str
    union_member: str
    mapping: str
    index: int
    private: int
    compound_head: int
    order: int
    mapcount: int
    refcount: int
    memcg: int
    owner_words: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, pfn: _Optional[int] = ..., node: _Optional[int] = ..., zone: _Optional[str] = ..., flags: _Optional[_Iterable[str]] = ..., page_type: _Optional[str] = ..., union_member: _Optional[str] = ..., mapping: _Optional[str] = ..., index: _Optional[int] = ..., private: _Optional[int] = ..., compound_head: _Optional[int] = ..., order: _Optional[int] = ..., mapcount: _Optional[int] = ..., refcount: _Optional[int] = ..., memcg: _Optional[int] = ..., owner_words: _Optional[_Iterable[int]] = ...) -> None: ...

class GetPageResponse(_message.Message):
    __slots__ = ("page", "text")
    PAGE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    page: PageDescriptor
    text: str
    def __init__(self, page: _Optional[_Union[PageDescriptor, _Mapping]] = ..., text: _Optional[str] = ...) -> None: ...

class KvAllocation(_message.Message):
    __slots__ = ("addr", "size", "kind", "node", "pfns", "order", "gfp", "kmalloc_gfp", "fallback_reason", "steps")
    ADDR_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    PFNS_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    GFP_FIELD_NUMBER: _ClassVar[int]
    KMALLOC_GFP_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_REASON_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    addr: int
    size: int
    kind: str
    node: int
    pfns: _containers.RepeatedScalarFieldContainer[int]
    order: int
    gfp: _common_pb2.GfpMask
    kmalloc_gfp: _common_pb2.GfpMask
    fallback_reason: str
    steps: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, addr: _Optional[int] = ..., size: _Optional[int] = ..., kind: _Optional[str] = ..., node: _Optional[int] = ..., pfns: _Optional[_Iterable[int]] = ..., order: _Optional[int] = ..., gfp: _Optional[_Union[_common_pb2.GfpMask, _Mapping]] = ..., kmalloc_gfp: _Optional[_Union[_common_pb2.GfpMask, _Mapping]] = ..., fallback_reason: _Optional[str] = ..., steps: _Optional[_Iterable[str]] = ...) -> None: ...

class KmallocRequest(_message.Message):
    __slots__ = ("size", "gfp", "node")
    SIZE_FIELD_NUMBER: _ClassVar[int]
    GFP_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    size: int
    gfp: _common_pb2.GfpMask
    node: int
    def __init__(self, size: _Optional[int] = ..., gfp: _Optional[_Union[_common_pb2.GfpMask, _Mapping]] = ..., node: _Optional[int] = ...) -> None: ...

class KmallocResponse(_message.Message):
    __slots__ = ("allocation",)
    ALLOCATION_FIELD_NUMBER: _ClassVar[int]
    allocation: KvAllocation
    def __init__(self, allocation: _Optional[_Union[KvAllocation, _Mapping]] = ...) -> None: ...

class VmallocRequest(_message.Message):
    __slots__ = ("size", "gfp", "node")
    SIZE_FIELD_NUMBER: _ClassVar[int]
    GFP_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    size: int
    gfp: _common_pb2.GfpMask
    node: int
    def __init__(self, size: _Optional[int] = ..., gfp: _Optional[_Union[_common_pb2.GfpMask, _Mapping]] = ..., node: _Optional[int] = ...) -> None: ...

class VmallocResponse(_message.Message):
    __slots__ = ("allocation",)
    ALLOCATION_FIELD_NUMBER: _ClassVar[int]
    allocation: KvAllocation
    def __init__(self, allocation: _Optional[_Union[KvAllocation, _Mapping]] = ...) -> None: ...

class KvmallocRequest(_message.Message):
    __slots__ = ("size", "gfp", "node")
    SIZE_FIELD_NUMBER: _ClassVar[int]
    GFP_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    size: int
    gfp: _common_pb2.GfpMask
    node: int
    def __init__(self, size: _Optional[int] = ..., gfp: _Optional[_Union[_common_pb2.GfpMask, _Mapping]] = ..., node: _Optional[int] = ...) -> None: ...

class KvmallocResponse(_message.Message):
    __slots__ = ("allocation",)
    ALLOCATION_FIELD_NUMBER: _ClassVar[int]
    allocation: KvAllocation
    def __init__(self, allocation: _Optional[_Union[KvAllocation, _Mapping]] = ...) -> None: ...

class KvmallocArrayRequest(_message.Message):
    __slots__ = ("n", "size", "gfp", "zero")
    N_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    GFP_FIELD_NUMBER: _ClassVar[int]
    ZERO_FIELD_NUMBER: _ClassVar[int]
    n: int
    size: int
    gfp: _common_pb2.GfpMask
    zero: bool
    def __init__(self, n: _Optional[int] = ..., size: _Optional[int] = ..., gfp: _Optional[_Union[_common_pb2.GfpMask, _Mapping]] = ..., zero: _Optional[bool] = ...) -> None: ...

class KvmallocArrayResponse(_message.Message):
    __slots__ = ("allocation",)
    ALLOCATION_FIELD_NUMBER: _ClassVar[int]
    allocation: KvAllocation
    def __init__(self, allocation: _Optional[_Union[KvAllocation, _Mapping]] = ...) -> None: ...

class KvmallocStructRequest(_message.Message):
    __slots__ = ("header", "element", "count", "gfp")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    ELEMENT_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    GFP_FIELD_NUMBER: _ClassVar[int]
    header: int
    element: int
    count: int
    gfp: _common_pb2.GfpMask
    def __init__(self, header: _Optional[int] = ..., element: _Optional[int] = ..., count: _Optional[int] = ..., gfp: _Optional[_Union[_common_pb2.GfpMask, _Mapping]] = ...) -> None: ...

class KvmallocStructResponse(_message.Message):
    __slots__ = ("allocation",)
    ALLOCATION_FIELD_NUMBER: _ClassVar[int]
    allocation: KvAllocation
    def __init__(self, allocation: _Optional[_Union[KvAllocation, _Mapping]] = ...) -> None: ...

class KvfreeRequest(_message.Message):
    __slots__ = ("addr",)
    ADDR_FIELD_NUMBER: _ClassVar[int]
    addr: int
    def __init__(self, addr: _Optional[int] = ...) -> None: ...

class KvfreeResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class MallocRequest(_message.Message):
    __slots__ = ("size",)
    SIZE_FIELD_NUMBER: _ClassVar[int]
    size: int
    def __init__(self, size: _Optional[int] = ...) -> None: ...

class MallocResponse(_message.Message):
    __slots__ = ("allocation",)
    ALLOCATION_FIELD_NUMBER: _ClassVar[int]
    allocation: KvAllocation
    def __init__(self, allocation: _Optional[_Union[KvAllocation, _Mapping]] = ...) -> None: ...

class FreeRequest(_message.Message):
    __slots__ = ("addr",)
    ADDR_FIELD_NUMBER: _ClassVar[int]
    addr: int
    def __init__(self, addr: _Optional[int] = ...) -> None: ...

class FreeResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class BuddyInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class BuddyInfoResponse(_message.Message):
    __slots__ = ("text",)
    TEXT_FIELD_NUMBER: _ClassVar[int]
    text: str
    def __init__(self, text: _Optional[str] = ...) -> None: ...

class PageTypeInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PageTypeInfoResponse(_message.Message):
    __slots__ = ("text",)
    TEXT_FIELD_NUMBER: _ClassVar[int]
    text: str
    def __init__(self, text: _Optional[str] = ...) -> None: ...

class VmStatRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class VmStatResponse(_message.Message):
    __slots__ = ("text", "values")
    class ValuesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    TEXT_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    text: str
    values: _containers.ScalarMap[str, int]
    def __init__(self, text: _Optional[str] = ..., values: _Optional[_Mapping[str, int]] = ...) -> None: ...

class MemInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class MemInfoResponse(_message.Message):
    __slots__ = ("text", "values_kb")
    class ValuesKbEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    TEXT_FIELD_NUMBER: _ClassVar[int]
    VALUES_KB_FIELD_NUMBER: _ClassVar[int]
    text: str
    values_kb: _containers.ScalarMap[str, int]
    def __init__(self, text: _Optional[str] = ..., values_kb: _Optional[_Mapping[str, int]] = ...) -> None: ...

class FragmentRequest(_message.Message):
    __slots__ = ("node", "zone", "max_free_order", "movable")
    NODE_FIELD_NUMBER: _ClassVar[int]
    ZONE_FIELD_NUMBER: _ClassVar[int]
    MAX_FREE_ORDER_FIELD_NUMBER: _ClassVar[int]
    MOVABLE_FIELD_NUMBER: _ClassVar[int]
    node: int
    zone: str
    max_free_order: int
    movable: bool
    def __init__(self, node: _Optional[int] = ..., zone: _Optional[str] = ..., max_free_order: _Optional[int] = ..., movable: _Optional[bool] = ...) -> None: ...

class FragmentResponse(_message.Message):
    __slots__ = ("pinned", "freed", "zones")
    PINNED_FIELD_NUMBER: _ClassVar[int]
    FREED_FIELD_NUMBER: _ClassVar[int]
    ZONES_FIELD_NUMBER: _ClassVar[int]
    pinned: int
    freed: int
    zones: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, pinned: _Optional[int] = ..., freed: _Optional[int] = ..., zones: _Optional[_Iterable[str]] = ...) -> None: ...

class UnfragmentRequest(_message.Message):
    __slots__ = ("node",)
    NODE_FIELD_NUMBER: _ClassVar[int]
    node: int
    def __init__(self, node: _Optional[int] = ...) -> None: ...

class UnfragmentResponse(_message.Message):
    __slots__ = ("freed",)
    FREED_FIELD_NUMBER: _ClassVar[int]
    freed: int
    def __init__(self, freed: _Optional[int] = ...) -> None: ...

class ResetRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ResetResponse(_message.Message):
    __slots__ = ("keys_deleted", "nodes", "free_pages")
    KEYS_DELETED_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    FREE_PAGES_FIELD_NUMBER: _ClassVar[int]
    keys_deleted: int
    nodes: int
    free_pages: int
    def __init__(self, keys_deleted: _Optional[int] = ..., nodes: _Optional[int] = ..., free_pages: _Optional[int] = ...) -> None: ...

class ZoneInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ZoneWatermarks(_message.Message):
    __slots__ = ("node", "zone", "free", "min", "low", "high", "managed")
    NODE_FIELD_NUMBER: _ClassVar[int]
    ZONE_FIELD_NUMBER: _ClassVar[int]
    FREE_FIELD_NUMBER: _ClassVar[int]
    MIN_FIELD_NUMBER: _ClassVar[int]
    LOW_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    MANAGED_FIELD_NUMBER: _ClassVar[int]
    node: int
    zone: str
    free: int
    min: int
    low: int
    high: int
    managed: int
    def __init__(self, node: _Optional[int] = ..., zone: _Optional[str] = ..., free: _Optional[int] = ..., min: _Optional[int] = ..., low: _Optional[int] = ..., high: _Optional[int] = ..., managed: _Optional[int] = ...) -> None: ...

class ZoneInfoResponse(_message.Message):
    __slots__ = ("text", "zones")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    ZONES_FIELD_NUMBER: _ClassVar[int]
    text: str
    zones: _containers.RepeatedCompositeFieldContainer[ZoneWatermarks]
    def __init__(self, text: _Optional[str] = ..., zones: _Optional[_Iterable[_Union[ZoneWatermarks, _Mapping]]] = ...) -> None: ...

class OutOfMemoryRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class OutOfMemoryResponse(_message.Message):
    __slots__ = ("killed", "pid", "message", "pages_freed")
    KILLED_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PAGES_FREED_FIELD_NUMBER: _ClassVar[int]
    killed: bool
    pid: int
    message: str
    pages_freed: int
    def __init__(self, killed: _Optional[bool] = ..., pid: _Optional[int] = ..., message: _Optional[str] = ..., pages_freed: _Optional[int] = ...) -> None: ...
