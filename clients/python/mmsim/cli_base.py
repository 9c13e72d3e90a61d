"""What every `mmsim` subcommand shares: the typer app and its groups, number parsing, `--json` output, errors,
exit codes and the connection to the stack.

A command is one small function that returns an :class:`Out` (the JSON-able data and the text for a terminal):

    @command(proc_app, "vmstat")
    def vmstat() -> Out:
        \"\"\"/proc/vmstat: the kernel's counters by name.\"\"\"
        with connect() as mm:
            values = mm.vmstat()
        return Out(values, "\\n".join(f"{k} {v}" for k, v in values.items()))

:func:`command` registers it, adds ``--json``, prints the result and turns the client's errors into a message
and an exit code. Nothing heavy is imported here (no grpc, protobuf or rich): a command imports the client
when it runs, so `mmsim --help` and completion stay fast.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import json
import os
import re
import sys
from dataclasses import dataclass, field
from typing import Annotated, Any, Callable

import typer
import typer.core
import typer.main

# Exit codes. A fault that the kernel would answer with a signal exits 128 + that signal, as a shell reports a
# process the signal killed (VM_FAULT_OOM: the OOM killer's SIGKILL).
EXIT_OK = 0
EXIT_ERROR = 1        # the service refused the operation (the message names the gRPC status)
EXIT_USAGE = 2        # bad arguments (the message names the argument)
EXIT_DOWN = 3         # the stack cannot be reached
EXIT_SIGKILL = 128 + 9
EXIT_SIGBUS = 128 + 7
EXIT_SIGSEGV = 128 + 11
EXIT_SIGPIPE = 128 + 13

EXIT_CODES_HELP = (
    "Exit codes: 0 ok; 1 the service refused (the message names the gRPC status); 2 bad arguments; "
    "3 the stack cannot be reached; a failed fault exits as the signal the kernel would send: "
    "135 SIGBUS (VM_FAULT_SIGBUS, HWPOISON), 139 SIGSEGV (VM_FAULT_SIGSEGV), 137 SIGKILL (VM_FAULT_OOM)."
)

U32 = (1 << 32) - 1
U64 = (1 << 64) - 1
I64 = (1 << 63) - 1

def _coerce_without_pydantic() -> None:
    """typer 0.29 coerces every parameter value through a pydantic TypeAdapter, and importing pydantic costs
    a command ~0.15 s of start-up. The parameters mmsim declares (a ``parser=``, str, int, a list of either)
    are coerced here instead, as typer's adapter would (the parser's BadParameter propagates, a bad int says
    so); any other annotation (Enum, Literal, Path, a file...) still gets typer's adapter. Guarded: if typer's
    private hook is not there, typer's own coercion runs unchanged (only slower)."""
    try:
        from typer import _coercion, core  # noqa: PLC0415
        adapter_param = core.build_runtime_param
    except (ImportError, AttributeError):
        return

    @dataclass(frozen=True)
    class Plain(_coercion.RuntimeParam):
        convert: Callable[[Any], Any] = str
        many: bool = False

        def _coerce_value(self, value, param, ctx):
            try:
                if self.many:
                    return [self.convert(v) for v in (value if isinstance(value, (list, tuple)) else [value])]
                return self.convert(value)
            except ValueError:
                raise typer.BadParameter(f"{value!r} is not a valid {self.convert.__name__}", ctx=ctx,
                                         param=param) from None

    def text(value) -> str:
        return value.decode(errors="replace") if isinstance(value, bytes) else str(value)

    def boolean(value) -> bool:   # pydantic's lax bool: what an environment variable or a flag may give
        word = value.strip().lower() if isinstance(value, str) else value
        for answer, words in ((True, (True, 1, "1", "true", "t", "yes", "y", "on")),
                              (False, (False, 0, "", "0", "false", "f", "no", "n", "off"))):
            if word in words:
                return answer
        raise ValueError(value)

    def build(descriptor):
        info, ann = descriptor.parameter_info, descriptor.annotation
        many = getattr(ann, "__origin__", None) is list and len(getattr(ann, "__args__", ())) == 1
        leaf = ann.__args__[0] if many else ann
        convert = info.parser or {str: text, int: int, bool: boolean}.get(leaf)
        if (convert is None or descriptor.file_annotation is not None or info.min is not None
                or info.max is not None):
            return adapter_param(descriptor)
        return Plain(parameter_info=info, annotation=ann, convert=convert, many=many)

    core.build_runtime_param = build


