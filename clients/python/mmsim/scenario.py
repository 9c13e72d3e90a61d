"""Seeded scenario files: a cluster configuration and a workload in YAML, replayed on a running stack.

    schema: 1
    name: sparse-read
    seed: 7
    cluster: {memory: 64MiB, profile: lsfmm2018, chunk_shift: 6}
    filesystems: [{name: xfs0, block_size: 16KiB}]
    files: [{name: a, fs: xfs0, size: 1MiB, fill: random}]
    processes: [{name: reader}]
    steps:
      - mmap: {process: reader, file: a, as: m}
      - fault: {map: m, pattern: zipf, count: 32}
    expect:
      outcomes: {major: {min: 1}}

The document is validated by pydantic models (``Scenario``); an error names the YAML line and the field
(``ScenarioError``). A seed (the file's, or ``--seed``) drives every random choice (access patterns, the
bytes written), so the same file and seed give the same counters and the same traces' shapes: the machine
is reset before the run and every operation is issued in order, one at a time.

``Runner`` replays a scenario through the typed client; ``expect:`` is checked at the end, so a scenario is
also a regression test (``make test`` runs the files in ``scenarios/``).
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Callable, Iterator, Literal, Union

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from mmsim.runtime.config import parse_size

SCHEMA_VERSION = 1
PAGE = 4096
WRITE_CHUNK = 1 << 20


def _size(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return parse_size(value)
        except ValueError as exc:
            raise ValueError(str(exc)) from None
    return value


Size = Annotated[int, BeforeValidator(_size), Field(ge=0)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# ---- the cluster ---------------------------------------------------------------------------------------------


class ClusterConfig(_Model):
    """What the services are started with (services/runtime/config.py)."""
    memory: Size = 64 << 20
    numa_nodes: int = Field(1, ge=1, le=8)
    movable: Size = 0
    profile: Literal["lsfmm2018", "linux-6.12", "linux-7.3"] = "lsfmm2018"
    chunk_shift: int = Field(6, ge=2, le=6)
    fault_around: Size = 65536

    def env(self) -> dict[str, str]:
        return {"MMSIM_MEMORY": str(self.memory), "MMSIM_NUMA_NODES": str(self.numa_nodes),
                "MMSIM_MOVABLE": str(self.movable), "MMSIM_PROFILE": self.profile,
                "MMSIM_XA_CHUNK_SHIFT": str(self.chunk_shift), "MMSIM_FAULT_AROUND_BYTES": str(self.fault_around)}


class FsSpec(_Model):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    block_size: Size = 4096
    profile: Literal["", "lsfmm2018", "linux-6.12", "linux-7.3"] = ""
    indexing: Literal["", "multi-order", "order-0", "hugetlb"] = ""
    alloc_context: Literal["", "scope", "gfp_nofs", "none"] = ""
    max_folio_order: int | None = Field(None, ge=0, le=10)


class FileSpec(_Model):
    name: str
    fs: str
    path: str = ""
    indexing: Literal["", "multi-order", "order-0", "hugetlb"] = ""
    size: Size = 0                       # bytes written at set-up (fill) or the size truncated to (fill: sparse)
    fill: Literal["random", "text", "sparse"] = "random"
    text: str = "mmsim "
    sync: bool = True                    # fsync and drop the page cache after the fill: the first touch is major


class ProcessSpec(_Model):
    name: str
    mapcount_limit: int = Field(0, ge=0)
    mapcount_action: Literal["", "none", "kill", "leak"] = ""
    max_map_count: int = Field(0, ge=0)


# ---- the steps ---------------------------------------------------------------------------------------------------


class MmapStep(_Model):
    op: Literal["mmap"]
    process: str
    file: str
    as_: str = Field("", alias="as")
    length: Size = 0                     # 0 = the file's size at set-up (at least one page)
    offset: Size = 0
    prot: str = Field("r", pattern=r"^[rwx]+$")
    shared: bool = True


class FaultStep(_Model):
    op: Literal["fault"]
    map: str
    pattern: Literal["sequential", "random", "strided", "zipf"] = "sequential"
    count: int = Field(0, ge=0)          # 0 = one per page of the mapping (sequential/strided)
    start: Size = 0                      # byte offset into the mapping
    stride: Size = PAGE                  # strided: bytes between two faults
    theta: float = Field(1.1, gt=0)      # zipf: exponent (larger = hotter hot set)
    write: bool = False
    beyond: bool = False                 # allow addresses past the mapping's end (a SIGSEGV)


class FileStep(_Model):
    file: str


class WriteStep(FileStep):
    op: Literal["write"]
    offset: Size = 0
    length: Size = PAGE
    data: str = ""                        # repeated to length; empty = seeded random bytes


class ReadStep(FileStep):
    op: Literal["read"]
    offset: Size = 0
    length: Size = PAGE


class FsyncStep(FileStep):
    op: Literal["fsync"]


class DropStep(FileStep):
    op: Literal["drop"]                   # posix_fadvise(POSIX_FADV_DONTNEED)


class TruncateStep(FileStep):
    op: Literal["truncate"]
    size: Size


class PunchStep(FileStep):
    op: Literal["punch"]
    offset: Size
    length: Size


class ReflinkStep(_Model):
    op: Literal["reflink"]
    src: str
    dst: str
    length: Size = 0
    share_folios: bool = False


class FragmentStep(_Model):
    op: Literal["fragment"]
    max_free_order: int = Field(0, ge=0, le=9)
    node: int = 0
    movable: bool = False                # keep movable pages (compaction can move them) instead of pinned ones


class UnfragmentStep(_Model):
    op: Literal["unfragment"]
    node: int = 0


class PressureStep(_Model):
    op: Literal["pressure"]
    bytes: Size                           # held by the scenario until `release`
    order: int = Field(4, ge=0, le=10)
    gfp: str = "GFP_KERNEL|__GFP_NOWARN"


class ReleaseStep(_Model):
    op: Literal["release"]


class AllocStep(_Model):
    op: Literal["alloc"]
    kind: Literal["kmalloc", "vmalloc", "kvmalloc", "kvmalloc_array", "kvmalloc_struct", "malloc"] = "kvmalloc"
    size: Size = 0                        # kmalloc..malloc: bytes; kvmalloc_array: element size
    n: int = Field(0, ge=0)               # kvmalloc_array: elements
    header: Size = 0                      # kvmalloc_struct
    count: int = Field(0, ge=0)           # kvmalloc_struct: trailing elements of `size` bytes
    gfp: str = "GFP_KERNEL"
    keep: bool = False                    # keep it (freed at the end) instead of kvfree at once


class MunmapStep(_Model):
    op: Literal["munmap"]
    map: str


class ExitStep(_Model):
    op: Literal["exit"]
    process: str


Step = Annotated[Union[MmapStep, FaultStep, WriteStep, ReadStep, FsyncStep, DropStep, TruncateStep, PunchStep,
                       ReflinkStep, FragmentStep, UnfragmentStep, PressureStep, ReleaseStep, AllocStep, MunmapStep,
                       ExitStep], Field(discriminator="op")]
OPS = ("mmap", "fault", "write", "read", "fsync", "drop", "truncate", "punch", "reflink", "fragment", "unfragment",
       "pressure", "release", "alloc", "munmap", "exit")


# ---- expectations --------------------------------------------------------------------------------------------


class Range(_Model):
    min: int | None = None
    max: int | None = None


Expected = Union[int, Range]


class BytesExpect(_Model):
    file: str
    offset: Size = 0
    length: Size = 0
    equals: str | None = None             # the bytes as text
    zeros: bool = False                   # every byte is 0
    sha256: str | None = None


class Expect(_Model):
    counters: dict[str, Expected] = {}          # change of /proc/vmstat over the run
    outcomes: dict[str, Expected] = {}          # faults by FaultResult.outcome (major, minor, sigbus, oom, ...)
    vm_fault: dict[str, Expected] = {}          # faults whose result has the bit (VM_FAULT_MAJOR, ...)
    folio_orders: dict[int, Expected] = {}      # successful faults by the order of the folio mapped
    files: dict[str, dict[str, Expected]] = {}  # stat and XArray figures at the end (i_size, nrpages, nodes...)
    processes: dict[str, dict[str, str | int]] = {}   # state ("running"/"killed"), min_flt, maj_flt ...
    allocations: dict[str, Expected] = {}       # alloc steps by kind made (kmalloc, vmalloc, zero, failed)
    bytes: list[BytesExpect] = []

    def count(self) -> int:
        """How many checks this block makes."""
        flat = (self.counters, self.outcomes, self.vm_fault, self.folio_orders, self.allocations)
        return (sum(len(d) for d in flat) + sum(len(d) for d in self.files.values())
                + sum(len(d) for d in self.processes.values()) + len(self.bytes))


class Scenario(_Model):
    schema_: Literal[1] = Field(alias="schema")
    name: str
    description: str = ""
    seed: int = 0
    cluster: ClusterConfig = ClusterConfig()
    filesystems: list[FsSpec] = []
    files: list[FileSpec] = []
    processes: list[ProcessSpec] = []
    steps: list[Step] = []
    expect: Expect = Expect()

    @model_validator(mode="before")
    @classmethod
    def _steps_by_name(cls, data: Any) -> Any:
        """A step is written ``- fault: {map: m}`` (one key, the operation); the models see {op: fault, ...}."""
        if isinstance(data, dict) and isinstance(data.get("steps"), list):
            steps = []
            for s in data["steps"]:
                if isinstance(s, dict) and len(s) == 1 and "op" not in s:
                    (op, args), = s.items()
                    steps.append({"op": op, **(args or {})} if isinstance(args, dict) else {"op": op, "_": args})
                else:
                    steps.append(s)
            data = {**data, "steps": steps}
        return data

    def problems(self) -> list[tuple[tuple, str]]:
        """Names that do not resolve (a file's filesystem, a step's file, process or mapping): (loc, message)."""
        fss, files = {f.name for f in self.filesystems}, {f.name for f in self.files}
        procs, maps, out = {p.name for p in self.processes}, set(), []
        for i, f in enumerate(self.files):
            if f.fs not in fss:
                out.append((("files", i, "fs"), f"no filesystem {f.fs!r} (filesystems: {sorted(fss)})"))
        for i, s in enumerate(self.steps):
            for attr, known, what in (("file", files, "file"), ("src", files, "file"), ("dst", files, "file"),
                                      ("process", procs, "process")):
                name = getattr(s, attr, None)
                if name is not None and name not in known:
                    out.append((("steps", i, s.op, attr), f"no {what} {name!r} (known: {sorted(known)})"))
            if isinstance(s, MmapStep):
                maps.add(s.as_ or s.file)
            if isinstance(s, (FaultStep, MunmapStep)) and s.map not in maps:
                out.append((("steps", i, s.op, "map"),
                            f"no mapping {s.map!r} made by an earlier mmap step (known: {sorted(maps)})"))
        return out

    def cluster_key(self) -> tuple:
        return tuple(sorted(self.cluster.env().items()))


class ScenarioError(ValueError):
    """A scenario file that is not valid: the message names the line and the field."""


def _line_of(node: yaml.Node | None, loc: tuple) -> int | None:
    """The YAML line (1-based) of the deepest node named by a pydantic error location."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            key = "steps" if part == "steps" else str(part).rstrip("_")
            nxt = next((v for k, v in node.value if str(k.value) == key), None)
            if nxt is None:    # a step's op name (the discriminator tag) is the key of a one-key mapping
                nxt = next((v for k, v in node.value if k.value in OPS and k.value == part), None)
            if nxt is None:
                break
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            if isinstance(node, yaml.MappingNode) and len(node.value) == 1 and node.value[0][0].value in OPS:
                node = node.value[0][1]    # into the step's arguments
                line = node.start_mark.line + 1
                continue
        else:
            break
        line = node.start_mark.line + 1
    return line


