"""Container health check: exit 0 when this container's service answers grpc.health.v1 SERVING.

The service is named by MMSIM_SERVICE (allocator, pagecache, filesystem, rmap); its address comes from the
usual MMSIM_<SERVICE>_ADDR setting.
"""

from __future__ import annotations

import sys

from mmsim.runtime import config
from mmsim.stack import health


def main() -> int:
    settings = config.load()
    service = settings.service
    if service not in settings.addrs:
        print(f"MMSIM_SERVICE must be one of {', '.join(settings.addrs)}, got {service!r}", file=sys.stderr)
        return 2
    port = settings.addrs[service].rsplit(":", 1)[1]
    status = health(f"127.0.0.1:{port}")
    print(status)
    return 0 if status == "SERVING" else 1


if __name__ == "__main__":
    sys.exit(main())
