"""Which units a user may see. Every query of the dashboard and the API goes through `Scope`.

The unit tree (tracker.units) is small (hundreds of units): it is read whole, cached until the data
version changes (web.cache), and dossiers are filtered in SQL with `unit_id IN (...)`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from flask import has_app_context
from sqlalchemy import Engine

from tracker.units import UnitTree, load_tree
from tracker.users import ALL_UNITS_ROLES, PERSONAL_DATA_ROLES, user_unit_ids
from web.cache import cache, data_version


def unit_tree(engine: Engine) -> UnitTree:
    """The unit tree as the last committed change left it: from the app's cache, or read now outside
    an app (a script, a test calling a list directly)."""
    if not has_app_context():
        return load_tree(engine)
    return cache().get(("unit_tree", str(engine.url)), lambda: load_tree(engine), version=data_version(engine))


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

    @property
    def key(self) -> tuple:
        """What tells scopes apart in cache keys."""
        return (self.role, None if self.unit_ids is None else tuple(sorted(self.unit_ids)))

    def units(self, within: Collection[int] | None = None) -> frozenset[int] | None:
        """The scope's units, narrowed to `within` (None: not narrowed); None: every unit."""
        if within is None:
            return self.unit_ids
        return frozenset(within) if self.unit_ids is None else self.unit_ids & frozenset(within)

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
