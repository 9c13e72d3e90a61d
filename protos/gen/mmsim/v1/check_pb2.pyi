from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CheckRequest(_message.Message):
    __slots__ = ("cluster", "max_violations")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    MAX_VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    cluster: bool
    max_violations: int
    def __init__(self, cluster: _Optional[bool] = ..., max_violations: _Optional[int] = ...) -> None: ...

class Violation(_message.Message):
    __slots__ = ("rule", "service", "pfn", "key", "message")
    RULE_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    PFN_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    rule: str
    service: str
    pfn: int
    key: str
    message: str
    def __init__(self, rule: _Optional[str] = ..., service: _Optional[str] = ..., pfn: _Optional[int] = ..., key: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class CheckResponse(_message.Message):
    __slots__ = ("violations", "owners", "checked", "services", "truncated")
    class OwnersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class CheckedEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    OWNERS_FIELD_NUMBER: _ClassVar[int]
    CHECKED_FIELD_NUMBER: _ClassVar[int]
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    violations: _containers.RepeatedCompositeFieldContainer[Violation]
    owners: _containers.ScalarMap[str, int]
    checked: _containers.ScalarMap[str, int]
    services: _containers.RepeatedScalarFieldContainer[str]
    truncated: bool
    def __init__(self, violations: _Optional[_Iterable[_Union[Violation, _Mapping]]] = ..., owners: _Optional[_Mapping[str, int]] = ..., checked: _Optional[_Mapping[str, int]] = ..., services: _Optional[_Iterable[str]] = ..., truncated: _Optional[bool] = ...) -> None: ...

class RecoverRequest(_message.Message):
    __slots__ = ("older_than_ms", "cluster")
    OLDER_THAN_MS_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    older_than_ms: int
    cluster: bool
    def __init__(self, older_than_ms: _Optional[int] = ..., cluster: _Optional[bool] = ...) -> None: ...

class RecoverResponse(_message.Message):
    __slots__ = ("pages_reclaimed",)
    PAGES_RECLAIMED_FIELD_NUMBER: _ClassVar[int]
    pages_reclaimed: int
    def __init__(self, pages_reclaimed: _Optional[int] = ...) -> None: ...
