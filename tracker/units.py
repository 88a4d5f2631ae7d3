"""The unit tree (đơn vị): every unit with its parent and level, read whole (a province has hundreds).

Two orders, as their readers have always shown them:
- `ordered()`: each unit's children by name (Vietnamese alphabetical order), for the dashboard;
  a unit whose parent is unknown is a root; units caught in a parent cycle have no place in it;
- `in_code_order()`: children by code, for period reports and scores (Biểu 06 lists units as the
  province numbers them); a unit whose parent is unknown, itself or caught in a cycle is a root.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Engine, select

from tracker.collation import name_key
from tracker.models import Unit


@dataclass(frozen=True)
class UnitNode:
    id: int
    code: str
    name: str
    parent_id: int | None
    level: str  # "tinh" | "huyen" | "xa", or "" when not known


class UnitTree:
    def __init__(self, units: Iterable[UnitNode]) -> None:
        units = list(units)
        self.by_id = {u.id: u for u in units}
        self.by_code = {u.code: u for u in units}
        self.children: dict[int | None, list[UnitNode]] = {}  # by name
        for u in sorted(units, key=lambda u: (name_key(u.name), u.code)):
            parent = u.parent_id if u.parent_id in self.by_id else None
            self.children.setdefault(parent, []).append(u)

    def with_units(self, extra: Iterable[UnitNode]) -> UnitTree:
        """This tree and `extra` units (a report names a deleted unit's dossiers '#id')."""
        return UnitTree([*self.by_id.values(), *extra])

    def subtree(self, unit_id: int) -> set[int]:
        """The unit and every unit below it."""
        out, stack = set(), [unit_id]
        while stack:
            uid = stack.pop()
            if uid in out:
                continue
            out.add(uid)
            stack.extend(c.id for c in self.children.get(uid, ()))
        return out

    def ordered(self, allowed: set[int] | None = None) -> list[tuple[UnitNode, int]]:
        """(unit, depth) in tree order, children by name, limited to `allowed` (None: all); a unit
        outside `allowed` is skipped and its children take its depth."""
        out: list[tuple[UnitNode, int]] = []

        def walk(parent: int | None, depth: int) -> None:
            for u in self.children.get(parent, ()):
                if allowed is None or u.id in allowed:
                    out.append((u, depth))
                    walk(u.id, depth + 1)
                else:
                    walk(u.id, depth)

        walk(None, 0)
        return out

    def in_code_order(self) -> list[tuple[UnitNode, int]]:
        """(unit, depth), depth first, children by code under their parent; every unit once."""
        children: dict[int | None, list[UnitNode]] = {}
        for u in self.by_id.values():
            parent = u.parent_id if u.parent_id in self.by_id and u.parent_id != u.id else None
            children.setdefault(parent, []).append(u)
        for kids in children.values():
            kids.sort(key=lambda u: u.code)
        out: list[tuple[UnitNode, int]] = []
        seen: set[int] = set()

        def walk(u: UnitNode, depth: int) -> None:
            seen.add(u.id)
            out.append((u, depth))
            for c in children.get(u.id, []):
                if c.id not in seen:
                    walk(c, depth + 1)

        for root in children.get(None, []):
            walk(root, 0)
        for u in sorted(self.by_id.values(), key=lambda u: u.code):  # cycles: no root reaches them
            if u.id not in seen:
                walk(u, 0)
        return out

    def ancestors(self, unit_id: int) -> list[UnitNode]:
        """The units above, nearest first (a cycle is followed once)."""
        out: list[UnitNode] = []
        seen = {unit_id}
        u = self.by_id.get(unit_id)
        while u is not None and u.parent_id in self.by_id and u.parent_id not in seen:
            u = self.by_id[u.parent_id]
            seen.add(u.id)
            out.append(u)
        return out

    def path(self, unit_id: int) -> list[UnitNode]:
        """From the root down to the unit itself (a breadcrumb)."""
        out: list[UnitNode] = []
        u = self.by_id.get(unit_id)
        while u is not None and u not in out:
            out.append(u)
            u = self.by_id.get(u.parent_id) if u.parent_id else None
        return out[::-1]


def load_tree(engine: Engine) -> UnitTree:
    with engine.connect() as conn:
        rows = conn.execute(select(Unit.id, Unit.code, Unit.name, Unit.parent_id, Unit.level)).all()
    return UnitTree(UnitNode(r.id, r.code, r.name, r.parent_id, r.level or "") for r in rows)
