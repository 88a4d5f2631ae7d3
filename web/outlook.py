"""The dashboard's side of the outlook: what a dossier page shows of its predicted lateness and time
in status, the counts on the overview, and the apology form (Mẫu 04) download.

Everything read here was stored by the last refresh (tracker.outlook); nothing is estimated per
request. The form is offered for a dossier likely late or overdue with no apology yet, to users
whose scope holds the dossier's unit (a desk, a unit head: their units only); the applicant is
masked in it exactly as on the page for roles that do not see personal data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Response, abort, current_app
from flask_babel import gettext as _
from sqlalchemy import Engine, exists, func, select

from tracker.config import Settings
from tracker.models import Dossier, DossierOutlook
from tracker.predict import basis_text
from tracker.queries import dossier_row
from tracker.stuck import limits_seconds, stale_sources, stuck_condition, stuck_cut
from web import current_now
from web.auth import current_user, engine, login_required
from web.i18n import label, lang
from web.scope import Scope, mask_name, mask_phone, unit_tree

bp = Blueprint("outlook", __name__)
FORMATS = {"docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
           "pdf": "application/pdf"}


def settings() -> Settings:
    return current_app.config["TTHC_SETTINGS"]


def _row(engine: Engine, dossier_id: int) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(DossierOutlook).where(DossierOutlook.dossier_id == dossier_id)).first()


def outlook_for(r: Any, cls: str, now: datetime) -> dict[str, Any]:
    """What the dossier page shows: the stored probability and its basis, whether it stands stuck,
    and whether the apology form is offered."""
    o = _row(engine(), r["id"])
    sets = settings()
    cal = sets.work_calendar()
    out: dict[str, Any] = {"probability": None, "likely": False, "basis": "", "stuck": None,
                           "computed_at": None, "form": False}
    if o is not None:
        out["computed_at"] = o.computed_at
        if o.probability is not None and cls in ("within", "at_risk"):
            out.update(probability=o.probability, likely=o.likely_late,
                       basis=basis_text(o.basis_kind, o.basis_count, o.basis_months, lang()))
        if o.status == r["status"] and r["finish_at"] is None and _stuck(cal, o, now, limits_seconds(sets, cal)):
            recent = o.status_since.year >= now.year - 1  # an older `since` is shown as a date, without hours
            out["stuck"] = {"since": o.status_since, "status": label("status", o.status),
                            "hours": cal.working_hours_between(o.status_since, now) if recent else None}
    out["form"] = r["apology_at"] is None and (cls == "overdue" or (out["likely"] and cls in ("within", "at_risk")))
    return out


def _stuck(cal, o: Any, t: datetime, limits: dict[int, int]) -> bool:  # noqa: ANN001
    """tracker.stuck.is_stuck by the SQL lists' cut, so the page and the lists agree."""
    return o.status in limits and o.status_since is not None and o.status_since <= stuck_cut(cal, t, limits[o.status])


def outlook_counts(eng: Engine, sets: Settings, t: datetime, scope: Scope, unfinished: Any) -> dict[str, int]:
    """Likely late (open, not yet overdue) and stuck, within the scope: for the overview's cards."""
    d = Dossier.__table__.c
    o = DossierOutlook.__table__.c
    where = scope.restrict(d.unit_id)
    likely = select(func.count()).select_from(Dossier.__table__).where(
        unfinished, exists().where(o.dossier_id == d.id, o.likely_late, o.status == d.status))
    stale = stale_sources(eng, sets, t)
    stuck = select(func.count()).select_from(Dossier.__table__.join(DossierOutlook.__table__,
                                                                    o.dossier_id == d.id)).where(
        stuck_condition(sets, sets.work_calendar(), t, stale))
    if where is not None:
        likely, stuck = likely.where(where), stuck.where(where)
    with eng.connect() as conn:
        return {"likely_late": conn.execute(likely).scalar_one(), "stuck": conn.execute(stuck).scalar_one(),
                "stale_sources": len(stale)}


