"""`mmsim` subcommands that drive a running cluster from the shell: filesystems, files, processes, faults.

    mmsim mkfs xfs0 --block-size 16384           mmsim spawn reader
    mmsim create xfs0 /data/a                    mmsim mmap 1 xfs0/1 1048576
    mmsim write xfs0/1 0 hello --repeat 1000     mmsim fault 1 0x7ffff7f00000 --trace
    mmsim read xfs0/1 0 16                       mmsim maps 1
"""

from __future__ import annotations

import argparse

from mmsim.client import Cluster, File, Filesystem, Process
from mmsim.runtime.vmfault import VmFault
from mmsim.v1 import filesystem_pb2, reverse_map_pb2


def _file(mm: Cluster, mapping: str) -> File:
    fs = mapping.split("/", 1)[0]
    return File(mm, Filesystem(mm, fs, 0, ""), "", mapping)


def _int(text: str) -> int:
    return int(text, 0)


def run(args) -> int:
    with Cluster.connect() as mm:
        if args.command == "mkfs":
            fs = mm.mkfs(args.name, args.block_size, args.profile, args.alloc_context, args.max_folio_order)
            print(f"{fs.name}: block size {fs.block_size} bytes, profile {fs.profile}")
        elif args.command == "create":
            print(mm.call("filesystem", "Create", filesystem_pb2.CreateRequest(fs=args.fs, path=args.path)).mapping)
        elif args.command == "write":
            f = _file(mm, args.mapping)
            print(f"wrote {f.write(_int(args.offset), args.data.encode() * args.repeat)} bytes")
        elif args.command == "read":
            print(_file(mm, args.mapping).read(_int(args.offset), _int(args.length)))
        elif args.command == "truncate":
            print(f"i_size {_file(mm, args.mapping).truncate(_int(args.size)).i_size}")
        elif args.command == "fsync":
            _file(mm, args.mapping).fsync()
        elif args.command == "spawn":
            print(mm.spawn(args.comm).pid)
        elif args.command == "mmap":
            vma = Process(mm, args.pid, "").mmap(_file(mm, args.mapping), _int(args.length), args.prot,
                                                 not args.private, _int(args.offset))
            print(f"{vma.start:#x}-{vma.end:#x}")
        elif args.command == "fault":
            r = Process(mm, args.pid, "").fault(_int(args.address), args.write)
            print(f"{r.vm_fault or VmFault(0)} pfn {r.pfn:#x} folio order {r.folio_order} "
                  f"mapped {r.pages_mapped}+{r.pages_mapped_around} major {r.major} trace {r.trace_id}")
            if args.trace:
                print(mm.trace(r.trace_id).render())
        elif args.command == "maps":
            print(mm.call("rmap", "ProcMaps", reverse_map_pb2.ProcMapsRequest(pid=args.pid)).text)
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("mkfs", help="create a filesystem (block size 4 KiB..64 KiB)")
    p.add_argument("name")
    p.add_argument("--block-size", type=int, default=4096)
    p.add_argument("--profile", default="", help="lsfmm2018, linux-6.12, linux-7.3 (default: MMSIM_PROFILE)")
    p.add_argument("--alloc-context", default="", choices=["", "scope", "gfp_nofs", "none"])
    p.add_argument("--max-folio-order", type=int, default=None)
    p = sub.add_parser("create", help="create a file; prints its mapping id FS/INO")
    p.add_argument("fs")
    p.add_argument("path")
    p = sub.add_parser("write", help="write(2) DATA (repeated) at OFFSET")
    p.add_argument("mapping")
    p.add_argument("offset")
    p.add_argument("data")
    p.add_argument("--repeat", type=int, default=1)
    p = sub.add_parser("read", help="read(2) LENGTH bytes at OFFSET")
    p.add_argument("mapping")
    p.add_argument("offset")
    p.add_argument("length")
    p = sub.add_parser("truncate", help="truncate(2) to SIZE bytes")
    p.add_argument("mapping")
    p.add_argument("size")
    p = sub.add_parser("fsync", help="fsync(2): write back the dirty folios")
    p.add_argument("mapping")
    p = sub.add_parser("spawn", help="create a process; prints its pid")
    p.add_argument("comm")
    p = sub.add_parser("mmap", help="mmap(2) a file into a process; prints start-end")
    p.add_argument("pid", type=int)
    p.add_argument("mapping")
    p.add_argument("length")
    p.add_argument("--offset", default="0")
    p.add_argument("--prot", default="r")
    p.add_argument("--private", action="store_true", help="MAP_PRIVATE (default MAP_SHARED)")
    p = sub.add_parser("fault", help="a page fault at ADDRESS; prints vm_fault, pfn and the trace id")
    p.add_argument("pid", type=int)
    p.add_argument("address")
    p.add_argument("--write", action="store_true")
    p.add_argument("--trace", action="store_true", help="also print the span tree")
    p = sub.add_parser("maps", help="/proc/PID/maps")
    p.add_argument("pid", type=int)
    for name in ("mkfs", "create", "write", "read", "truncate", "fsync", "spawn", "mmap", "fault", "maps"):
        sub.choices[name].set_defaults(func=run)
