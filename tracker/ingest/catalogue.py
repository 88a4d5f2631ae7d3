"""Catalogues: the units tree and the procedures with their time limits.

`tthc units import FILE` and `tthc procedures import FILE`. Upserted by code; a re-import of the
same file changes nothing. Bad rows are reported with their line and column, the rest stored.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, select, update

from tracker.display import is_safe, safe_text, shown
from tracker.ingest.readers import FileRejected, open_text, sniff_delimiter
from tracker.ingest.text import fold, name_key, nfc
from tracker.models import CODE_MAX, NAME_MAX, Procedure, Unit
from tracker.rules import LimitError, parse_limit

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
                     "limit": ("thoihangiaiquyet", "thoihan", "limit", "timelimit")}


@dataclass
class CatalogueResult:
    file: str
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[str] = field(default_factory=list)

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
    return result


def import_procedures(engine: Engine, path: str | Path) -> CatalogueResult:
    path = Path(path)
    result = CatalogueResult(path.name)
    with engine.begin() as conn:
        existing = {p.code: p for p in conn.execute(select(Procedure)).all()}
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
            limit = None
            if r.get("limit"):
                try:
                    limit = parse_limit(r["limit"])
                except LimitError as exc:
                    result.rejected.append(f"line {line}, column 'Thời hạn giải quyết': {exc}")
                    continue
            values = {"name": r["name"], "name_key": name_key(r["name"]),
                      "field_code": r.get("field_code", ""), "field_name": r.get("field_name", ""),
                      "limit_value": limit.value if limit else None,
                      "limit_unit": limit.unit if limit else None, "limit_text": r.get("limit", "")}
            _upsert_by_code(conn, Procedure, existing.get(r["code"]), r["code"], values, result)
    return result