def parse(text: str, source: str = "<scenario>") -> Scenario:
    """Validate a scenario document; ScenarioError names ``source:LINE`` of every problem."""
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        raise ScenarioError(f"{where}: not YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}:1: a scenario is a mapping (schema, name, cluster, steps, ...)")
    if data.get("schema") != SCHEMA_VERSION:
        line = _line_of(root, ("schema",)) or 1
        raise ScenarioError(f"{source}:{line}: schema must be {SCHEMA_VERSION} (the version of this format), "
                            f"got {data.get('schema')!r}")
    try:
        sc = Scenario.model_validate(data)
        problems = sc.problems()
    except ValidationError as exc:
        problems = [(tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))),
                     err["msg"]) for err in exc.errors()]
    if problems:
        raise ScenarioError("\n".join(f"{source}:{_line_of(root, loc) or 1}: {'.'.join(map(str, loc)) or '(document)'}: {msg}"
                                      for loc, msg in problems))
    return sc


def load(path: str | Path) -> Scenario:
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror}") from None
    return parse(text, str(path))


def from_dict(data: dict) -> Scenario:
    """A scenario built in code (the experiments'): the same models, the same validation."""
    try:
        sc = Scenario.model_validate({"schema": SCHEMA_VERSION, **data})
    except ValidationError as exc:
        raise ScenarioError(str(exc)) from None
    if sc.problems():
        raise ScenarioError("; ".join(f"{'.'.join(map(str, loc))}: {msg}" for loc, msg in sc.problems()))
    return sc


