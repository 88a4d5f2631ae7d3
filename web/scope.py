"""Which units a user may see. Every query of the dashboard and the API goes through `Scope`.

The unit tree is small (hundreds of units), so it is read whole and cached per engine for a
minute; dossiers are filtered in SQL with `unit_id IN (...)`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from sqlalchemy import Engine, select

from tracker.collation import name_key
from tracker.models import Unit
from tracker.users import ALL_UNITS_ROLES, PERSONAL_DATA_ROLES, user_unit_ids


@dataclass(frozen=True)
class UnitNode:
    id: int
    code: str
    name: str
    parent_id: int | None
    level: str


class UnitTree:
    def __init__(self, units: list[UnitNode]) -> None:
        self.by_id = {u.id: u for u in units}
        self.by_code = {u.code: u for u in units}
        self.children: dict[int | None, list[UnitNode]] = {}
        for u in sorted(units, key=lambda u: (name_key(u.name), u.code)):
            parent = u.parent_id if u.parent_id in self.by_id else None
            self.children.setdefault(parent, []).append(u)

    def subtree(self, unit_id: int) -> set[int]:
        out, stack = set(), [unit_id]
        while stack:
            uid = stack.pop()
            if uid in out:
                continue
            out.add(uid)
            stack.extend(c.id for c in self.children.get(uid, ()))
        return out

    def ordered(self, allowed: set[int] | None = None) -> list[tuple[UnitNode, int]]:
        """(unit, depth) in tree order, limited to `allowed` (None: all)."""
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

    def path(self, unit_id: int) -> list[UnitNode]:
        out: list[UnitNode] = []
        u = self.by_id.get(unit_id)
        while u is not None and u not in out:
            out.append(u)
            u = self.by_id.get(u.parent_id) if u.parent_id else None
        return out[::-1]


_CACHE: dict[int, tuple[float, UnitTree]] = {}
_LOCK = threading.Lock()


def unit_tree(engine: Engine, *, max_age: float = 60.0) -> UnitTree:
    key = id(engine)
    with _LOCK:
        hit = _CACHE.get(key)
        if hit and time.monotonic() - hit[0] < max_age:
            return hit[1]
    with engine.connect() as conn:
        rows = conn.execute(select(Unit.id, Unit.code, Unit.name, Unit.parent_id, Unit.level)).all()
    tree = UnitTree([UnitNode(*r) for r in rows])
    with _LOCK:
        _CACHE[key] = (time.monotonic(), tree)
    return tree


def forget_tree(engine: Engine) -> None:
    with _LOCK:
        _CACHE.pop(id(engine), None)


@dataclass(frozen=True)
class Scope:
    """The units one user may see: `unit_ids` None means every unit."""

    role: str
    unit_ids: frozenset[int] | None

    @property
    def all_units(self) -> bool:
        return self.unit_ids is None

    @property
    def sees_personal_data(self) -> bool:
        return self.role in PERSONAL_DATA_ROLES

    def allows(self, unit_id: int) -> bool:
        return self.unit_ids is None or unit_id in self.unit_ids

    def restrict(self, column):  # noqa: ANN001, ANN201
        """A WHERE clause limiting `column` (a unit id) to the scope, or None for every unit."""
        if self.unit_ids is None:
            return None
        return column.in_(sorted(self.unit_ids)) if self.unit_ids else column.in_([-1])


def scope_for(engine: Engine, user: dict) -> Scope:
    role = user["role"]
    if role in ALL_UNITS_ROLES:
        return Scope(role, None)
    linked = user_unit_ids(engine, user["id"])
    if role == "unit_head":
        tree = unit_tree(engine)
        ids: set[int] = set()
        for uid in linked:
            ids |= tree.subtree(uid)
        return Scope(role, frozenset(ids))
    if role == "reception":
        return Scope(role, frozenset(linked))
    return Scope(role, frozenset())


def mask_name(name: str) -> str:
    """'Nguyễn Văn An' -> 'Nguyễn V*** A**': the family name stays, the rest is initials."""
    words = name.split()
    if len(words) <= 1:
        return (name[:1] + "***") if name else ""
    middle = [w[:1] + "***" for w in words[1:-1]]
    return " ".join([words[0], *middle, words[-1][:1] + "**"])


def mask_phone(phone: str) -> str:
    """'0912345678' -> '09******78'."""
    digits = phone.strip()
    if len(digits) <= 4:
        return "*" * len(digits)
    return digits[:2] + "*" * (len(digits) - 4) + digits[-2:]
