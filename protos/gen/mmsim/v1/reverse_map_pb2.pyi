from mmsim.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MapcountAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MAPCOUNT_ACTION_UNSPECIFIED: _ClassVar[MapcountAction]
    MAPCOUNT_ACTION_NONE: _ClassVar[MapcountAction]
    MAPCOUNT_ACTION_KILL: _ClassVar[MapcountAction]
    MAPCOUNT_ACTION_LEAK: _ClassVar[MapcountAction]

class Prot(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROT_UNSPECIFIED: _ClassVar[Prot]
    PROT_READ: _ClassVar[Prot]
    PROT_WRITE: _ClassVar[Prot]
    PROT_EXEC: _ClassVar[Prot]

class MmapPlacement(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MMAP_PLACEMENT_UNSPECIFIED: _ClassVar[MmapPlacement]
    MMAP_PLACEMENT_FIXED: _ClassVar[MmapPlacement]
    MMAP_PLACEMENT_FIXED_NOREPLACE: _ClassVar[MmapPlacement]
MAPCOUNT_ACTION_UNSPECIFIED: MapcountAction
MAPCOUNT_ACTION_NONE: MapcountAction
MAPCOUNT_ACTION_KILL: MapcountAction
MAPCOUNT_ACTION_LEAK: MapcountAction
PROT_UNSPECIFIED: Prot
PROT_READ: Prot
PROT_WRITE: Prot
PROT_EXEC: Prot
MMAP_PLACEMENT_UNSPECIFIED: MmapPlacement
MMAP_PLACEMENT_FIXED: MmapPlacement
MMAP_PLACEMENT_FIXED_NOREPLACE: MmapPlacement

class SpawnRequest(_message.Message):
    __slots__ = ("comm", "mapcount_limit", "mapcount_action", "max_map_count", "count")
    COMM_FIELD_NUMBER: _ClassVar[int]
    MAPCOUNT_LIMIT_FIELD_NUMBER: _ClassVar[int]
    MAPCOUNT_ACTION_FIELD_NUMBER: _ClassVar[int]
    MAX_MAP_COUNT_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    comm: str
    mapcount_limit: int
    mapcount_action: MapcountAction
    max_map_count: int
    count: int
    def __init__(self, comm: _Optional[str] = ..., mapcount_limit: _Optional[int] = ..., mapcount_action: _Optional[_Union[MapcountAction, str]] = ..., max_map_count: _Optional[int] = ..., count: _Optional[int] = ...) -> None: ...

class SpawnResponse(_message.Message):
    __slots__ = ("pid", "count")
    PID_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    pid: int
    count: int
    def __init__(self, pid: _Optional[int] = ..., count: _Optional[int] = ...) -> None: ...

class MmapRequest(_message.Message):
    __slots__ = ("pid", "mapping", "length", "offset", "prot", "shared", "addr", "placement")
    PID_FIELD_NUMBER: _ClassVar[int]
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    PROT_FIELD_NUMBER: _ClassVar[int]
    SHARED_FIELD_NUMBER: _ClassVar[int]
    ADDR_FIELD_NUMBER: _ClassVar[int]
    PLACEMENT_FIELD_NUMBER: _ClassVar[int]
    pid: int
    mapping: str
    length: int
    offset: int
    prot: _containers.RepeatedScalarFieldContainer[Prot]
    shared: bool
    addr: int
    placement: MmapPlacement
    def __init__(self, pid: _Optional[int] = ..., mapping: _Optional[str] = ..., length: _Optional[int] = ..., offset: _Optional[int] = ..., prot: _Optional[_Iterable[_Union[Prot, str]]] = ..., shared: _Optional[bool] = ..., addr: _Optional[int] = ..., placement: _Optional[_Union[MmapPlacement, str]] = ...) -> None: ...

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
    __slots__ = ("vm_fault", "pfn", "folio", "pages_mapped", "major", "spurious", "trace_id", "pinned", "zero_page", "pages_mapped_around", "pmd")
    VM_FAULT_FIELD_NUMBER: _ClassVar[int]
    PFN_FIELD_NUMBER: _ClassVar[int]
    FOLIO_FIELD_NUMBER: _ClassVar[int]
    PAGES_MAPPED_FIELD_NUMBER: _ClassVar[int]
    MAJOR_FIELD_NUMBER: _ClassVar[int]
    SPURIOUS_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    PINNED_FIELD_NUMBER: _ClassVar[int]
    ZERO_PAGE_FIELD_NUMBER: _ClassVar[int]
    PAGES_MAPPED_AROUND_FIELD_NUMBER: _ClassVar[int]
    PMD_FIELD_NUMBER: _ClassVar[int]
    vm_fault: _containers.RepeatedScalarFieldContainer[_common_pb2.VmFault]
    pfn: int
    folio: _common_pb2.Folio
    pages_mapped: int
    major: bool
    spurious: bool
    trace_id: str
    pinned: bool
    zero_page: bool
    pages_mapped_around: int
    pmd: bool
    def __init__(self, vm_fault: _Optional[_Iterable[_Union[_common_pb2.VmFault, str]]] = ..., pfn: _Optional[int] = ..., folio: _Optional[_Union[_common_pb2.Folio, _Mapping]] = ..., pages_mapped: _Optional[int] = ..., major: _Optional[bool] = ..., spurious: _Optional[bool] = ..., trace_id: _Optional[str] = ..., pinned: _Optional[bool] = ..., zero_page: _Optional[bool] = ..., pages_mapped_around: _Optional[int] = ..., pmd: _Optional[bool] = ...) -> None: ...

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
    __slots__ = ("data", "vm_fault", "faults")
    DATA_FIELD_NUMBER: _ClassVar[int]
    VM_FAULT_FIELD_NUMBER: _ClassVar[int]
    FAULTS_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    vm_fault: _containers.RepeatedScalarFieldContainer[_common_pb2.VmFault]
    faults: int
    def __init__(self, data: _Optional[bytes] = ..., vm_fault: _Optional[_Iterable[_Union[_common_pb2.VmFault, str]]] = ..., faults: _Optional[int] = ...) -> None: ...

class WriteMemoryRequest(_message.Message):
    __slots__ = ("pid", "address", "data")
    PID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    pid: int
    address: int
    data: bytes
    def __init__(self, pid: _Optional[int] = ..., address: _Optional[int] = ..., data: _Optional[bytes] = ...) -> None: ...

class WriteMemoryResponse(_message.Message):
    __slots__ = ("written", "vm_fault", "faults")
    WRITTEN_FIELD_NUMBER: _ClassVar[int]
    VM_FAULT_FIELD_NUMBER: _ClassVar[int]
    FAULTS_FIELD_NUMBER: _ClassVar[int]
    written: int
    vm_fault: _containers.RepeatedScalarFieldContainer[_common_pb2.VmFault]
    faults: int
    def __init__(self, written: _Optional[int] = ..., vm_fault: _Optional[_Iterable[_Union[_common_pb2.VmFault, str]]] = ..., faults: _Optional[int] = ...) -> None: ...

class UnmapMappingRangeRequest(_message.Message):
    __slots__ = ("mapping", "start", "length", "even_cows")
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    EVEN_COWS_FIELD_NUMBER: _ClassVar[int]
    mapping: str
    start: int
    length: int
    even_cows: bool
    def __init__(self, mapping: _Optional[str] = ..., start: _Optional[int] = ..., length: _Optional[int] = ..., even_cows: _Optional[bool] = ...) -> None: ...

class UnmapMappingRangeResponse(_message.Message):
    __slots__ = ("pages_unmapped", "vmas", "folios_freed")
    PAGES_UNMAPPED_FIELD_NUMBER: _ClassVar[int]
    VMAS_FIELD_NUMBER: _ClassVar[int]
    FOLIOS_FREED_FIELD_NUMBER: _ClassVar[int]
    pages_unmapped: int
    vmas: int
    folios_freed: int
    def __init__(self, pages_unmapped: _Optional[int] = ..., vmas: _Optional[int] = ..., folios_freed: _Optional[int] = ...) -> None: ...

class ExitRequest(_message.Message):
    __slots__ = ("pid",)
    PID_FIELD_NUMBER: _ClassVar[int]
    pid: int
    def __init__(self, pid: _Optional[int] = ...) -> None: ...

class ExitResponse(_message.Message):
    __slots__ = ("pages_unmapped", "vmas", "folios_freed")
    PAGES_UNMAPPED_FIELD_NUMBER: _ClassVar[int]
    VMAS_FIELD_NUMBER: _ClassVar[int]
    FOLIOS_FREED_FIELD_NUMBER: _ClassVar[int]
    pages_unmapped: int
    vmas: int
    folios_freed: int
    def __init__(self, pages_unmapped: _Optional[int] = ..., vmas: _Optional[int] = ..., folios_freed: _Optional[int] = ...) -> None: ...

class ForkRequest(_message.Message):
    __slots__ = ("pid",)
    PID_FIELD_NUMBER: _ClassVar[int]
    pid: int
    def __init__(self, pid: _Optional[int] = ...) -> None: ...

class ForkResponse(_message.Message):
    __slots__ = ("pid", "vmas", "ptes_copied", "cow_pages")
    PID_FIELD_NUMBER: _ClassVar[int]
    VMAS_FIELD_NUMBER: _ClassVar[int]
    PTES_COPIED_FIELD_NUMBER: _ClassVar[int]
    COW_PAGES_FIELD_NUMBER: _ClassVar[int]
    pid: int
    vmas: int
    ptes_copied: int
    cow_pages: int
    def __init__(self, pid: _Optional[int] = ..., vmas: _Optional[int] = ..., ptes_copied: _Optional[int] = ..., cow_pages: _Optional[int] = ...) -> None: ...

class MprotectRequest(_message.Message):
    __slots__ = ("pid", "addr", "length", "prot")
    PID_FIELD_NUMBER: _ClassVar[int]
    ADDR_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    PROT_FIELD_NUMBER: _ClassVar[int]
    pid: int
    addr: int
    length: int
    prot: _containers.RepeatedScalarFieldContainer[Prot]
    def __init__(self, pid: _Optional[int] = ..., addr: _Optional[int] = ..., length: _Optional[int] = ..., prot: _Optional[_Iterable[_Union[Prot, str]]] = ...) -> None: ...

class MprotectResponse(_message.Message):
    __slots__ = ("vmas_replaced", "vmas_now", "ptes_changed")
    VMAS_REPLACED_FIELD_NUMBER: _ClassVar[int]
    VMAS_NOW_FIELD_NUMBER: _ClassVar[int]
    PTES_CHANGED_FIELD_NUMBER: _ClassVar[int]
    vmas_replaced: int
    vmas_now: int
    ptes_changed: int
    def __init__(self, vmas_replaced: _Optional[int] = ..., vmas_now: _Optional[int] = ..., ptes_changed: _Optional[int] = ...) -> None: ...

class ProcMapsRequest(_message.Message):
    __slots__ = ("pid",)
    PID_FIELD_NUMBER: _ClassVar[int]
    pid: int
    def __init__(self, pid: _Optional[int] = ...) -> None: ...

class ProcMapsResponse(_message.Message):
    __slots__ = ("lines", "text")
    LINES_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    lines: _containers.RepeatedScalarFieldContainer[str]
    text: str
    def __init__(self, lines: _Optional[_Iterable[str]] = ..., text: _Optional[str] = ...) -> None: ...

class ProcSmapsRequest(_message.Message):
    __slots__ = ("pid",)
    PID_FIELD_NUMBER: _ClassVar[int]
    pid: int
    def __init__(self, pid: _Optional[int] = ...) -> None: ...

class SmapsVma(_message.Message):
    __slots__ = ("start", "end", "header", "size_kb", "rss_kb", "file_pmd_mapped_kb", "pmds")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    SIZE_KB_FIELD_NUMBER: _ClassVar[int]
    RSS_KB_FIELD_NUMBER: _ClassVar[int]
    FILE_PMD_MAPPED_KB_FIELD_NUMBER: _ClassVar[int]
    PMDS_FIELD_NUMBER: _ClassVar[int]
    start: int
    end: int
    header: str
    size_kb: int
    rss_kb: int
    file_pmd_mapped_kb: int
    pmds: int
    def __init__(self, start: _Optional[int] = ..., end: _Optional[int] = ..., header: _Optional[str] = ..., size_kb: _Optional[int] = ..., rss_kb: _Optional[int] = ..., file_pmd_mapped_kb: _Optional[int] = ..., pmds: _Optional[int] = ...) -> None: ...

class ProcSmapsResponse(_message.Message):
    __slots__ = ("vmas", "text")
    VMAS_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    vmas: _containers.RepeatedCompositeFieldContainer[SmapsVma]
    text: str
    def __init__(self, vmas: _Optional[_Iterable[_Union[SmapsVma, _Mapping]]] = ..., text: _Optional[str] = ...) -> None: ...

class ProcStatusRequest(_message.Message):
    __slots__ = ("pid",)
    PID_FIELD_NUMBER: _ClassVar[int]
    pid: int
    def __init__(self, pid: _Optional[int] = ...) -> None: ...

class ProcStatusResponse(_message.Message):
    __slots__ = ("pid", "comm", "state", "killed_reason", "min_flt", "maj_flt", "rss_file", "rss_anon", "map_count", "max_map_count", "mapcount_limit", "mapcount_action", "nr_tasks", "pins")
    PID_FIELD_NUMBER: _ClassVar[int]
    COMM_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    KILLED_REASON_FIELD_NUMBER: _ClassVar[int]
    MIN_FLT_FIELD_NUMBER: _ClassVar[int]
    MAJ_FLT_FIELD_NUMBER: _ClassVar[int]
    RSS_FILE_FIELD_NUMBER: _ClassVar[int]
    RSS_ANON_FIELD_NUMBER: _ClassVar[int]
    MAP_COUNT_FIELD_NUMBER: _ClassVar[int]
    MAX_MAP_COUNT_FIELD_NUMBER: _ClassVar[int]
    MAPCOUNT_LIMIT_FIELD_NUMBER: _ClassVar[int]
    MAPCOUNT_ACTION_FIELD_NUMBER: _ClassVar[int]
    NR_TASKS_FIELD_NUMBER: _ClassVar[int]
    PINS_FIELD_NUMBER: _ClassVar[int]
    pid: int
    comm: str
    state: str
    killed_reason: str
    min_flt: int
    maj_flt: int
    rss_file: int
    rss_anon: int
    map_count: int
    max_map_count: int
    mapcount_limit: int
    mapcount_action: MapcountAction
    nr_tasks: int
    pins: int
    def __init__(self, pid: _Optional[int] = ..., comm: _Optional[str] = ..., state: _Optional[str] = ..., killed_reason: _Optional[str] = ..., min_flt: _Optional[int] = ..., maj_flt: _Optional[int] = ..., rss_file: _Optional[int] = ..., rss_anon: _Optional[int] = ..., map_count: _Optional[int] = ..., max_map_count: _Optional[int] = ..., mapcount_limit: _Optional[int] = ..., mapcount_action: _Optional[_Union[MapcountAction, str]] = ..., nr_tasks: _Optional[int] = ..., pins: _Optional[int] = ...) -> None: ...

class FolioMapcountRequest(_message.Message):
    __slots__ = ("pfn", "node")
    PFN_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    pfn: int
    node: int
    def __init__(self, pfn: _Optional[int] = ..., node: _Optional[int] = ...) -> None: ...

class FolioMapcountResponse(_message.Message):
    __slots__ = ("folio_mapcount", "page_mapcount_raw", "refcount", "pinned", "folio", "per_process", "entire_mapcount", "page_mapcount")
    class PerProcessEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: int
        value: int
        def __init__(self, key: _Optional[int] = ..., value: _Optional[int] = ...) -> None: ...
    FOLIO_MAPCOUNT_FIELD_NUMBER: _ClassVar[int]
    PAGE_MAPCOUNT_RAW_FIELD_NUMBER: _ClassVar[int]
    REFCOUNT_FIELD_NUMBER: _ClassVar[int]
    PINNED_FIELD_NUMBER: _ClassVar[int]
    FOLIO_FIELD_NUMBER: _ClassVar[int]
    PER_PROCESS_FIELD_NUMBER: _ClassVar[int]
    ENTIRE_MAPCOUNT_FIELD_NUMBER: _ClassVar[int]
    PAGE_MAPCOUNT_FIELD_NUMBER: _ClassVar[int]
    folio_mapcount: int
    page_mapcount_raw: int
    refcount: int
    pinned: bool
    folio: _common_pb2.Folio
    per_process: _containers.ScalarMap[int, int]
    entire_mapcount: int
    page_mapcount: int
    def __init__(self, folio_mapcount: _Optional[int] = ..., page_mapcount_raw: _Optional[int] = ..., refcount: _Optional[int] = ..., pinned: _Optional[bool] = ..., folio: _Optional[_Union[_common_pb2.Folio, _Mapping]] = ..., per_process: _Optional[_Mapping[int, int]] = ..., entire_mapcount: _Optional[int] = ..., page_mapcount: _Optional[int] = ...) -> None: ...

class MkcleanFolio(_message.Message):
    __slots__ = ("folio", "index")
    FOLIO_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    folio: _common_pb2.Folio
    index: int
    def __init__(self, folio: _Optional[_Union[_common_pb2.Folio, _Mapping]] = ..., index: _Optional[int] = ...) -> None: ...

class FolioMkcleanRequest(_message.Message):
    __slots__ = ("mapping", "folios")
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    FOLIOS_FIELD_NUMBER: _ClassVar[int]
    mapping: str
    folios: _containers.RepeatedCompositeFieldContainer[MkcleanFolio]
    def __init__(self, mapping: _Optional[str] = ..., folios: _Optional[_Iterable[_Union[MkcleanFolio, _Mapping]]] = ...) -> None: ...

class FolioMkcleanResponse(_message.Message):
    __slots__ = ("cleaned", "pte_dirty", "vmas")
    CLEANED_FIELD_NUMBER: _ClassVar[int]
    PTE_DIRTY_FIELD_NUMBER: _ClassVar[int]
    VMAS_FIELD_NUMBER: _ClassVar[int]
    cleaned: _containers.RepeatedScalarFieldContainer[int]
    pte_dirty: _containers.RepeatedScalarFieldContainer[bool]
    vmas: int
    def __init__(self, cleaned: _Optional[_Iterable[int]] = ..., pte_dirty: _Optional[_Iterable[bool]] = ..., vmas: _Optional[int] = ...) -> None: ...

class MapManyRequest(_message.Message):
    __slots__ = ("pid", "mapping", "offset", "count", "prot", "shared", "counter_bits")
    PID_FIELD_NUMBER: _ClassVar[int]
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    PROT_FIELD_NUMBER: _ClassVar[int]
    SHARED_FIELD_NUMBER: _ClassVar[int]
    COUNTER_BITS_FIELD_NUMBER: _ClassVar[int]
    pid: int
    mapping: str
    offset: int
    count: int
    prot: _containers.RepeatedScalarFieldContainer[Prot]
    shared: bool
    counter_bits: int
    def __init__(self, pid: _Optional[int] = ..., mapping: _Optional[str] = ..., offset: _Optional[int] = ..., count: _Optional[int] = ..., prot: _Optional[_Iterable[_Union[Prot, str]]] = ..., shared: _Optional[bool] = ..., counter_bits: _Optional[int] = ...) -> None: ...

class MapManyResponse(_message.Message):
    __slots__ = ("address", "mappings", "tasks", "killed", "pinned", "saturated", "wraps", "mapcount_raw", "refcount", "folio", "killed_reason")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    MAPPINGS_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    KILLED_FIELD_NUMBER: _ClassVar[int]
    PINNED_FIELD_NUMBER: _ClassVar[int]
    SATURATED_FIELD_NUMBER: _ClassVar[int]
    WRAPS_FIELD_NUMBER: _ClassVar[int]
    MAPCOUNT_RAW_FIELD_NUMBER: _ClassVar[int]
    REFCOUNT_FIELD_NUMBER: _ClassVar[int]
    FOLIO_FIELD_NUMBER: _ClassVar[int]
    KILLED_REASON_FIELD_NUMBER: _ClassVar[int]
    address: int
    mappings: int
    tasks: int
    killed: int
    pinned: bool
    saturated: int
    wraps: int
    mapcount_raw: int
    refcount: int
    folio: _common_pb2.Folio
    killed_reason: str
    def __init__(self, address: _Optional[int] = ..., mappings: _Optional[int] = ..., tasks: _Optional[int] = ..., killed: _Optional[int] = ..., pinned: _Optional[bool] = ..., saturated: _Optional[int] = ..., wraps: _Optional[int] = ..., mapcount_raw: _Optional[int] = ..., refcount: _Optional[int] = ..., folio: _Optional[_Union[_common_pb2.Folio, _Mapping]] = ..., killed_reason: _Optional[str] = ...) -> None: ...

class PinPagesRequest(_message.Message):
    __slots__ = ("pid", "address", "count")
    PID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    pid: int
    address: int
    count: int
    def __init__(self, pid: _Optional[int] = ..., address: _Optional[int] = ..., count: _Optional[int] = ...) -> None: ...

class PinPagesResponse(_message.Message):
    __slots__ = ("pinned", "refused", "refcount", "pfn")
    PINNED_FIELD_NUMBER: _ClassVar[int]
    REFUSED_FIELD_NUMBER: _ClassVar[int]
    REFCOUNT_FIELD_NUMBER: _ClassVar[int]
    PFN_FIELD_NUMBER: _ClassVar[int]
    pinned: int
    refused: int
    refcount: int
    pfn: int
    def __init__(self, pinned: _Optional[int] = ..., refused: _Optional[int] = ..., refcount: _Optional[int] = ..., pfn: _Optional[int] = ...) -> None: ...

class RmapWalkRequest(_message.Message):
    __slots__ = ("pfn", "node")
    PFN_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    pfn: int
    node: int
    def __init__(self, pfn: _Optional[int] = ..., node: _Optional[int] = ...) -> None: ...

class RmapMapping(_message.Message):
    __slots__ = ("pid", "address", "kind", "vmas", "tasks")
    PID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    VMAS_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    pid: int
    address: int
    kind: str
    vmas: int
    tasks: int
    def __init__(self, pid: _Optional[int] = ..., address: _Optional[int] = ..., kind: _Optional[str] = ..., vmas: _Optional[int] = ..., tasks: _Optional[int] = ...) -> None: ...

class RmapWalkResponse(_message.Message):
    __slots__ = ("mappings", "ptes")
    MAPPINGS_FIELD_NUMBER: _ClassVar[int]
    PTES_FIELD_NUMBER: _ClassVar[int]
    mappings: _containers.RepeatedCompositeFieldContainer[RmapMapping]
    ptes: int
    def __init__(self, mappings: _Optional[_Iterable[_Union[RmapMapping, _Mapping]]] = ..., ptes: _Optional[int] = ...) -> None: ...
