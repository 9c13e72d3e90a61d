from mmsim.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AllocPagesRequest(_message.Message):
    __slots__ = ("order", "gfp", "node", "mapping", "index")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    GFP_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    order: int
    gfp: _common_pb2.GfpMask
    node: int
    mapping: str
    index: int
    def __init__(self, order: _Optional[int] = ..., gfp: _Optional[_Union[_common_pb2.GfpMask, _Mapping]] = ..., node: _Optional[int] = ..., mapping: _Optional[str] = ..., index: _Optional[int] = ...) -> None: ...

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
