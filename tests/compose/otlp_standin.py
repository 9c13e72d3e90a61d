"""A stand-in for Jaeger in `make compose-test`: an OTLP/gRPC trace receiver on :4317 that prints one JSON line
per span it is sent ({"trace_id", "service", "name"}), so the test can read `docker-compose logs jaeger`.

Run inside the mmsim image (which has grpcio and opentelemetry-proto) by tests/compose/otlp-standin.yaml.
"""

import json
import signal
import sys
import threading
from concurrent import futures

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc


class Receiver(trace_service_pb2_grpc.TraceServiceServicer):
    """Export runs on any of the server's worker threads: one lock around stdout, one write per line, so two
    services exporting at once never interleave their spans on a line."""

    def __init__(self):
        self._out = threading.Lock()

    def Export(self, request, context):
        lines = []
        for rs in request.resource_spans:
            attrs = {a.key: a.value.string_value for a in rs.resource.attributes}
            for ss in rs.scope_spans:
                for span in ss.spans:
                    lines.append(json.dumps({"trace_id": span.trace_id.hex(), "service": attrs.get("service.name", ""),
                                             "name": span.name}) + "\n")
        with self._out:
            sys.stdout.write("".join(lines))
            sys.stdout.flush()
        return trace_service_pb2.ExportTraceServiceResponse()


def main() -> int:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Receiver(), server)
    server.add_insecure_port("0.0.0.0:4317")
    server.start()
    signal.signal(signal.SIGTERM, lambda *_: server.stop(0))  # `docker-compose down` without the 10 s wait
    print("otlp stand-in listening on :4317", file=sys.stderr, flush=True)
    server.wait_for_termination()
    return 0


if __name__ == "__main__":
    sys.exit(main())
