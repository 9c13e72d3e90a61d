"""The ``mmsim`` command line: run the stack, look at traces, run the demo and the benchmarks."""

from __future__ import annotations

import argparse
import json
import sys

import grpc

from mmsim import cli_ops, stack
from mmsim.runtime import config, profiles


def to_dict(message) -> dict:
    """A protobuf message as plain JSON-able Python: every field, 64-bit ints as numbers, enums by name."""
    out = {}
    for field in message.DESCRIPTOR.fields:
        value = getattr(message, field.name)
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            out[field.name] = dict(value)
        elif field.message_type is not None:
            out[field.name] = [to_dict(v) for v in value] if field.is_repeated else to_dict(value)
        elif field.enum_type is not None:
            name = field.enum_type.values_by_number
            out[field.name] = [name[v].name for v in value] if field.is_repeated else name[value].name
        else:
            out[field.name] = list(value) if field.is_repeated else value
    return out


def _settings(args) -> config.Settings:
    return config.load()


def cmd_up(args) -> int:
    settings = _settings(args)
    started = stack.up(settings)
    for row in stack.status(settings):
        mark = "started" if row["name"] in started else "running"
        print(f"{row['name']:<11} {row['addr']:<28} pid {row['pid']:<8} {row['health']:<12} {mark:<8} log {row['log']}")
    print(f"profile {settings.profile}; memory {settings.memory_bytes >> 20} MiB; stop with `mmsim down`")
    return 0


def cmd_down(args) -> int:
    stopped = stack.down(_settings(args))
    print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    return 0


def cmd_status(args) -> int:
    settings = _settings(args)
    rows = stack.status(settings)
    prof = profiles.get(settings.profile).to_dict()
    if args.json:
        print(json.dumps({"profile": prof, "services": rows}, indent=2))
    else:
        for row in rows:
            print(f"{row['name']:<11} {row['addr']:<28} pid {str(row['pid'] or '-'):<8} {row['health']}")
        print("profile " + " ".join(f"{k}={v}" for k, v in prof.items()))
    return 0 if all(r["health"] == "SERVING" for r in rows) else 1


def cmd_trace(args) -> int:
    from mmsim.client import Cluster  # noqa: PLC0415

    with Cluster.connect() as mm:
        trace_id = args.trace_id
        if args.action == "last":
            ids = mm.traces(1)
            if not ids:
                print("no traces recorded yet", file=sys.stderr)
                return 1
            trace_id = ids[0]
        elif not trace_id:
            print("mmsim trace show TRACE_ID", file=sys.stderr)
            return 2
        tree = mm.trace(trace_id)
        print(tree.to_json() if args.json else tree.render())
    return 0


def cmd_xa(args) -> int:
    from mmsim.client import Cluster  # noqa: PLC0415
    from mmsim.v1 import page_cache_pb2  # noqa: PLC0415

    with Cluster.connect() as mm:
        if args.action == "stats":
            resp = mm.call("pagecache", "XaStats", page_cache_pb2.XaStatsRequest(mapping=args.mapping))
            fields = to_dict(resp)
            if args.json:
                print(json.dumps(fields, indent=2))
            else:
                for key, value in fields.items():
                    print(f"{key:<15} {value}")
        else:
            print(mm.call("pagecache", "XaDump", page_cache_pb2.XaDumpRequest(mapping=args.mapping)).text)
    return 0


PROC_FILES = {"buddyinfo": "BuddyInfo", "pagetypeinfo": "PageTypeInfo", "vmstat": "VmStat", "meminfo": "MemInfo"}


def cmd_proc(args) -> int:
    from mmsim.client import Cluster  # noqa: PLC0415
    from mmsim.v1 import page_allocator_pb2 as pb  # noqa: PLC0415

    method = PROC_FILES[args.file]
    with Cluster.connect() as mm:
        resp = mm.call("allocator", method, getattr(pb, f"{method}Request")())
    if args.json:
        print(json.dumps(to_dict(resp), indent=2))
    else:
        print(resp.text, end="" if resp.text.endswith("\n") else "\n")
    return 0


def cmd_page(args) -> int:
    from mmsim.client import Cluster  # noqa: PLC0415
    from mmsim.v1 import page_allocator_pb2 as pb  # noqa: PLC0415

    with Cluster.connect() as mm:
        resp = mm.call("allocator", "GetPage", pb.GetPageRequest(pfn=int(args.pfn, 0)))
    print(json.dumps(to_dict(resp.page), indent=2) if args.json else resp.text)
    return 0


def cmd_demo(args) -> int:
    from mmsim.demo import run  # noqa: PLC0415

    return run()


def cmd_bench(args) -> int:
    from mmsim.bench import run  # noqa: PLC0415

    return run(args.what, args)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mmsim", description="A laboratory for Linux memory-management ideas.")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start redis-server and the four services in the background").set_defaults(func=cmd_up)
    sub.add_parser("down", help="stop what `mmsim up` started (by PID)").set_defaults(func=cmd_down)
    st = sub.add_parser("status", help="each service's address and grpc.health.v1 status")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=cmd_status)
    tr = sub.add_parser("trace", help="show the span tree of one operation across the services")
    tr.add_argument("action", choices=["show", "last"])
    tr.add_argument("trace_id", nargs="?")
    tr.add_argument("--json", action="store_true")
    tr.set_defaults(func=cmd_trace)
    xa = sub.add_parser("xa", help="a mapping's XArray: stats (entries, nodes, height, Redis bytes) or dump (the tree)")
    xa.add_argument("action", choices=["stats", "dump"])
    xa.add_argument("mapping", help="the file's mapping id, FS/INO (printed by create)")
    xa.add_argument("--json", action="store_true")
    xa.set_defaults(func=cmd_xa)
    pr = sub.add_parser("proc", help="/proc/buddyinfo, pagetypeinfo, vmstat, meminfo in the kernel's formats")
    pr.add_argument("file", choices=sorted(PROC_FILES))
    pr.add_argument("--json", action="store_true")
    pr.set_defaults(func=cmd_proc)
    pg = sub.add_parser("page", help="one struct page, decoded the way page-types/drgn print it")
    pg.add_argument("pfn", help="page frame number (decimal or 0x...)")
    pg.add_argument("--json", action="store_true")
    pg.set_defaults(func=cmd_page)
    cli_ops.add_parsers(sub)
    sub.add_parser("demo", help="start a private stack, fault a file mapping, print the trace, stop").set_defaults(func=cmd_demo)
    be = sub.add_parser("bench", help="benchmarks that print figures (ratios against a baseline in the same run)")
    be.add_argument("what", choices=["fault"])
    be.add_argument("--faults", type=int, default=200, help="faults per kind")
    be.set_defaults(func=cmd_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except grpc.RpcError as exc:
        print(f"mmsim: {exc.code().name}: {exc.details()}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