_coerce_without_pydantic()


class LazyGroup(typer.core.TyperGroup):
    """The root command, which imports a subcommand's module when the subcommand is resolved (click's
    "lazily loading subcommands" pattern): `mmsim proc vmstat` imports cli_inspect and not the other
    command modules, and typer builds the click commands of that module only. mmsim.cli.COMMANDS says
    which modules add which names; a name it does not know (a typo: click suggests the closest), `mmsim
    --help` and shell completion load every module."""

    def get_command(self, ctx, cmd_name: str):
        self._load(_modules_of(cmd_name), cmd_name)
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx) -> list[str]:
        self._load(_modules_of(None), None)
        return super().list_commands(ctx)

    def _load(self, modules: tuple[str, ...], name: str | None) -> None:
        missing = [m for m in modules if m not in sys.modules]
        if not missing and name in self.commands:
            return
        for module in missing:
            importlib.import_module(module)
        self.commands.update(typer.main.get_group(app).commands)   # typer's click commands for what is registered


def _modules_of(name: str | None) -> tuple[str, ...]:
    """The command modules that add ``name`` to `mmsim` (all of them for None or a name none adds)."""
    from mmsim.cli import COMMANDS  # noqa: PLC0415  (the table beside the root callback)

    adding = tuple(m for m, names in COMMANDS.items() if name in names.split())
    return tuple(f"mmsim.{m}" for m in (adding or COMMANDS))


