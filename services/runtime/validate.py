"""Checks every request passes at the server edge (mmsim.runtime.serve), before any handler runs.

proto3 enums are open: a caller can send any int32 in an enum field (``flags: [2147483647]`` in a GfpMask,
``zone: 7``), and protobuf keeps it. The handlers were written for the named values only, so a value the
.proto does not define is refused here as INVALID_ARGUMENT naming the field, for every RPC at once.
"""

from __future__ import annotations

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from mmsim.runtime.errors import InvalidArgument


def _check_enum(field: FieldDescriptor, values, path: str) -> None:
    for v in values:
        if v not in field.enum_type.values_by_number:
            raise InvalidArgument(f"{path}: {v} is not a {field.enum_type.name} value")


def check_enums(message: Message, prefix: str = "") -> None:
    """Raise InvalidArgument for the first enum field, at any depth, holding a value its enum does not define."""
    for field, value in message.ListFields():
        path = prefix + field.name
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            vfield = field.message_type.fields_by_name["value"]
            if vfield.enum_type is not None:
                _check_enum(vfield, value.values(), path)
            elif vfield.message_type is not None:
                for k, v in value.items():
                    check_enums(v, f"{path}[{k!r}].")
        elif field.enum_type is not None:
            _check_enum(field, value if field.is_repeated else [value], path)
        elif field.message_type is not None:
            for i, item in enumerate(value if field.is_repeated else [value]):
                check_enums(item, f"{path}[{i}]." if field.is_repeated else path + ".")
