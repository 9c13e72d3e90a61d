"""What every gRPC client of the services shares (the services' peers and the Python client / CLI): the stub
of each service, the channel options and gRPC's own retry policy. Light on purpose: it imports neither
OpenTelemetry nor Redis, and a service's generated modules only when its stub is first asked for, so a CLI
command loads the protobuf descriptors of the services it calls and no others.
"""

from __future__ import annotations

import importlib
import json

# short service name -> (generated gRPC module under mmsim.v1, stub class); "trace" and "check" are served by all
_STUBS = {
    "allocator": ("page_allocator_pb2_grpc", "PageAllocatorServiceStub"),
    "pagecache": ("page_cache_pb2_grpc", "PageCacheServiceStub"),
    "filesystem": ("filesystem_pb2_grpc", "FilesystemServiceStub"),
    "rmap": ("reverse_map_pb2_grpc", "ReverseMapServiceStub"),
    "trace": ("trace_pb2_grpc", "TraceServiceStub"),
    "check": ("check_pb2_grpc", "CheckServiceStub"),
}


def stub_class(service: str):
    """The generated stub class of ``service`` ("allocator", ..., "trace", "check"), its module imported now."""
    module, name = _STUBS[service]
    return getattr(importlib.import_module(f"mmsim.v1.{module}"), name)


# gRPC's own retry (gRFC A6) of UNAVAILABLE, with backoff, for every method of every service ("name": [{}] is
# the default method config); the same metadata goes again, so a mutating call's request id is the same.
RETRY_POLICY = {"maxAttempts": 5, "initialBackoff": "0.05s", "maxBackoff": "1s", "backoffMultiplier": 2,
                "retryableStatusCodes": ["UNAVAILABLE"]}
SERVICE_CONFIG = json.dumps({"methodConfig": [{"name": [{}], "retryPolicy": RETRY_POLICY}]})

# A restarted peer is reachable again within a second: gRPC's default reconnect backoff grows to 120 s.
CHANNEL_OPTIONS = [("grpc.initial_reconnect_backoff_ms", 100), ("grpc.min_reconnect_backoff_ms", 100),
                   ("grpc.max_reconnect_backoff_ms", 1000), ("grpc.service_config", SERVICE_CONFIG)]

# trailing metadata of a grpc.health.v1 Check that answers NOT_SERVING: why (mmsim.runtime.serve.EpochHealth)
NOT_SERVING_REASON_KEY = "mmsim-not-serving-reason"