app = typer.Typer(
    name="mmsim",
    cls=LazyGroup,
    help="A laboratory for Linux memory-management ideas: drive the simulated kernel from the shell.\n\n"
    + EXIT_CODES_HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def group(name: str, help_text: str, panel: str = "Inspect") -> typer.Typer:
    """A subcommand group (`mmsim proc ...`) registered on the app under the help heading ``panel``."""
    sub = typer.Typer(help=help_text, no_args_is_help=True)
    app.add_typer(sub, name=name, rich_help_panel=panel)
    return sub


# Numbers ---------------------------------------------------------------------------------------------------


def number(lo: int = 0, hi: int = U64, sizes: bool = False) -> Callable[[str], int]:
    """A parser for a typer argument: decimal or 0x hex (and, with ``sizes``, 4KiB/2MiB/1GiB), in [lo, hi]."""

    def parse(text: str | int) -> int:
        if isinstance(text, int):
            value = text
        else:
            value = _to_int(text.strip().replace("_", ""), sizes)
            if value is None:
                kinds = "decimal, 0x hex" + (" or a size such as 64KiB, 2MiB" if sizes else "")
                raise typer.BadParameter(f"{text!r} is not a number ({kinds})")
        if not lo <= value <= hi:
            raise typer.BadParameter(f"{text} is out of range: {lo}..{hi:#x}" if hi > 1 << 20
                                     else f"{text} is out of range: {lo}..{hi}")
        return value

    return parse


def _to_int(text: str, sizes: bool) -> int | None:
    try:
        return int(text, 0)
    except ValueError:
        pass
    if sizes:
        from mmsim.runtime.config import parse_size  # noqa: PLC0415

        try:
            return parse_size(text)
        except ValueError:
            return None
    return None


def choice(*values: str) -> Callable[[str], str]:
    """A parser that accepts one of ``values`` (case-insensitive); "" (a default: "the profile's") passes."""

    def parse(text: str) -> str:
        low = text.strip().lower()
        if text and low not in values:
            raise typer.BadParameter(f"{text!r} is not one of: {', '.join(values)}")
        return low

    return parse


def arg(help_text: str, parser: Callable | None = None, metavar: str | None = None):
    return typer.Argument(help=help_text, parser=parser, metavar=metavar, show_default=False)


def opt(help_text: str, *names: str, parser: Callable | None = None, metavar: str | None = None):
    return typer.Option(*names, help=help_text, parser=parser, metavar=metavar)


def mapping_id(text: str) -> str:
    """A parser for a mapping id FS/INO (as `mmsim create` prints it)."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,32}/\d+", text):
        raise typer.BadParameter(f"{text!r} is not a mapping id FS/INO (e.g. xfs0/1)")
    return text


# The arguments most commands share, each with its help and an example.
Pid = Annotated[int, arg("process id, as `mmsim spawn` printed it (e.g. 1)", number(1, U32), "PID")]
Mapping = Annotated[str, arg("the file's mapping id FS/INO, as `mmsim create` printed it (e.g. xfs0/1)",
                             mapping_id, "MAPPING")]
Address = Annotated[int, arg("virtual address, decimal or 0x hex (e.g. 0x7ffff7f00000)", number(0, U64), "ADDRESS")]
Pfn = Annotated[int, arg("page frame number, decimal or 0x hex (e.g. 0x1000)", number(0, U64), "PFN")]
Gfp = Annotated[str, opt("gfp flags by the kernel's names, joined with | (e.g. 'GFP_KERNEL|__GFP_NORETRY')",
                         "--gfp", metavar="GFP")]
Node = Annotated[int, opt("preferred NUMA node, -1 = the local node (e.g. 0)", "--node",
                          parser=number(-1, U32), metavar="NODE")]

MAX_MESSAGE = (4 << 20) - (64 << 10)  # FilesystemService Read/Write per call: under gRPC's 4 MiB message limit
Offset = Annotated[int, arg("byte offset in the file, decimal, 0x hex or a size (e.g. 0, 0x1000, 64KiB)",
                            number(0, I64, sizes=True), "OFFSET")]
Data = Annotated[str, arg("the bytes to write, as text (e.g. hello); with --hex as hex digits (e.g. deadbeef)",
                          metavar="DATA")]
Repeat = Annotated[int, opt("write DATA this many times in a row, at least 1 (e.g. 1000)", "--repeat",
                            parser=number(1, MAX_MESSAGE), metavar="N")]
Hex = Annotated[bool, opt("DATA is hex digits (e.g. 00ff10)", "--hex")]


def payload(data: str, as_hex: bool, repeat: int) -> bytes:
    """DATA (text, or hex digits with --hex) repeated --repeat times, at most what one call carries."""
    import typer  # noqa: PLC0415

    try:
        chunk = bytes.fromhex(data) if as_hex else data.encode()
    except ValueError:
        raise typer.BadParameter(f"{data!r} is not hex digits (e.g. deadbeef)", param_hint="DATA") from None
    if len(chunk) * repeat > MAX_MESSAGE:
        raise typer.BadParameter(f"{len(chunk) * repeat} bytes is over the {MAX_MESSAGE} a call carries "
                                 "(4 MiB less 64 KiB); write in pieces at increasing offsets", param_hint="--repeat")
    return chunk * repeat



# Output ----------------------------------------------------------------------------------------------------


@dataclass
class Out:
    """A command's result: ``data`` for --json (numbers as numbers), ``text`` for a terminal (a str, or a rich
    renderable, or a callable returning one), ``code`` the exit code."""

    data: Any
    text: Any = None
    code: int = EXIT_OK
    notes: list[str] = field(default_factory=list)   # extra lines for stderr (hints), never in --json


def emit(out: Out, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(out.data, indent=2) + "\n")
    else:
        text = out.text() if callable(out.text) else out.text
        if text is None:
            text = json.dumps(out.data, indent=2)
        if isinstance(text, str):
            if text:
                sys.stdout.write(text if text.endswith("\n") else text + "\n")
        else:
            console().print(text)
    sys.stdout.flush()
    for note in out.notes:
        sys.stderr.write(note + "\n")


def console():
    from rich.console import Console  # noqa: PLC0415

    return Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)


def table(columns: list[str], rows: list[list[Any]], title: str | None = None):
    """A rich table (rendered plain when stdout is not a terminal)."""
    from rich import box  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    t = Table(*columns, title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for row in rows:
        t.add_row(*(str(c) for c in row))
    return t


def result_out(result, hex_keys: tuple[str, ...] = ()) -> Out:
    """A client result (a dataclass with to_dict) as --json fields and aligned key/value lines."""
    data = result.to_dict()
    return Out(data, kv_text(data, hex_keys))


def kv_text(data: dict, hex_keys: tuple[str, ...] = ()) -> str:
    """key value lines, aligned; keys in ``hex_keys`` in 0x hex."""
    width = max((len(k) for k in data), default=0)
    lines = []
    for key, value in data.items():
        if isinstance(value, int) and not isinstance(value, bool) and key in hex_keys:
            value = f"{value:#x}"
        elif isinstance(value, dict) and {"pfn", "order"} <= set(value):
            value = f"pfn {value['pfn']:#x} order {value['order']} node {value.get('node', 0)}"
        elif isinstance(value, list) and key in hex_keys:
            value = " ".join(f"{v:#x}" for v in value)
        elif isinstance(value, (list, dict)):
            value = json.dumps(value)
        lines.append(f"{key:<{width}}  {value}")
    return "\n".join(lines)


def to_dict(message) -> dict:
    """A protobuf message as JSON-able Python: every field, 64-bit ints as numbers, enums by name."""
    out = {}
    for f in message.DESCRIPTOR.fields:
        value = getattr(message, f.name)
        if f.message_type is not None and f.message_type.GetOptions().map_entry:
            out[f.name] = {k: (to_dict(v) if hasattr(v, "DESCRIPTOR") else v) for k, v in value.items()}
        elif f.message_type is not None:
            out[f.name] = [to_dict(v) for v in value] if f.is_repeated else to_dict(value)
        elif f.enum_type is not None:
            names = f.enum_type.values_by_number
            out[f.name] = [names[v].name for v in value] if f.is_repeated else names[value].name
        else:
            out[f.name] = list(value) if f.is_repeated else value
    return out


def plain(value) -> Any:
    """A client result as JSON-able data: its to_dict(), a protobuf message's fields, or the value itself."""
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if hasattr(value, "DESCRIPTOR"):
        return to_dict(value)
    return value


