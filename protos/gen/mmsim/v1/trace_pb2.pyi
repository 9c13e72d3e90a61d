from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TraceKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRACE_KIND_UNSPECIFIED: _ClassVar[TraceKind]
    TRACE_KIND_ANY: _ClassVar[TraceKind]
    TRACE_KIND_FAULT: _ClassVar[TraceKind]
TRACE_KIND_UNSPECIFIED: TraceKind
TRACE_KIND_ANY: TraceKind
TRACE_KIND_FAULT: TraceKind

class Span(_message.Message):
    __slots__ = ("trace_id", "span_id", "parent_span_id", "service", "name", "start_unix_ms", "duration_ms", "status", "redis_round_trips", "attributes", "child_calls", "entry", "events")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    SPAN_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_SPAN_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    START_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REDIS_ROUND_TRIPS_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    CHILD_CALLS_FIELD_NUMBER: _ClassVar[int]
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    trace_id: str
    span_id: str
    parent_span_id: str
    service: str
    name: str
    start_unix_ms: float
    duration_ms: float
    status: str
    redis_round_trips: int
    attributes: _containers.ScalarMap[str, str]
    child_calls: int
    entry: bool
    events: _containers.RepeatedCompositeFieldContainer[SpanEvent]
    def __init__(self, trace_id: _Optional[str] = ..., span_id: _Optional[str] = ..., parent_span_id: _Optional[str] = ..., service: _Optional[str] = ..., name: _Optional[str] = ..., start_unix_ms: _Optional[float] = ..., duration_ms: _Optional[float] = ..., status: _Optional[str] = ..., redis_round_trips: _Optional[int] = ..., attributes: _Optional[_Mapping[str, str]] = ..., child_calls: _Optional[int] = ..., entry: _Optional[bool] = ..., events: _Optional[_Iterable[_Union[SpanEvent, _Mapping]]] = ...) -> None: ...

class SpanEvent(_message.Message):
    __slots__ = ("name", "time_unix_ms", "attributes")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    TIME_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    name: str
    time_unix_ms: float
    attributes: _containers.ScalarMap[str, str]
    def __init__(self, name: _Optional[str] = ..., time_unix_ms: _Optional[float] = ..., attributes: _Optional[_Mapping[str, str]] = ...) -> None: ...

class GetTraceRequest(_message.Message):
    __slots__ = ("trace_id",)
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    trace_id: str
    def __init__(self, trace_id: _Optional[str] = ...) -> None: ...

class GetTraceResponse(_message.Message):
    __slots__ = ("spans",)
    SPANS_FIELD_NUMBER: _ClassVar[int]
    spans: _containers.RepeatedCompositeFieldContainer[Span]
    def __init__(self, spans: _Optional[_Iterable[_Union[Span, _Mapping]]] = ...) -> None: ...

class ListTracesRequest(_message.Message):
    __slots__ = ("limit", "kind")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    limit: int
    kind: TraceKind
    def __init__(self, limit: _Optional[int] = ..., kind: _Optional[_Union[TraceKind, str]] = ...) -> None: ...

class ListTracesResponse(_message.Message):
    __slots__ = ("trace_ids",)
    TRACE_IDS_FIELD_NUMBER: _ClassVar[int]
    trace_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, trace_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class EchoHop(_message.Message):
    __slots__ = ("addr", "redis_round_trips", "writes")
    ADDR_FIELD_NUMBER: _ClassVar[int]
    REDIS_ROUND_TRIPS_FIELD_NUMBER: _ClassVar[int]
    WRITES_FIELD_NUMBER: _ClassVar[int]
    addr: str
    redis_round_trips: int
    writes: bool
    def __init__(self, addr: _Optional[str] = ..., redis_round_trips: _Optional[int] = ..., writes: _Optional[bool] = ...) -> None: ...

class EchoRequest(_message.Message):
    __slots__ = ("redis_round_trips", "hops", "payload", "writes")
    REDIS_ROUND_TRIPS_FIELD_NUMBER: _ClassVar[int]
    HOPS_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    WRITES_FIELD_NUMBER: _ClassVar[int]
    redis_round_trips: int
    hops: _containers.RepeatedCompositeFieldContainer[EchoHop]
    payload: bytes
    writes: bool
    def __init__(self, redis_round_trips: _Optional[int] = ..., hops: _Optional[_Iterable[_Union[EchoHop, _Mapping]]] = ..., payload: _Optional[bytes] = ..., writes: _Optional[bool] = ...) -> None: ...

class EchoResponse(_message.Message):
    __slots__ = ("payload", "hops")
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    HOPS_FIELD_NUMBER: _ClassVar[int]
    payload: bytes
    hops: int
    def __init__(self, payload: _Optional[bytes] = ..., hops: _Optional[int] = ...) -> None: ...
