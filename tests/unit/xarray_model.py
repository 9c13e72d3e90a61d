"""An independent, in-memory radix-tree model of lib/xarray.c for differential tests of the Redis XArray.

Plain Python objects and integer indices (no digits, no Redis, no Lua): ``Node`` is struct xa_node with
its slot list, ``Sib(offset)`` a sibling entry, and the operations follow the kernel's own walk --
xas_start / xas_descend / xas_expand / xas_create / xas_store / xas_delete_node / xas_shrink,
xas_set_range + xa_store_range, xas_split_alloc + xas_split, xas_try_split, xas_get_order -- with
node counts. Marks are left out (the Redis XArray's marks have their own state-machine test).
Entries are any hashable Python values; None is NULL.
"""

from __future__ import annotations

from dataclasses import dataclass

BITS_PER_LONG = 64


@dataclass(frozen=True)
class Sib:
    """xa_mk_sibling(offset)."""

    offset: int


class Node:
    """struct xa_node: shift, offset in the parent, count, nr_values, slots."""

    def __init__(self, shift: int, size: int, parent: Node | None = None, offset: int = 0):
        self.shift, self.parent, self.offset = shift, parent, offset
        self.count = self.nr_values = 0
        self.slots: list = [None] * size


def is_value(entry) -> bool:
    """xa_is_value: the model's value entries are ints (objects are bytes)."""
    return isinstance(entry, int) and not isinstance(entry, bool)