def outlook_filter(eng: Engine, sets: Settings, t: datetime, how: str, c: dict[str, Any],
                   extra: dict[str, Any]) -> list[Any]:
    """The overdue list's conditions for 'likely_late' (open, not yet overdue, stored as likely late)
    and 'stuck' (tracker.stuck; a stale source's dossiers are left out and named in `extra`)."""
    d = Dossier.__table__.c
    o = DossierOutlook.__table__.c
    if how == "likely_late":
        return [c["unfinished"], ~c["overdue"], exists().where(o.dossier_id == d.id, o.likely_late,
                                                               o.status == d.status)]
    stale = stale_sources(eng, sets, t)
    extra["stale"] = stale
    cond = stuck_condition(sets, sets.work_calendar(), t, stale)
    return [exists().where(o.dossier_id == d.id, cond)]


def add_outlook(eng: Engine, sets: Settings, t: datetime, rows: list[dict[str, Any]]) -> None:
    """Each list row gains its stored outlook: `likely`, `probability`, `basis`, `stuck_since`."""
    if not rows:
        return
    cal = sets.work_calendar()
    limits = limits_seconds(sets, cal)
    with eng.connect() as conn:
        found = {o.dossier_id: o for o in conn.execute(
            select(DossierOutlook).where(DossierOutlook.dossier_id.in_([r["id"] for r in rows])))}
    for r in rows:
        o = found.get(r["id"])
        fresh = o is not None and o.status == r["status"]
        r["probability"] = o.probability if fresh else None
        r["likely"] = bool(fresh and o.likely_late)
        r["basis"] = basis_text(o.basis_kind, o.basis_count, o.basis_months, lang()) if fresh else ""
        r["stuck_since"] = o.status_since if fresh and _stuck(cal, o, t, limits) else None


# ----- Mẫu 04 -------------------------------------------------------------------------------------


def _place(province: str) -> str:
    """'UBND tỉnh Sơn Hà' -> 'Sơn Hà' for the 'Sơn Hà, ngày …' line."""
    for prefix in ("UBND tỉnh ", "Ủy ban nhân dân tỉnh ", "UBND thành phố ", "Tỉnh ", "tỉnh ", "Thành phố "):
        if province.startswith(prefix):
            return province[len(prefix):]
    return province


@bp.get("/mau-04/<fmt>/<path:code>")
@login_required
def apology_form(fmt: str, code: str):  # noqa: ANN201
    from tracker.apology_form import ApologyForm, FormError, propose_new_due, to_docx, to_pdf
    from tracker.derive import classify_row, procedure_limits

    if fmt not in FORMATS:
        abort(404)
    with engine().connect() as conn:
        r = dossier_row(conn, code, current_user.scope.unit_ids)
        limits = procedure_limits(conn) if r is not None else None
    if r is None:
        abort(404)
    sets, now = settings(), current_now()
    cal = sets.work_calendar()
    c, _limit = classify_row(r, now, cal, sets.rule_settings(), limits)
    if not outlook_for(r, c.cls, now)["form"] or c.due_used is None or r["received_at"] is None:
        abort(404)  # offered only for a dossier likely late or overdue, without an apology yet
    sees = current_user.scope.sees_personal_data
    tree = unit_tree(engine())
    parent = [u for u in tree.path(r["unit_id"]) if u.id != r["unit_id"]]
    form = ApologyForm(
        agency=r["unit_name"], parent_agency=parent[-1].name if parent else "",
        applicant=(r["applicant_name"] if sees else mask_name(r["applicant_name"] or "")) or "",
        phone=(r["applicant_phone"] if sees else mask_phone(r["applicant_phone"] or "")) or "",
        dossier_code=r["code"], procedure=r["procedure_name"] or "", received_at=r["received_at"],
        due_at=c.due_used, new_due=propose_new_due(cal, c.due_used, now, sets.get("apology.add_working_days")),
        issued=now.date(), place=_place(sets.get("report.province")))
    try:
        data = to_docx(form) if fmt == "docx" else to_pdf(form)
    except FormError as exc:
        current_app.logger.error("apology form: %s", exc)
        return Response(_("Không tạo được tệp PDF: thiếu phông chữ trên máy chủ (fonts-dejavu-core)."), status=503,
                        mimetype="text/plain")
    return Response(data, mimetype=FORMATS[fmt], headers={
        "Content-Disposition": f"attachment; filename={form.file_stem}.{fmt}", "Cache-Control": "no-store"})