# ---- running a stack for a scenario --------------------------------------------------------------------------


@contextlib.contextmanager
def private_stack(cluster: ClusterConfig) -> Iterator[Any]:
    """Redis and the four services on free ports with the scenario's cluster settings; stopped at the end."""
    from mmsim import stack  # noqa: PLC0415
    from mmsim.runtime import config  # noqa: PLC0415

    env = {**config.load().env(), **cluster.env(), "MMSIM_LOG_LEVEL": "warning"}
    with stack.private(config.load(env), prefix="mmsim-run-", timeout=90) as settings:
        yield settings


# ---- replaying --------------------------------------------------------------------------------------------------


@dataclass
class StepRecord:
    index: int                       # 1-based
    op: str
    summary: str                     # one line: what was done
    data: dict = field(default_factory=dict)
    changes: dict = field(default_factory=dict)   # with observe: vmstat, buddyinfo, xarray deltas; span tree
    elapsed_s: float = 0.0           # wall time of the step (a timing: not part of the fingerprint)

    def to_dict(self) -> dict:
        return {"index": self.index, "op": self.op, "summary": self.summary, "data": self.data, "changes": self.changes}


@dataclass
class ScenarioResult:
    name: str
    seed: int
    counters: dict[str, int]         # /proc/vmstat change over the run (non-zero only)
    outcomes: dict[str, int]
    vm_fault: dict[str, int]
    folio_orders: dict[int, int]
    allocations: dict[str, int]
    files: dict[str, dict]
    processes: dict[str, dict]
    faults: list[dict]               # every fault: address offset, outcome, vm_fault, order (no trace ids)
    trace_shapes: list[list]         # span-tree shapes of the traced faults
    steps: list[StepRecord]
    failures: list[str]              # expectations not met
    elapsed_s: float

    @property
    def ok(self) -> bool:
        return not self.failures

    def fingerprint(self) -> dict:
        """Everything that must be the same for the same scenario and seed (no timings, no ids)."""
        return {"counters": self.counters, "outcomes": self.outcomes, "vm_fault": self.vm_fault,
                "folio_orders": {str(k): v for k, v in self.folio_orders.items()}, "allocations": self.allocations,
                "files": self.files, "processes": self.processes, "faults": self.faults,
                "trace_shapes": self.trace_shapes}

    def to_dict(self) -> dict:
        return {"name": self.name, "seed": self.seed, "ok": self.ok, "failures": self.failures,
                "elapsed_s": round(self.elapsed_s, 3), **self.fingerprint(),
                "steps": [s.to_dict() for s in self.steps]}


