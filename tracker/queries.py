"""Read queries more than one caller needs: a dossier with its unit and procedure (the CLI's classify
and dossier commands, the dashboard's dossier page and apology form, the demo)."""

from __future__ import annotations

from collections.abc import Collection, Iterator

from sqlalchemy import RowMapping, Select, select
from sqlalchemy.engine import Connection, Engine

from tracker.limits import ProcedureLimits
from tracker.models import Dossier, Procedure, Unit


def limit_versions(engine: Engine) -> ProcedureLimits:
    """Every procedure's time-limit versions: what `tracker.derive.classify_row` holds a dossier to."""
    with engine.connect() as conn:
        return ProcedureLimits.load(conn)


def dossier_select() -> Select:
    """Dossier ⋈ unit ⋈ procedure: every column of the dossier, with unit_code, unit_name,
    procedure_code, procedure_name and field_name (NULL for a dossier of no known procedure)."""
    return (select(Dossier, Unit.code.label("unit_code"), Unit.name.label("unit_name"),
                   Procedure.code.label("procedure_code"), Procedure.name.label("procedure_name"),
                   Procedure.field_name)
            .join(Unit, Unit.id == Dossier.unit_id)
            .outerjoin(Procedure, Procedure.id == Dossier.procedure_id))


def dossier_rows(engine: Engine, unit: str | None = None, code: str | None = None) -> Iterator[RowMapping]:
    """Every dossier (of one unit, or one code) with its unit and procedure, in id order, streamed:
    with limit_versions, what `tracker.derive.classify_row` needs."""
    q = dossier_select().order_by(Dossier.id)
    if unit is not None:
        q = q.where(Unit.code == unit)
    if code is not None:  # "" is a code no dossier has, not "every dossier"
        q = q.where(Dossier.code == code)
    with engine.connect() as conn:
        yield from conn.execute(q.execution_options(yield_per=5000)).mappings()


def dossier_row(conn: Connection, code: str, units: Collection[int] | None = None) -> RowMapping | None:
    """The dossier `code` with its unit and procedure, if it belongs to one of `units` (None: any)."""
    q = dossier_select().where(Dossier.code == code)
    if units is not None:
        q = q.where(Dossier.unit_id.in_(sorted(units) or [-1]))
    return conn.execute(q).mappings().first()
