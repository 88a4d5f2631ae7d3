"""Catalogues: the units tree and the procedures with their time limits.

`tthc units import FILE` and `tthc procedures import FILE`. Upserted by code; a re-import of the
same file changes nothing. A procedure's limits are versions with an effective date
(tracker.limits): a changed limit adds one, an unchanged one adds none. Bad rows are reported
with their line and column, the rest stored.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy import Engine, select, update

from tracker import data_version
from tracker.display import is_safe, safe_text, shown
from tracker.ingest.readers import FileRejected, open_text, sniff_delimiter
from tracker.ingest.text import fold, name_key, nfc
from tracker.ingest.values import ValueProblem, parse_datetime
from tracker.limits import LimitVersion, ProcedureLimits
from tracker.models import CODE_MAX, NAME_MAX, Dossier, Procedure, ProcedureLimit, Unit
from tracker.rules import LimitError, TimeLimit, parse_limit

LEVEL_MAX = 20  # Unit.level

UNIT_COLUMNS = {"code": ("madonvi", "code", "unitcode", "agencycode"),
                "name": ("tendonvi", "donvi", "name", "unitname", "agencyname"),
                "parent": ("madonvicha", "donvicha", "parent", "parentcode"),
                "level": ("cap", "capdonvi", "level"),
                "recipients": ("emailnhanbaocao", "email", "nguoinhan", "recipients", "digestrecipients")}
PROCEDURE_COLUMNS = {"code": ("matthc", "mathutuc", "code", "procedurecode"),
                     "name": ("tenthutuchanhchinh", "tenthutuc", "tentthc", "name", "procedurename"),
                     "field_code": ("malinhvuc", "fieldcode", "sectorcode"),
                     "field_name": ("linhvuc", "tenlinhvuc", "field", "sector", "sectorname"),
                     "limit": ("thoihangiaiquyet", "thoihan", "limit", "timelimit"),
                     # optional: the date the row's limit takes effect (none: in force since forever)
                     "effective_from": ("effectivefrom", "ngayapdung", "apdungtu", "ngayhieuluc", "hieuluctu")}


@dataclass
class CatalogueResult:
    file: str
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[str] = field(default_factory=list)
    versions: int = 0  # procedures: time-limit versions added or corrected
    marked: int = 0  # procedures: dossiers whose limit may have changed, marked for re-derivation

    @property
    def exit_code(self) -> int:
        return 3 if self.rejected else 0


def _upsert_by_code(conn, model, old, code: str, values: dict, result: CatalogueResult) -> None:  # noqa: ANN001
    """Insert a new catalogue row, update a changed one, count an unchanged one."""
    if old is None:
        conn.execute(model.__table__.insert().values(code=code, **values))
        result.inserted += 1
    elif any(getattr(old, k) != v for k, v in values.items()):
        conn.execute(update(model).where(model.code == code).values(**values))
        result.updated += 1
    else:
        result.unchanged += 1


def _read(path: Path, columns: dict[str, tuple[str, ...]], required: tuple[str, ...]):
    fh = open_text(path)
    with fh:
        sample = fh.read(64 * 1024)
        fh.seek(0)
        reader = csv.reader(fh, delimiter=sniff_delimiter(sample))
        index: dict[str, int] = {}
        for row in reader:
            keys = [fold(nfc(c)) for c in row]
            index = {f: keys.index(a) for f, aliases in columns.items() for a in aliases if a in keys}
            if "code" in index:
                break
            if reader.line_num > 30:
                break
        missing = [f for f in required if f not in index]
        if missing:
            raise FileRejected(f"{path.name}: missing columns {', '.join(missing)}")
        for row in reader:
            cells = [nfc(c).strip() for c in row]
            if any(cells):
                r = {f: cells[i] if i < len(cells) else "" for f, i in index.items()}
                if not is_safe(r["code"]):  # an identity: not changed behind the desk's back
                    r["problem"] = f"control characters in the code '{shown(r['code'])}'"
                yield reader.line_num, {f: safe_text(v) for f, v in r.items()}  # names: removed


def import_units(engine: Engine, path: str | Path) -> CatalogueResult:
    path = Path(path)
    result = CatalogueResult(path.name)
    rows = []
    for line, r in _read(path, UNIT_COLUMNS, ("code", "name")):
        result.rows_read += 1
        if "problem" in r:
            result.rejected.append(f"line {line}: {r['problem']}")
        elif not r["code"] or not r["name"]:
            result.rejected.append(f"line {line}: missing unit code or name")
        elif len(r["code"]) > CODE_MAX or len(r["name"]) > NAME_MAX or len(r.get("level", "")) > LEVEL_MAX:
            result.rejected.append(f"line {line}: code, name or level too long (at most {CODE_MAX}, {NAME_MAX}, "
                                   f"{LEVEL_MAX} characters)")
        else:
            rows.append(r)
    with engine.begin() as conn:
        existing = {u.code: u for u in conn.execute(select(Unit)).all()}
        for r in rows:
            # Only the columns the file has: a names-only file keeps the recipients an admin entered.
            values = {"name": r["name"], "name_key": name_key(r["name"])}
            if "level" in r:
                values["level"] = r["level"]
            if "recipients" in r:
                values["digest_recipients"] = ",".join(
                    e.strip() for e in r["recipients"].replace(";", ",").split(",") if e.strip())
            _upsert_by_code(conn, Unit, existing.get(r["code"]), r["code"], values, result)
        ids = dict(conn.execute(select(Unit.code, Unit.id)).all())
        parents = dict(conn.execute(select(Unit.code, Unit.parent_id)).all())
        for r in rows:
            if "parent" not in r:
                continue
            parent = r["parent"]
            if parent and parent not in ids:
                result.rejected.append(f"unit {r['code']}: parent '{parent}' is not a known unit code")
                continue
            pid = ids.get(parent) if parent else None
            if parents.get(r["code"]) != pid:
                conn.execute(update(Unit).where(Unit.code == r["code"]).values(parent_id=pid))
        data_version.bump(conn)
    return result


def import_procedures(engine: Engine, path: str | Path) -> CatalogueResult:
    """Upsert the procedures; their limits become versions (tracker.limits), dated by the optional
    effective_from column. A limit that changes the one a dossier is held to marks the dossiers of
    that procedure for re-derivation (derived_fp emptied), in the same transaction: whatever runs
    next (`tthc procedures import` itself, `tthc refresh`, the scheduler) recomputes them."""
    path = Path(path)
    result = CatalogueResult(path.name)
    rows: list[tuple[int, dict[str, str], TimeLimit | None, date | None]] = []
    for line, r in _read(path, PROCEDURE_COLUMNS, ("code", "name")):
        result.rows_read += 1
        if "problem" in r:
            result.rejected.append(f"line {line}: {r['problem']}")
            continue
        if not r["code"] or not r["name"]:
            result.rejected.append(f"line {line}: missing procedure code or name")
            continue
        too_long = [f for f, cap in (("code", CODE_MAX), ("name", NAME_MAX), ("field_code", CODE_MAX),
                                     ("field_name", NAME_MAX), ("limit", 200)) if len(r.get(f, "")) > cap]
        if too_long:  # PostgreSQL refuses them (varchar): the whole catalogue would fail
            result.rejected.append(f"line {line}: {', '.join(too_long)} too long")
            continue
        limit = effective_from = None
        try:
            limit = parse_limit(r["limit"]) if r.get("limit") else None
        except LimitError as exc:
            result.rejected.append(f"line {line}, column 'Thời hạn giải quyết': {exc}")
            continue
        try:
            moment = parse_datetime(r.get("effective_from", ""))
        except ValueProblem as exc:
            result.rejected.append(f"line {line}, column 'effective_from': {exc}")
            continue
        if moment is not None:
            effective_from = moment.date()
        rows.append((line, r, limit, effective_from))
    # a file may list a procedure's history, one row per version: applied oldest first, whatever
    # the rows' order, so "unchanged" is decided against the version before each one
    rows.sort(key=lambda x: x[3] or date.min)
    history = {r["code"] for _, r, _, effective_from in rows if effective_from is not None}
    with engine.begin() as conn:
        existing = {p.code: (p.id, {k: getattr(p, k) for k in _PROCEDURE_VALUES})
                    for p in conn.execute(select(Procedure)).all()}
        versions = _Versions(conn)
        for line, r, limit, effective_from in rows:
            code = r["code"]
            values = {"name": r["name"], "name_key": name_key(r["name"]),
                      "field_code": r.get("field_code", ""), "field_name": r.get("field_name", "")}
            pid, old = existing.get(code, (None, None))
            if pid is None:
                pid = conn.execute(Procedure.__table__.insert().values(code=code, **values)).inserted_primary_key[0]
                fate = "inserted"
            elif old != values:
                conn.execute(update(Procedure).where(Procedure.id == pid).values(**values))
                fate = "updated"
            else:
                fate = "unchanged"
            existing[code] = (pid, values)
            if limit is not None:
                try:
                    if versions.apply(pid, effective_from, limit, r["limit"], code in history) and fate == "unchanged":
                        fate = "updated"
                except VersionRefused as exc:
                    result.rejected.append(f"line {line}, column 'Thời hạn giải quyết': {exc}")
            setattr(result, fate, getattr(result, fate) + 1)
        result.versions = versions.written
        if versions.moved:
            result.marked = conn.execute(update(Dossier).where(Dossier.procedure_id.in_(sorted(versions.moved)))
                                         .values(derived_fp="")).rowcount
        data_version.bump(conn)
    return result


_PROCEDURE_VALUES = ("name", "name_key", "field_code", "field_name")


class VersionRefused(ValueError):
    """A limit row the importer will not guess about."""


class _Versions:
    """The stored limit versions, applied one catalogue row at a time."""

    def __init__(self, conn) -> None:  # noqa: ANN001
        self.conn = conn
        self.limits = ProcedureLimits.load(conn)
        self.written = 0  # versions added or corrected
        self.moved: set[int] = set()  # procedures a dossier's limit may have changed for

    def apply(self, pid: int, effective_from: date | None, limit: TimeLimit, text: str, history: bool) -> bool:
        """Add or correct the version the row describes; False when it changes nothing.

        A row with no date is the limit since forever. Once a procedure has dated versions, an
        undated row that is not the current limit is refused unless the file gives the
        procedure's history (dated rows beside it): read as "since forever" it would rewrite every
        dossier before the first dated version, which is what dated versions are there to stop."""
        versions = self.limits.versions(pid)
        if effective_from is None and not history and any(v.effective_from for v in versions):
            current = versions[-1]
            if limit == current.limit:
                return False
            raise VersionRefused(f"'{text}' has no effective_from, and the procedure's limit is "
                                 f"{current.describe('vi')}: add an effective_from column to change it "
                                 "from a date on")
        same = next((v for v in versions if v.effective_from == effective_from), None)
        if same is not None:
            if (same.limit, same.text) == (limit, text):
                return False
            t = ProcedureLimit.__table__.c
            self.conn.execute(update(ProcedureLimit.__table__).where(
                t.procedure_id == pid, t.effective_from.is_(None) if effective_from is None
                else t.effective_from == effective_from).values(
                limit_value=limit.value, limit_unit=limit.unit, limit_text=text))
            self.limits.replace(pid, same, LimitVersion(limit, effective_from, text))
            if same.limit != limit:
                self.moved.add(pid)
            self.written += 1
            return True
        before = self.limits.in_force(pid, effective_from)
        if before is not None and before.limit == limit:
            return False  # an unchanged limit adds no version
        self.conn.execute(ProcedureLimit.__table__.insert().values(
            procedure_id=pid, effective_from=effective_from, limit_value=limit.value, limit_unit=limit.unit,
            limit_text=text))
        self.limits.add(pid, LimitVersion(limit, effective_from, text))
        self.moved.add(pid)
        self.written += 1
        return True
