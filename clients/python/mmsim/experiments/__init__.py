"""The LSFMM 2018 to-do list as experiments: `mmsim experiment list`, `mmsim experiment run NAME [--quick]`.

Each module here measures one item on the running cluster under the variants it compares (see base.py for
the shape of a module). The registry names them in the order the docs show them; a module is imported only
when it runs.
"""

from __future__ import annotations

import importlib

NAMES = ("vm-fault", "kvmalloc", "mapcount", "hugetlb-indexing", "large-blocks", "zero-entries", "pfn-entries",
         "nofs", "struct-page")


def get(name: str):
    """The experiment module called ``name`` (KeyError when there is none)."""
    if name not in NAMES:
        raise KeyError(name)
    return importlib.import_module(f"mmsim.experiments.{name.replace('-', '_')}")
