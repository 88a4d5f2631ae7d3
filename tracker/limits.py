"""A procedure's time limits over time: which one a dossier is held to.

Catalogues change during the year (Resolution 66/NQ-CP asks provinces to cut processing times),
so a procedure keeps every limit it has had, each with the date it took effect
(`procedure_limit`). A dossier is held to the limit in force on its receipt date; one received
before the earliest dated version, or never received, to the earliest version known (a version
with no date has been in force "since forever"). The dossier's own limit, when its export
carries one, still wins over all of them (tracker.derive.limit_of).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select

from tracker.models import ProcedureLimit
from tracker.rules import TimeLimit

_ALWAYS = date.min  # how a version with no effective date sorts: before every dated one


@dataclass(frozen=True)
class LimitVersion:
    limit: TimeLimit
    effective_from: date | None = None  # None: in force since forever
    text: str = ""  # as the catalogue wrote it

    def describe(self, lang: str = "vi") -> str:
        """'10 ngày làm việc, áp dụng từ 01/11/2026' (the limit alone for a version with no date)."""
        if self.effective_from is None:
            return self.limit.describe(lang)
        word = "áp dụng từ" if lang == "vi" else "in force from"
        return f"{self.limit.describe(lang)}, {word} {self.effective_from:%d/%m/%Y}"


class ProcedureLimits:
    """Every procedure's versions, by procedure id, oldest first: loaded once per import or refresh."""

    def __init__(self, rows: Iterable[tuple[int, date | None, float, str, str]] = ()) -> None:
        self._versions: dict[int, list[LimitVersion]] = {}
        self._starts: dict[int, list[date]] = {}
        for pid, effective_from, value, unit, text in rows:
            self.add(pid, LimitVersion(TimeLimit(float(value), unit), effective_from, text or ""))

    @classmethod
    def load(cls, conn) -> ProcedureLimits:  # noqa: ANN001
        t = ProcedureLimit.__table__.c
        return cls(conn.execute(select(t.procedure_id, t.effective_from, t.limit_value, t.limit_unit,
                                       t.limit_text)))

    def add(self, pid: int, version: LimitVersion) -> None:
        versions = self._versions.setdefault(pid, [])
        versions.append(version)
        versions.sort(key=lambda v: v.effective_from or _ALWAYS)
        self._starts[pid] = [v.effective_from or _ALWAYS for v in versions]

    def replace(self, pid: int, old: LimitVersion, new: LimitVersion) -> None:
        versions = self._versions[pid]
        versions[versions.index(old)] = new

    def versions(self, pid: int | None) -> list[LimitVersion]:
        return list(self._versions.get(pid, ())) if pid is not None else []

    def version_at(self, pid: int | None, received_at: datetime | None) -> LimitVersion | None:
        """The version in force on the receipt date (the earliest when there is none yet, or no date)."""
        versions = self._versions.get(pid) if pid is not None else None
        if not versions:
            return None
        if len(versions) == 1 or received_at is None:
            return versions[0]
        i = bisect_right(self._starts[pid], received_at.date())
        return versions[max(i - 1, 0)]

    def in_force(self, pid: int, day: date | None) -> LimitVersion | None:
        """The version in force on `day` (None: since forever), or None when none is yet."""
        versions = self._versions.get(pid)
        if not versions:
            return None
        i = bisect_right(self._starts[pid], day or _ALWAYS)
        return versions[i - 1] if i else None

    def at(self, pid: int | None, received_at: datetime | None) -> TimeLimit | None:
        version = self.version_at(pid, received_at)
        return version.limit if version else None

    def __contains__(self, pid: object) -> bool:
        return pid in self._versions
