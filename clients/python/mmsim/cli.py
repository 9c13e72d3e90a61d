"""The ``mmsim`` command line: one subcommand per user-level operation of the simulated kernel.

    mmsim up                                   mmsim spawn reader           -> 1
    mmsim mkfs xfs0 --block-size 16KiB         mmsim mmap 1 xfs0/1 1MiB     -> 0x7ffff7f00000
    mmsim create xfs0 /data/a  -> xfs0/1       mmsim fault 1 0x7ffff7f01000 --trace
    mmsim write xfs0/1 0 hello --repeat 1000   mmsim proc buddyinfo --json

Commands live in cli_stack (up/down/status/reset/demo/bench), cli_ops (files and processes), cli_mem
(allocators, struct page, folios), cli_inspect (/proc files, XArray, traces), cli_debug (check, recover,
thp stats, evict), cli_run (scenario files) and cli_experiment (the to-do list's experiments); the shared machinery (the
app, --json, errors, exit codes, number parsing) in cli_base. Nothing here imports grpc or protobuf: a
command loads the client when it runs, and `mmsim NAME` imports only the modules that add NAME (COMMANDS).
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Annotated

import typer

from mmsim import cli_base
from mmsim.cli_base import app

# The modules that add commands, each with the names it adds to `mmsim` (a group's name when it adds a
# command to a group that another module made). `mmsim NAME ...` imports only the modules that list NAME
# (cli_base.LazyGroup: a command's start-up is its own imports); `mmsim --help` imports them all. A new
# module goes here with its names (tests/unit/test_cli_imports.py checks the table against the commands).
COMMANDS = {
    "cli_stack": "up down status reset demo bench",
    "cli_ops": "mkfs statfs create write read stat truncate punch-hole reflink unlink fsync fadvise drop-caches "
               "spawn mmap munmap fault read-memory write-memory exit",
    "cli_mem": "kmalloc vmalloc kvmalloc kvmalloc-array kvcalloc kvmalloc-struct kvfree malloc free alloc-pages "
               "free-pages fragment unfragment page folio",
    "cli_inspect": "proc maps xa trace",
    "cli_debug": "check recover thp evict",
    "cli_run": "run",
    "cli_experiment": "experiment",
    "cli_bench": "bench",
    "cli_reclaim": "pressure proc",
    "cli_rmap": "mapcount-overflow rmap fork mprotect",
    "cli_pmd": "smaps",
    "cli_pictures": "xa",
    "cli_web": "web",
    "cli_lru": "lru",
}


def command_tree():
    """The click command of `mmsim` with every command loaded (what `mmsim --help` lists)."""
    import typer.main  # noqa: PLC0415

    group = typer.main.get_command(app)
    group.list_commands(None)
    return group


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version  # noqa: PLC0415

        typer.echo(f"mmsim {version('mmsim')}")
        raise typer.Exit()


@app.callback()
def root(
    target: Annotated[str, typer.Option(
        "--target", metavar="HOST",
        help="talk to the stack on HOST (every service at its usual port, e.g. a compose stack: "
             "--target 127.0.0.1), or SERVICE=HOST:PORT,... for each address "
             "(e.g. allocator=10.0.0.5:50061,rmap=10.0.0.6:50064); default: MMSIM_*_ADDR or `mmsim up`'s")] = "",
    addr: Annotated[list[str] | None, typer.Option(
        "--addr", metavar="SERVICE=HOST:PORT",
        help="one service's address, repeatable (e.g. --addr rmap=127.0.0.1:50064)")] = None,
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="print mmsim's version and exit")] = False,
) -> None:
    """A laboratory for Linux memory-management ideas: drive the simulated kernel from the shell."""
    cli_base.TARGET[0] = ",".join(filter(None, [target, *(addr or [])]))


def main(argv: list[str] | None = None) -> int:
    """Run one command line in this process; typer's exit code."""
    try:
        app(args=argv, prog_name="mmsim")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


def run() -> None:
    """The `mmsim` console script: :func:`main`, then the process ends as soon as its output is flushed.

    Tearing the interpreter down (grpc's core, every module's objects) cost a command about 0.1 s of CPU
    and does nothing a command needs: the files it writes are closed and its threads joined by then, and
    the processes `mmsim up` starts are in sessions of their own. A command that still has a thread
    running (none does today) gets the ordinary exit, which waits for it."""
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:                    # `mmsim ... | head`: the reader has gone
        code = cli_base.EXIT_SIGPIPE
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        sys.exit(code)
    os._exit(code)


if __name__ == "__main__":
    run()