# The connection --------------------------------------------------------------------------------------------

# Set by the root options: --target HOST (every service on HOST, at its usual port) or
# SERVICE=HOST:PORT,... for each address; empty = the MMSIM_*_ADDR environment (or the defaults of `mmsim up`).
TARGET: list[str] = [""]


def connect():
    """A client connection (``with connect() as mm:``) to the stack this command points at."""
    from mmsim.client import Cluster  # noqa: PLC0415

    return Cluster.connect(target=TARGET[0] or None)


def settings():
    """The settings of the stack this command points at (MMSIM_* and --target/--addr), with no connection."""
    from mmsim.runtime import config  # noqa: PLC0415

    try:
        return config.load().with_target(TARGET[0])
    except ValueError as exc:
        from mmsim import errors  # noqa: PLC0415

        raise errors.InvalidArgument(str(exc)) from None


def file_handle(mm, mapping: str):
    """A handle on an existing file by its mapping id, without a round trip (the call says NOT_FOUND)."""
    from mmsim.client import File  # noqa: PLC0415

    return File(mm, fs_handle(mm, mapping.split("/", 1)[0]), "", mapping)


def fs_handle(mm, name: str):
    from mmsim.client import Filesystem  # noqa: PLC0415

    return Filesystem(mm, name, 0, "")


def process_handle(mm, pid: int):
    from mmsim.client import Process  # noqa: PLC0415

    return Process(mm, pid, "")


def remote() -> bool:
    """True when the command points at a stack given by --target/--addr (not the local `mmsim up` one)."""
    return bool(TARGET[0])


# Errors ----------------------------------------------------------------------------------------------------

DOWN_HINT = "is the stack up? start it with `mmsim up` (or point at another with --target HOST / --addr NAME=HOST:PORT)"


def client_error(exc: BaseException):
    """The client's exception for ``exc`` (an mmsim.errors.MmsimError), or None when it is not one we know."""
    from mmsim import errors  # noqa: PLC0415

    if isinstance(exc, errors.MmsimError):
        return exc
    grpc = sys.modules.get("grpc")
    if grpc is not None and isinstance(exc, grpc.RpcError) and hasattr(exc, "code"):
        return errors.from_rpc_error(exc)
    return None