def zipf_index(rng: random.Random, n: int, theta: float) -> int:
    """A page index in [0, n) drawn from a Zipf law of exponent theta (index 0 the hottest)."""
    weights = _zipf_weights(n, theta)
    return rng.choices(range(n), cum_weights=weights, k=1)[0]


_ZIPF: dict[tuple[int, float], list[float]] = {}


def _zipf_weights(n: int, theta: float) -> list[float]:
    key = (n, theta)
    if key not in _ZIPF:
        acc, out = 0.0, []
        for k in range(1, n + 1):
            acc += 1.0 / k ** theta
            out.append(acc)
        _ZIPF[key] = out
    return _ZIPF[key]


def fault_offsets(step: FaultStep, length: int, rng: random.Random) -> list[int]:
    """The byte offsets into a mapping of ``length`` bytes that a fault step touches, in order."""
    pages = max(length // PAGE, 1)
    first = step.start // PAGE
    if step.pattern == "sequential":
        n = step.count or pages - first
        return [(first + i) * PAGE for i in range(n)]
    if step.pattern == "strided":
        n = step.count or max((length - step.start + step.stride - 1) // step.stride, 1)
        return [step.start + i * step.stride for i in range(n)]
    n = step.count or pages
    span = max(pages - first, 1)
    if step.pattern == "random":
        return [(first + rng.randrange(span)) * PAGE for _ in range(n)]
    # zipf: the hot pages scattered over the mapping by a seeded permutation (not all at its start)
    perm = list(range(span))
    rng.shuffle(perm)
    return [(first + perm[zipf_index(rng, span, step.theta)]) * PAGE for _ in range(n)]


def _refusal(exc: Exception):
    """The client's error for an operation the stack refused (grpc.RpcError included); re-raise anything else."""
    import grpc  # noqa: PLC0415

    from mmsim import errors  # noqa: PLC0415

    if isinstance(exc, errors.MmsimError):
        return exc
    if isinstance(exc, grpc.RpcError) and hasattr(exc, "code"):
        return errors.from_rpc_error(exc)
    raise exc


def parse_buddyinfo(text: str) -> dict[str, list[int]]:
    """/proc/buddyinfo lines as {"Node 0, zone DMA32": [free blocks per order]}."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^(Node\s+\d+,\s+zone\s+\S+)\s+(.*)$", line)
        if m:
            out[re.sub(r"\s+", " ", m.group(1))] = [int(x) for x in m.group(2).split()]
    return out


def trace_shape(tree) -> list:
    """A trace's shape: [service, method, [children...]] per root, children in a stable order."""
    def walk(node) -> list:
        return [node.span.service, node.span.name.rsplit("/", 1)[-1], sorted((walk(c) for c in node.children), key=repr)]
    return [walk(r) for r in tree.roots]


class Runner:
    """Replay a scenario through the typed client (``mm`` is a mmsim.client.Cluster)."""

    def __init__(self, mm, scenario: Scenario, seed: int | None = None, observe: bool = False,
                 trace_faults: int = 0):
        self.mm, self.sc = mm, scenario
        self.seed = scenario.seed if seed is None else seed
        self.rng = random.Random(self.seed)
        self.observe = observe                     # record the deltas of every step (mmsim run --step)
        self.trace_faults = trace_faults           # fetch the span trees of the first N faults of each step
        self.fss: dict[str, Any] = {}
        self.files: dict[str, Any] = {}
        self.procs: dict[str, Any] = {}
        self.maps: dict[str, Any] = {}
        self.held_pages: list = []
        self.kept: list = []
        self.faults: list[dict] = []
        self.fault_results: list = []
        self.shapes: list[list] = []
        self.allocs: dict[str, int] = {}
        self.refused: dict[str, int] = {}           # steps refused by the stack, by gRPC status
        self.last_trace_id = ""

    # set-up ---------------------------------------------------------------------------------------------------
    def setup(self) -> None:
        mm = self.mm
        mm.reset()
        for f in self.sc.filesystems:
            self.fss[f.name] = mm.mkfs(f.name, block_size=f.block_size, profile=f.profile, alloc_context=f.alloc_context,
                                       max_folio_order=f.max_folio_order, indexing=f.indexing)
        for spec in self.sc.files:
            f = self.fss[spec.fs].create(spec.path or f"/{spec.name}", indexing=spec.indexing)
            self.files[spec.name] = f
            if spec.size and spec.fill == "sparse":
                f.truncate(spec.size)
            elif spec.size:
                self._write(f, 0, self._bytes(spec.size, spec.text if spec.fill == "text" else ""))
                if spec.sync:
                    f.fsync()
                    f.fadvise("dontneed")
        for p in self.sc.processes:
            self.procs[p.name] = mm.spawn(p.name, p.mapcount_limit, p.mapcount_action, p.max_map_count)

    @staticmethod
    def _write(f, offset: int, data: bytes):
        """write(2) in calls of at most WRITE_CHUNK bytes (a gRPC message's limit); the last call's result."""
        r = None
        for off in range(0, len(data), WRITE_CHUNK):
            r = f.write_result(offset + off, data[off:off + WRITE_CHUNK])
        return r

    def _bytes(self, length: int, text: str) -> bytes:
        if text:
            raw = text.encode()
            return (raw * (length // len(raw) + 1))[:length]
        return self.rng.randbytes(length)

    # the steps ------------------------------------------------------------------------------------------------
    def step(self, index: int, s) -> StepRecord:
        before = self._snapshot() if self.observe else None
        t0 = time.monotonic()
        try:
            summary, data = getattr(self, f"_do_{s.op}")(s)
        except Exception as exc:  # noqa: BLE001 - a refused operation is a result of the scenario, not a crash
            err = _refusal(exc)
            self.refused[err.code] = self.refused.get(err.code, 0) + 1
            summary, data = f"refused: {err.code}: {err.message}", {"error": err.code}
        rec = StepRecord(index, s.op, summary, data, elapsed_s=time.monotonic() - t0)
        if before is not None:
            rec.changes = self._changes(before, self._snapshot())
            if s.op == "fault" and self.last_trace_id:
                rec.changes["trace"] = self.mm.trace(self.last_trace_id).render()
        return rec

    def units(self, s) -> int:
        """Operations a step issues (for a progress bar)."""
        if isinstance(s, FaultStep):
            _, vma = self.maps.get(s.map, (None, None))
            length = vma.length if vma is not None else PAGE
            return len(fault_offsets(s, length, random.Random(0)))
        return 1

    def _do_mmap(self, s: MmapStep):
        f, spec = self.files[s.file], next(x for x in self.sc.files if x.name == s.file)
        length = s.length or max(-(-spec.size // PAGE) * PAGE, PAGE)
        vma = self.procs[s.process].mmap(f, length=length, prot=s.prot, shared=s.shared, offset=s.offset)
        self.maps[s.as_ or s.file] = (self.procs[s.process], vma)
        return f"{s.process} mapped {s.file} ({length} bytes, prot {s.prot}, {'shared' if s.shared else 'private'})", {"length": length}

    def _do_fault(self, s: FaultStep):
        if s.map not in self.maps:
            from mmsim import errors  # noqa: PLC0415

            raise errors.FailedPrecondition(f"mapping {s.map!r} was not made (its mmap step was refused)")
        proc, vma = self.maps[s.map]
        offsets = fault_offsets(s, vma.length, self.rng)
        counts: dict[str, int] = {}
        for i, off in enumerate(offsets):
            if off >= vma.length and not s.beyond:
                off %= vma.length
            try:
                r = proc.fault(vma.start + off, write=s.write)
            except Exception as exc:  # noqa: BLE001 - e.g. the process was killed: counted, the run goes on
                err = _refusal(exc)
                counts[f"refused:{err.code}"] = counts.get(f"refused:{err.code}", 0) + 1
                self.faults.append({"map": s.map, "offset": off, "write": s.write, "outcome": f"refused:{err.code}",
                                    "vm_fault": "", "order": None, "pages_mapped": 0, "around": 0})
                continue
            self.last_trace_id = r.trace_id
            self.fault_results.append(r)
            counts[r.outcome] = counts.get(r.outcome, 0) + 1
            self.faults.append({"map": s.map, "offset": off, "write": s.write, "outcome": r.outcome,
                                "vm_fault": str(r.vm_fault), "order": r.folio_order if r.ok else None,
                                "pages_mapped": r.pages_mapped, "around": r.pages_mapped_around})
            if i < self.trace_faults:
                self.shapes.append(trace_shape(self.mm.trace(r.trace_id)))
        text = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
        return f"{len(offsets)} {s.pattern} {'write' if s.write else 'read'} faults on {s.map}: {text}", {"outcomes": counts}

    def _do_write(self, s: WriteStep):
        r = self._write(self.files[s.file], s.offset, self._bytes(s.length, s.data))
        return f"write {s.file} [{s.offset}, +{s.length}): i_size {r.i_size}", r.to_dict()

    def _do_read(self, s: ReadStep):
        data = self.files[s.file].read(s.offset, s.length)
        return f"read {s.file} [{s.offset}, +{s.length}): {len(data)} bytes", {"bytes": len(data),
                                                                               "sha256": hashlib.sha256(data).hexdigest()}

    def _do_fsync(self, s: FsyncStep):
        r = self.files[s.file].fsync()
        return f"fsync {s.file}: {r.folios_written} folios written", r.to_dict()

    def _do_drop(self, s: DropStep):
        r = self.files[s.file].fadvise("dontneed")
        return f"POSIX_FADV_DONTNEED {s.file}: {r.folios_removed} folios dropped, {r.folios_busy} busy", r.to_dict()

    def _do_truncate(self, s: TruncateStep):
        r = self.files[s.file].truncate(s.size)
        return f"truncate {s.file} to {s.size}: {r.folios_removed} folios removed, {r.folios_split} split", r.to_dict()

    def _do_punch(self, s: PunchStep):
        r = self.files[s.file].punch_hole(s.offset, s.length)
        return f"punch {s.file} [{s.offset}, +{s.length}): {r.blocks_freed} blocks freed", r.to_dict()

    def _do_reflink(self, s: ReflinkStep):
        r = self.files[s.src].reflink(self.files[s.dst], length=s.length, share_folios=s.share_folios)
        return f"reflink {s.src} -> {s.dst}: {r.blocks_shared} blocks, {r.pages_shared} pages shared", r.to_dict()

    def _do_fragment(self, s: FragmentStep):
        r = self.mm.allocator.fragment(node=s.node, max_free_order=s.max_free_order, movable=s.movable)
        kept = "movable" if s.movable else "pinned"
        return f"fragment node {s.node} to max free order {s.max_free_order}: {r.pinned} pages {kept}", r.to_dict()

    def _do_unfragment(self, s: UnfragmentStep):
        freed = self.mm.allocator.unfragment(node=s.node)
        return f"unfragment node {s.node}: {freed} pages back", {"freed": freed}

    def _do_pressure(self, s: PressureStep):
        from mmsim import errors  # noqa: PLC0415

        want, got = -(-s.bytes // (PAGE << s.order)), 0
        for _ in range(want):
            try:
                self.held_pages.append(self.mm.allocator.alloc_pages(s.order, s.gfp).folio)
                got += 1
            except errors.MmsimError:
                break
        return f"pressure: {got} of {want} order-{s.order} blocks held", {"held": got, "wanted": want}

    def _do_release(self, s: ReleaseStep):
        n = len(self.held_pages)
        if self.held_pages:
            self.mm.allocator.release_folios(self.held_pages)
        self.held_pages = []
        return f"released {n} blocks", {"released": n}

    def _do_alloc(self, s: AllocStep):
        from mmsim import errors  # noqa: PLC0415

        a, gfp = self.mm.allocator, s.gfp
        call: Callable[[], Any] = {
            "kmalloc": lambda: a.kmalloc(s.size, gfp), "vmalloc": lambda: a.vmalloc(s.size, gfp),
            "kvmalloc": lambda: a.kvmalloc(s.size, gfp), "kvmalloc_array": lambda: a.kvmalloc_array(s.n, s.size, gfp),
            "kvmalloc_struct": lambda: a.kvmalloc_struct(s.header, s.size, s.count, gfp), "malloc": lambda: a.malloc(s.size),
        }[s.kind]
        try:
            r = call()
        except errors.MmsimError as exc:
            self.allocs["failed"] = self.allocs.get("failed", 0) + 1
            return f"{s.kind}: failed ({exc.code}: {exc.message})", {"kind": "failed", "error": exc.code}
        self.allocs[r.kind] = self.allocs.get(r.kind, 0) + 1
        if s.keep:
            self.kept.append(r)
        elif r.kind != "zero":
            a.free(r.addr) if s.kind == "malloc" else a.kvfree(r.addr)
        why = f" ({r.fallback_reason})" if r.fallback_reason else ""
        return f"{s.kind}: {r.kind} of {r.size} bytes, {len(r.pfns)} pages{why}", {
            "kind": r.kind, "size": r.size, "pages": len(r.pfns), "fallback_reason": r.fallback_reason}

    def _do_munmap(self, s: MunmapStep):
        proc, vma = self.maps.pop(s.map)
        n = proc.munmap(vma)
        return f"munmap {s.map}: {n} PTEs zapped", {"pages_unmapped": n}

    def _do_exit(self, s: ExitStep):
        r = self.procs[s.process].exit()
        self.maps = {k: v for k, v in self.maps.items() if v[0] is not self.procs[s.process]}
        return f"{s.process} exited: {r.pages_unmapped} PTEs zapped", r.to_dict()

    # observing ------------------------------------------------------------------------------------------------
    def _snapshot(self) -> dict:
        from mmsim import errors  # noqa: PLC0415

        xa = {}
        for name, f in self.files.items():
            try:
                xa[name] = f.xa_stats().to_dict()
            except errors.NotFound:
                xa[name] = {}
        return {"vmstat": self.mm.vmstat(), "buddy": parse_buddyinfo(self.mm.allocator.buddyinfo()), "xa": xa}

    @staticmethod
    def _changes(a: dict, b: dict) -> dict:
        vm = {k: b["vmstat"].get(k, 0) - a["vmstat"].get(k, 0) for k in sorted(set(a["vmstat"]) | set(b["vmstat"]))}
        buddy = {}
        for zone, counts in b["buddy"].items():
            old = a["buddy"].get(zone, [0] * len(counts))
            delta = [n - o for n, o in zip(counts, old)]
            if any(delta):
                buddy[zone] = delta
        xa = {}
        for name, st in b["xa"].items():
            old = a["xa"].get(name, {})
            d = {k: v - old.get(k, 0) for k, v in st.items() if isinstance(v, int) and not isinstance(v, bool)
                 and v != old.get(k, 0)}
            if d:
                xa[name] = d
        return {"vmstat": {k: v for k, v in vm.items() if v}, "buddyinfo": buddy, "xarray": xa}

    # the whole run -------------------------------------------------------------------------------------------
    def run(self, on_step: Callable[[StepRecord, int], None] | None = None) -> ScenarioResult:
        """Reset the machine, set up, replay every step (``on_step(record, units)`` after each), check expect."""
        t0 = time.monotonic()
        self.setup()
        start = self.mm.vmstat()
        records = []
        for i, s in enumerate(self.sc.steps, 1):
            units = self.units(s)
            rec = self.step(i, s)
            records.append(rec)
            if on_step:
                on_step(rec, units)
        end = self.mm.vmstat()
        self.result = self._result(start, end, records, time.monotonic() - t0)
        self._cleanup()
        return self.result

    def _cleanup(self) -> None:
        if self.held_pages:
            self.mm.allocator.release_folios(self.held_pages)
            self.held_pages = []
        for r in self.kept:
            if r.kind != "zero":
                self.mm.allocator.kvfree(r.addr)
        self.kept = []

    def _result(self, start: dict, end: dict, records: list[StepRecord], elapsed: float) -> ScenarioResult:
        from mmsim import errors  # noqa: PLC0415

        counters = {k: end.get(k, 0) - start.get(k, 0) for k in sorted(set(start) | set(end))}
        outcomes: dict[str, int] = {}
        for f in self.faults:
            if f["outcome"].startswith("refused:"):
                outcomes[f["outcome"]] = outcomes.get(f["outcome"], 0) + 1
        for code, n in self.refused.items():
            outcomes[f"step-refused:{code}"] = n
        bits: dict[str, int] = {}
        orders: dict[int, int] = {}
        for r in self.fault_results:
            outcomes[r.outcome] = outcomes.get(r.outcome, 0) + 1
            for name in r.vm_fault.names():
                bits[name] = bits.get(name, 0) + 1
            if r.ok and not r.zero_page:
                orders[r.folio_order] = orders.get(r.folio_order, 0) + 1
        files = {}
        for name, f in self.files.items():
            try:
                st, xa = f.stat(), f.xa_stats()
                files[name] = {"i_size": st.i_size, "blocks": st.blocks, "nrpages": st.nrpages,
                               "shared_blocks": st.shared_blocks, "entries": xa.entries, "zero_entries": xa.zero_entries,
                               "nodes": xa.nodes, "height": xa.height}
            except errors.NotFound:
                files[name] = {}
        procs = {}
        for name, p in self.procs.items():
            try:
                st = p.status()
                procs[name] = {"state": st.state, "min_flt": st.min_flt, "maj_flt": st.maj_flt,
                               "rss_file": st.rss_file, "map_count": st.map_count}
            except errors.NotFound:
                procs[name] = {"state": "exited"}
        res = ScenarioResult(self.sc.name, self.seed, {k: v for k, v in counters.items() if v}, outcomes, bits,
                             dict(sorted(orders.items())), dict(sorted(self.allocs.items())), files, procs,
                             self.faults, self.shapes, records, [], elapsed)
        res.failures = self._check(res)
        return res

    def _check(self, res: ScenarioResult) -> list[str]:
        ex, out = self.sc.expect, []

        def cmp(what: str, got: Any, want: Any) -> None:
            if isinstance(want, Range):
                g = got or 0
                if (want.min is not None and g < want.min) or (want.max is not None and g > want.max):
                    out.append(f"{what}: expected {want.model_dump(exclude_none=True)}, got {got}")
            elif got != want and not (want == 0 and got is None):
                out.append(f"{what}: expected {want}, got {got}")

        for k, w in ex.counters.items():
            cmp(f"counters.{k}", res.counters.get(k, 0), w)
        for k, w in ex.outcomes.items():
            cmp(f"outcomes.{k}", res.outcomes.get(k, 0), w)
        for k, w in ex.vm_fault.items():
            name = k if k.startswith("VM_FAULT_") else f"VM_FAULT_{k.upper()}"
            cmp(f"vm_fault.{name}", res.vm_fault.get(name, 0), w)
        for k, w in ex.folio_orders.items():
            cmp(f"folio_orders.{k}", res.folio_orders.get(k, 0), w)
        for k, w in ex.allocations.items():
            cmp(f"allocations.{k}", res.allocations.get(k, 0), w)
        for fname, wants in ex.files.items():
            for k, w in wants.items():
                cmp(f"files.{fname}.{k}", res.files.get(fname, {}).get(k), w)
        for pname, wants in ex.processes.items():
            for k, w in wants.items():
                got = res.processes.get(pname, {}).get(k)
                if got != w:
                    out.append(f"processes.{pname}.{k}: expected {w!r}, got {got!r}")
        for b in ex.bytes:
            f = self.files.get(b.file)
            if f is None:
                out.append(f"bytes: no file {b.file!r}")
                continue
            length = b.length or (len(b.equals.encode()) if b.equals is not None else f.stat().i_size - b.offset)
            data = f.read(b.offset, length)
            where = f"bytes.{b.file}[{b.offset}:+{length}]"
            if b.equals is not None and data != b.equals.encode():
                out.append(f"{where}: expected {b.equals!r}, got {data[:64]!r}")
            if b.zeros and data.strip(b"\0"):
                out.append(f"{where}: expected zeros, {len(data.strip(bytes(1)))} bytes are not")
            if b.sha256 and hashlib.sha256(data).hexdigest() != b.sha256:
                out.append(f"{where}: sha256 {hashlib.sha256(data).hexdigest()} != {b.sha256}")
        return out