class Model:
    def __init__(self, cs: int):
        self.cs, self.size, self.mask = cs, 1 << cs, (1 << cs) - 1
        self.head = None
        self.nodes = 0

    # -- the xa_state ----------------------------------------------------------------------------
    def _state(self, index: int, order: int = 0):
        """XA_STATE_ORDER: the index rounded down, xa_shift and xa_sibs of the order."""
        return {"index": (index >> order) << order, "shift": order - order % self.cs,
                "sibs": (1 << (order % self.cs)) - 1, "node": None, "offset": 0, "bounds": False}

    def _max_index(self, entry) -> int:
        return ((self.size << entry.shift) - 1) if isinstance(entry, Node) else 0

    def _descend(self, xas, node):
        offset = (xas["index"] >> node.shift) & self.mask
        entry = node.slots[offset]
        while isinstance(entry, Sib):
            offset = entry.offset
            entry = node.slots[offset]
        xas["node"], xas["offset"] = node, offset
        return entry

    def _load(self, xas):
        entry = self.head
        xas["node"], xas["bounds"] = None, False
        if xas["index"] > self._max_index(entry):
            xas["bounds"] = True
            return None
        while isinstance(entry, Node):
            node = entry
            if xas["shift"] > node.shift:
                break
            entry = self._descend(xas, node)
            if node.shift == 0:
                break
        return entry

    def _new_node(self, shift: int, parent: Node | None, offset: int) -> Node:
        self.nodes += 1
        node = Node(shift, self.size, parent, offset)
        if parent is not None:
            parent.count += 1
        return node

    def _xas_max(self, xas) -> int:
        top = xas["index"]
        if xas["shift"] or xas["sibs"]:
            mask = ((xas["sibs"] + 1) << xas["shift"]) - 1
            top |= mask
            if top == mask:
                top += 1
        return top

    def _expand(self, xas) -> int:
        top, head = self._xas_max(xas), self.head
        if head is None:
            if top == 0:
                return 0
            shift = 0
            while (top >> shift) >= self.size:
                shift += self.cs
            return shift + self.cs
        shift = head.shift + self.cs if isinstance(head, Node) else 0
        while top > self._max_index(head):
            node = self._new_node(shift, None, 0)
            node.count, node.nr_values = 1, int(is_value(head))
            node.slots[0] = head
            if isinstance(head, Node):
                head.parent, head.offset = node, 0
            head = self.head = node
            shift += self.cs
        return shift

    def _create(self, xas):
        shift = self._expand(xas)
        entry = self.head
        xas["node"], xas["offset"] = None, 0
        while shift > xas["shift"]:
            shift -= self.cs
            if entry is None:
                node = self._new_node(shift, xas["node"], xas["offset"])
                if xas["node"] is None:
                    self.head = node
                else:
                    xas["node"].slots[xas["offset"]] = node
            elif isinstance(entry, Node):
                node = entry
            else:
                break
            entry = self._descend(xas, node)
        return entry

    def _free_nodes(self, node: Node) -> None:
        for slot in node.slots:
            if isinstance(slot, Node):
                self._free_nodes(slot)
        self.nodes -= 1

    def _shrink(self, node: Node) -> None:
        while node.count == 1:
            entry = node.slots[0]
            if entry is None or (not isinstance(entry, Node) and node.shift):
                return
            self.head = entry
            self.nodes -= 1
            if not isinstance(entry, Node):
                return
            node = entry
            node.parent = None

    def _delete_node(self, node: Node) -> None:
        while node.count == 0:
            parent = node.parent
            self.nodes -= 1
            if parent is None:
                self.head = None
                return
            parent.slots[node.offset] = None
            parent.count -= 1
            node = parent
        if node.parent is None:
            self._shrink(node)

    def _store(self, xas, entry):
        first = self._create(xas) if entry is not None else self._load(xas)
        if xas["bounds"]:
            return first
        node = xas["node"]
        if node is not None and xas["shift"] < node.shift:
            xas["sibs"] = 0
        if first == entry and not xas["sibs"]:
            return first
        nxt, offset = first, xas["offset"]
        top = offset + xas["sibs"]
        value = is_value(entry)
        count = values = 0
        while True:
            if node is None:
                self.head = entry
            else:
                node.slots[offset] = entry
            if isinstance(nxt, Node):
                self._free_nodes(nxt)
            if node is None:
                break
            count += (nxt is None) - (entry is None)
            values += (not is_value(first)) - (not value)
            if entry is not None:
                if offset == top:
                    break
                if not isinstance(entry, Sib):
                    entry = Sib(xas["offset"])
            elif offset == self.mask:
                break
            offset += 1
            nxt = node.slots[offset]
            if not isinstance(nxt, Sib):
                if entry is None and offset > top:
                    break
                first = nxt
        if node is not None and (count or values):
            node.count += count
            node.nr_values += values
            if count < 0:
                self._delete_node(node)
        return first

    # -- the API -----------------------------------------------------------------------------------
    def load(self, index: int):
        return self._load(self._state(index))

    def store_order(self, index: int, order: int, entry):
        """xa_store_order; returns the old entry as xas_store does."""
        return self._store(self._state(index, order), entry)

    def erase(self, index: int):
        return self._store(self._state(index), None)

    def _set_range(self, first: int, last: int):
        """xas_set_range: the next chunk of a range store."""
        shift, sibs, offset = 0, last - first, self.mask
        xas = self._state(first)
        while first & self.mask == 0:
            if sibs < self.mask or (sibs == self.mask and offset < self.mask):
                break
            shift += self.cs
            if offset == self.mask:
                offset = sibs & self.mask
            sibs >>= self.cs
            first >>= self.cs
        offset = first & self.mask
        if offset + sibs > self.mask:
            sibs = self.mask - offset
        if (((first + sibs + 1) << shift) - 1) > last:
            sibs -= 1
        xas["shift"], xas["sibs"] = shift, sibs
        return xas

    def store_range(self, first: int, last: int, entry) -> None:
        """xa_store_range."""
        if entry is not None:
            order = BITS_PER_LONG if last + 1 == 1 << BITS_PER_LONG else ((last + 1) & -(last + 1)).bit_length() - 1
            xas = self._state(last if order < BITS_PER_LONG else 0, order)
            self._create(xas)
        while first <= last:
            xas = self._set_range(first, last)
            self._store(xas, entry)
            first += (xas["sibs"] + 1) << xas["shift"]

    def get_order(self, index: int) -> int:
        """xa_get_order."""
        xas = self._state(index)
        if self._load(xas) is None or xas["node"] is None:
            return 0
        node, order = xas["node"], 0
        while True:
            slot = xas["offset"] + (1 << order)
            if slot >= self.size or not isinstance(node.slots[slot], Sib):
                break
            order += 1
        return order + node.shift

    def _split_start(self, index: int, new_order: int):
        xas = self._state(index, new_order)
        curr = self._load(xas)
        if curr is None or isinstance(curr, Node) or xas["node"] is None:
            raise ValueError("no multi-index entry")
        order = self.get_order(xas["index"])
        if new_order >= order:
            raise ValueError("new order not below the entry's")
        node, run = xas["node"], 1 << (order - xas["node"].shift)
        first = xas["offset"]
        if run > self.size or first % run or not all(isinstance(node.slots[o], Sib) for o in range(first + 1, first + run)):
            raise ValueError("not an aligned run of 2**k slots (xa_store_range made it)")
        return xas, curr, order

    def _split(self, xas, curr, order: int, entry) -> None:
        """xas_split, with the child nodes xas_split_alloc would have prepared."""
        node, mask = xas["node"], xas["sibs"]
        offset = xas["offset"] + (1 << (order % self.cs)) - 1
        values = 0
        while True:
            if xas["shift"] < node.shift:
                self.nodes += 1
                child = Node(node.shift - self.cs, self.size, node, offset)
                for i in range(self.size):
                    child.slots[i] = entry if i & mask == 0 else Sib(i & ~mask)
                child.count, child.nr_values = self.size, self.size if is_value(entry) else 0
                node.slots[offset] = child
                values -= is_value(curr)
            else:
                canon = offset - mask
                node.slots[canon] = entry
                for o in range(canon + 1, offset + 1):
                    node.slots[o] = Sib(canon)
                values += (is_value(entry) - is_value(curr)) * (mask + 1)
                offset = canon
            if offset <= xas["offset"]:
                break
            offset -= 1
        node.nr_values += values

    def split(self, index: int, new_order: int, entry) -> None:
        """xas_split_alloc + xas_split; MemoryError where xas_split_alloc fails (more than one level)."""
        xas, curr, order = self._split_start(index, new_order)
        if xas["shift"] + 2 * self.cs <= order:
            raise MemoryError("xas_split_alloc: more than one level")
        self._split(xas, curr, order, entry)

    def try_split(self, index: int, new_order: int, entry) -> None:
        """xas_try_split: a new node only for an entry of one whole slot split to the level below."""
        xas, curr, order = self._split_start(index, new_order)
        if xas["shift"] < xas["node"].shift and order != xas["shift"] + self.cs:
            raise ValueError("xas_try_split: more than one node")
        self._split(xas, curr, order, entry)

    # -- the tree, as the Redis XArray's dump reports it -------------------------------------------
    def dump(self) -> list[tuple]:
        """Every node as (shift, first index, count, nr_values, {offset: slot}), parents first."""
        out = []

        def walk(node: Node, base: int) -> None:
            slots = {}
            for off, slot in enumerate(node.slots):
                if slot is not None:
                    slots[off] = "node" if isinstance(slot, Node) else slot
            out.append((node.shift, base, node.count, node.nr_values, slots))
            for off, slot in enumerate(node.slots):
                if isinstance(slot, Node):
                    walk(slot, base + (off << node.shift))

        if isinstance(self.head, Node):
            walk(self.head, 0)
        return out