def fail(message: str, code: int = EXIT_ERROR, as_json: bool = False, error: str = "ERROR") -> typer.Exit:
    """Print an error (stderr, prefixed by its gRPC status name; with --json also {"error": {code, message}} on
    stdout) and return the Exit to raise."""
    if as_json:
        sys.stdout.write(json.dumps({"error": {"code": error, "message": message}}) + "\n")
    sys.stderr.write(f"mmsim: {error + ': ' if error != 'ERROR' else ''}{message}\n")
    return typer.Exit(code)


def command(where: typer.Typer, name: str, panel: str | None = None, **kwargs):
    """Register ``fn`` as subcommand ``name`` of ``where`` (under the help heading ``panel``) with a --json
    option; print what it returns."""

    def decorate(fn: Callable[..., Out]) -> Callable[..., Out]:
        sig = inspect.signature(fn, eval_str=True)
        json_param = inspect.Parameter(
            "json_out", inspect.Parameter.KEYWORD_ONLY, default=False,
            annotation=Annotated[bool, typer.Option("--json", help="print the result as JSON (numbers as numbers)")])

        @functools.wraps(fn)
        def run(*args, json_out: bool = False, **kw):
            try:
                out = fn(*args, **kw)
            except typer.Exit:
                raise
            except Exception as exc:  # noqa: BLE001 - the client's errors become messages; others propagate
                err = client_error(exc)
                if err is None:
                    raise
                if err.code == "UNAVAILABLE":
                    raise fail(f"cannot reach the stack ({err.message.splitlines()[0] if err.message else ''}); "
                               f"{DOWN_HINT}", EXIT_DOWN, json_out, err.code) from None
                raise fail(err.message, EXIT_ERROR, json_out, err.code) from None
            try:
                emit(out, json_out)
            except BrokenPipeError:
                # `mmsim ... | head`: the reader has gone; stop quietly, as a process SIGPIPE ends would
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                raise typer.Exit(EXIT_SIGPIPE) from None
            if out.code:
                raise typer.Exit(out.code)

        run.__signature__ = sig.replace(parameters=[*sig.parameters.values(), json_param])
        # negative numbers reach the parsers (which say what range is allowed) instead of reading as options
        settings = {"ignore_unknown_options": True, **kwargs.pop("context_settings", {})}
        where.command(name, rich_help_panel=panel, context_settings=settings, **kwargs)(run)
        return fn

    return decorate


def fault_exit_code(names: list[str]) -> int:
    """The exit code of a fault outcome: the signal the kernel would deliver for it (mm/memory.c, arch fault)."""
    if "VM_FAULT_OOM" in names:
        return EXIT_SIGKILL
    if {"VM_FAULT_SIGBUS", "VM_FAULT_HWPOISON", "VM_FAULT_HWPOISON_LARGE"} & set(names):
        return EXIT_SIGBUS
    if "VM_FAULT_SIGSEGV" in names:
        return EXIT_SIGSEGV
    return EXIT_OK


def show_bytes(data: bytes) -> str:
    """Bytes for a terminal: text when they are printable (NULs shown as \\0 runs), else a hexdump -C."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and all(c.isprintable() or c in "\n\t" for c in text.replace("\0", "")):
        return _squeeze_nuls(text)
    return hexdump(data)


def _squeeze_nuls(text: str) -> str:
    return re.sub(r"\0+", lambda m: f"\\0{{{len(m.group())}}}" if len(m.group()) > 1 else "\\0", text)


def hexdump(data: bytes, base: int = 0) -> str:
    """`hexdump -C` layout: offset, 16 bytes in hex, the printable ones; repeated lines collapsed to '*'."""
    lines, prev, starred = [], None, False
    for off in range(0, len(data), 16):
        chunk = data[off:off + 16]
        if chunk == prev and len(chunk) == 16:
            if not starred:
                lines.append("*")
                starred = True
            continue
        prev, starred = chunk, False
        hexes = " ".join(f"{b:02x}" for b in chunk[:8]) + "  " + " ".join(f"{b:02x}" for b in chunk[8:])
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{base + off:08x}  {hexes:<49} |{text}|")
    lines.append(f"{base + len(data):08x}")
    return "\n".join(lines)
