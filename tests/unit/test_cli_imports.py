"""What `mmsim NAME ...` imports before its command runs: only the modules mmsim.cli.COMMANDS lists for NAME
(the lazily loaded subcommands of cli_base.LazyGroup), none of the heavy libraries, and still every command
NAME has in the full CLI. Checked on the import graph (sys.modules of a fresh interpreter), not by timing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mmsim.cli import COMMANDS, command_tree

# Resolve the given command paths through the root group as click does for `mmsim proc vmstat`, then report
# each top-level name's command tree and what the interpreter imported.
RESOLVE = """
import json, sys
import mmsim.cli

def tree(cmd):
    subs = getattr(cmd, "commands", None)
    return sorted((n, tree(c)) for n, c in subs.items()) if subs is not None else []

root = __import__("typer").main.get_command(mmsim.cli.app)
found = {}
for path in json.loads(sys.argv[1]):
    cmd = root
    for word in path:
        cmd = cmd.get_command(None, word)
    found[path[0]] = tree(root.get_command(None, path[0]))
print(json.dumps({"trees": found, "modules": sorted(sys.modules)}))
"""

# Nothing a command's resolution needs: the RPC stack loads when a command calls the stack, the rest only in
# the commands that draw, serve, fuzz or run experiments.
HEAVY = ("grpc", "google", "rich", "matplotlib", "graphviz", "grpc_tools", "hypothesis", "starlette", "uvicorn",
         "jinja2", "redis", "structlog", "opentelemetry", "pydantic", "numpy")
HEAVY_MMSIM = ("mmsim.client", "mmsim.web", "mmsim.pictures", "mmsim.experiments", "mmsim.scenario",
               "mmsim.stack", "mmsim.bench", "mmsim.v1")


def resolve(*paths: tuple[str, ...]) -> dict:
    out = subprocess.run([sys.executable, "-c", RESOLVE, json.dumps(paths)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _tree(cmd):
    subs = getattr(cmd, "commands", None)
    return sorted((n, _tree(c)) for n, c in subs.items()) if subs is not None else []


def test_each_name_alone_has_every_command_the_full_cli_has():
    """COMMANDS is complete: `mmsim NAME` with only NAME's modules loaded sees NAME's whole command tree (a
    module that adds to a group made elsewhere, e.g. `proc zoneinfo`, must list the group's name)."""
    full = {name: json.loads(json.dumps(_tree(cmd))) for name, cmd in command_tree().commands.items()}
    listed = {n for names in COMMANDS.values() for n in names.split()}
    assert listed == set(full), (sorted(listed - set(full)), sorted(set(full) - listed))
    by_modules: dict[tuple, list[str]] = {}
    for name in full:
        by_modules.setdefault(tuple(m for m, ns in COMMANDS.items() if name in ns.split()), []).append(name)
    procs = {mods: subprocess.Popen([sys.executable, "-c", RESOLVE, json.dumps([[n] for n in names])],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for mods, names in by_modules.items()}
    for mods, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr
        trees = json.loads(stdout)["trees"]
        for name in by_modules[mods]:
            assert trees[name] == full[name], f"`mmsim {name}` with only {mods} loaded differs from the full CLI"


def test_resolving_a_read_command_imports_only_its_module():
    """`mmsim proc vmstat`, `mmsim status`, `mmsim page 0`: up to the command's call, only typer, cli_base
    and the command's own modules; no grpc, protobuf, rich, matplotlib, web server or test library."""
    for path, own in ((("proc", "vmstat"), {"cli_inspect", "cli_reclaim"}), (("status",), {"cli_stack"}),
                      (("proc", "meminfo"), {"cli_inspect", "cli_reclaim"}), (("page",), {"cli_mem", "cli_inspect"}),
                      (("fault",), {"cli_ops"})):
        modules = set(resolve(path)["modules"])
        heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY or m.startswith(HEAVY_MMSIM))
        assert not heavy, f"resolving `mmsim {' '.join(path)}` imported {heavy}"
        commands = {m.split(".")[1] for m in modules if m.startswith("mmsim.cli_")} - {"cli_base"}
        assert commands == own, f"`mmsim {' '.join(path)}` imported the command modules {sorted(commands)}"


def test_a_name_no_module_lists_loads_everything_for_the_suggestion():
    """A typo (`mmsim prco`) loads every module, so click can suggest the closest command."""
    modules = set(resolve()["modules"])
    assert not {f"mmsim.{m}" for m in COMMANDS} & modules
    mmsim = str(Path(sys.executable).with_name("mmsim"))
    out = subprocess.run([mmsim, "prco"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "proc" in out.stderr, out.stderr


def test_stopping_the_stack_needs_no_grpc():
    """`mmsim down` (and an `mmsim up` refused for a busy port) signal PIDs and bind sockets: mmsim.stack
    imports grpc only for a health check."""
    code = "import sys, mmsim.cli_stack, mmsim.stack; print(sorted(m for m in sys.modules if m.startswith(('grpc', 'google'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
