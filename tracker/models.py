"""The data model. Times are naive local times (Asia/Ho_Chi_Minh).

Derived columns (computed due, due used, finish moment, result class, audit flags) are stored so
the dashboard and reports filter in SQL. Each dossier row keeps the fingerprint of the calendar
and rule settings it was derived with (`derived_fp`); when settings change, `tracker.derive`
recomputes the rows whose fingerprint differs, so a corrected holiday table corrects history.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Date, DateTime, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from tracker.clock import now_local


def Moment(**kw):  # noqa: N802  (reads like Field)
    """A naive local datetime column. SQLModel's default type insists on aware UTC values; the
    domain's moments are Vietnamese wall-clock times, so they are stored as such."""
    return Field(sa_type=DateTime(timezone=False), **kw)


# Size caps, enforced by the importer with a clear rejection (not by a database error).
CODE_MAX = 64
NAME_MAX = 500
PHONE_MAX = 20


class Unit(SQLModel, table=True):
    """An agency (đơn vị): a tree whose levels are data (tỉnh, huyện, xã), not code."""

    __tablename__ = "unit"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=CODE_MAX, unique=True)  # mã đơn vị
    name: str = Field(max_length=NAME_MAX)
    name_key: str = Field(max_length=NAME_MAX, index=True)  # folded name: how exports name units
    parent_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    level: str = Field(default="", max_length=20)  # "tinh", "huyen", "xa" ...
    digest_recipients: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_at: datetime = Moment(default_factory=now_local)
    # the import that invented this unit (not in units.csv): listed by the data-quality panel
    created_by_run_id: int | None = Field(default=None, foreign_key="import_run.id")


class Procedure(SQLModel, table=True):
    """An administrative procedure (thủ tục hành chính) and its legal time limit."""

    __tablename__ = "procedure"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=CODE_MAX, unique=True)  # MaTTHC, e.g. 1.001234
    name: str = Field(max_length=NAME_MAX)
    name_key: str = Field(max_length=NAME_MAX, index=True)
    field_code: str = Field(default="", max_length=CODE_MAX)  # mã lĩnh vực
    field_name: str = Field(default="", max_length=NAME_MAX, index=True)  # lĩnh vực
    # its time limits: procedure_limit, one row per version (0006)


class ProcedureLimit(SQLModel, table=True):
    """One version of a procedure's legal time limit (thời hạn giải quyết), in force from a date.

    A dossier is held to the version in force on its receipt date (tracker.limits). A version with
    no date has been in force since forever; one procedure has at most one such version (the
    partial index below: NULLs are distinct to a unique constraint)."""

    __tablename__ = "procedure_limit"
    __table_args__ = (
        UniqueConstraint("procedure_id", "effective_from", name="uq_procedure_limit"),
        Index("uq_procedure_limit_undated", "procedure_id", unique=True,
              sqlite_where=text("effective_from IS NULL"), postgresql_where=text("effective_from IS NULL")),
    )

    id: int | None = Field(default=None, primary_key=True)
    procedure_id: int = Field(foreign_key="procedure.id")  # first column of both unique indexes
    effective_from: date | None = Field(default=None, sa_type=Date)  # ngày áp dụng; None: since forever
    limit_value: float
    limit_unit: str = Field(max_length=20)  # working_days|working_hours|calendar_days
    limit_text: str = Field(default="", max_length=200)  # as the catalogue wrote it


class ImportRun(SQLModel, table=True):
    """One import of one file or URL: what came in and what became of every row."""

    __tablename__ = "import_run"

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=200, index=True)  # a declared source name, or "file"
    file_name: str = Field(default="", max_length=1000)
    sha256: str = Field(default="", max_length=64, index=True)
    format: str = Field(default="", max_length=40)
    started_at: datetime = Moment(default_factory=now_local)
    finished_at: datetime | None = Moment(default=None)
    status: str = Field(default="running", max_length=20)  # running | done | partial | failed
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    message: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class RejectedRow(SQLModel, table=True):
    """A row an import could not store, with where and why: an officer fixes it and re-imports."""

    __tablename__ = "rejected_row"

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="import_run.id", index=True)
    line: int  # line in the file (1 = first line), or record number for JSON
    column: str = Field(default="", max_length=200)
    value: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    reason: str = Field(sa_column=Column(Text, nullable=False))
    raw: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))  # the row, JSON


class Dossier(SQLModel, table=True):
    """One application (hồ sơ).

    Indexes are few on purpose: each one costs every imported row. The unique code serves
    upserts; the composite ones below serve the lists and reports named beside them."""

    __tablename__ = "dossier"
    __table_args__ = (
        # used by the overdue / at-risk list: unfinished dossiers by due
        Index("ix_dossier_open_due", "finish_at", "due_used_at"),
        # used by unit views and per-unit reports
        Index("ix_dossier_unit_received", "unit_id", "received_at"),
        # used by period reports: finished in a period
        Index("ix_dossier_unit_finish", "unit_id", "finish_at"),
        # used by the portal's 766 method: the few dossiers with a supplement event after T (partial:
        # only dossiers with supplements have an entry, so the others cost an import nothing)
        Index("ix_dossier_supplement_last", "supplement_last_at",
              sqlite_where=text("supplement_last_at IS NOT NULL"),
              postgresql_where=text("supplement_last_at IS NOT NULL")),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=CODE_MAX, unique=True)  # mã hồ sơ
    unit_id: int = Field(foreign_key="unit.id")
    procedure_id: int | None = Field(default=None, foreign_key="procedure.id")  # no index: 0005
    channel: int | None = None  # KenhThucHien: 1 trực tiếp, 2 trực tuyến, 3 bưu chính
    status: int  # TrangThaiHoSo, 1..10

    submitted_at: datetime | None = Moment(default=None)  # ngày nộp
    received_at: datetime | None = Moment(default=None)  # ngày tiếp nhận; indexed with unit_id only
    due_at: datetime | None = Moment(default=None)  # ngày hẹn trả, as recorded (authoritative)
    supplement_requested_at: datetime | None = Moment(default=None)  # ngày yêu cầu bổ sung
    resubmitted_at: datetime | None = Moment(default=None)  # ngày bổ sung (nhận lại)
    apology_at: datetime | None = Moment(default=None)  # ngày phiếu xin lỗi
    rescheduled_due_at: datetime | None = Moment(default=None)  # ngày hẹn trả mới
    finished_at: datetime | None = Moment(default=None)  # ngày kết thúc xử lý / có kết quả
    returned_at: datetime | None = Moment(default=None)  # ngày trả kết quả
    first_seen_finished_at: datetime | None = Moment(default=None)  # when we first saw an ended status
    limit_value: float | None = None  # the row's own time limit, when the export carries one
    limit_unit: str | None = Field(default=None, max_length=20)
    # Its supplement pairs (table supplement), summarised for the portal's 766 method (tracker.portal766):
    # stored by the import from the pairs, so a refresh of the derived columns needs no pairs.
    supplement_count: int = 0  # requests (yêu cầu bổ sung), every one, not only the last
    supplement_seconds: float = 0.0  # Σ (resubmitted − requested) of the closed pairs, calendar time
    supplement_last_at: datetime | None = Moment(default=None)  # the latest request or resubmission
    supplement_open_at: datetime | None = Moment(default=None)  # the last request, if never answered

    # Minimal applicant data (personal data: masked for roles that do not need it, never logged).
    applicant_name: str = Field(default="", max_length=NAME_MAX)
    applicant_phone: str = Field(default="", max_length=PHONE_MAX)

    # ---- derived (tracker.derive), recomputed when derived_fp differs from the settings' ----
    computed_due_at: datetime | None = Moment(default=None)  # legal due from the time limit
    due_used_at: datetime | None = Moment(default=None)  # recorded due, else computed: what classes use
    finish_at: datetime | None = Moment(default=None)  # finish moment of an ended dossier (§5), else NULL
    result_class: str | None = Field(default=None, max_length=10)  # early|on_time|late
    due_excess_hours: float | None = None  # due_exceeds_limit: recorded beyond legal, in working h
    apology_before_due: bool = False  # for late_without_apology
    no_finished_at: bool = False
    derived_fp: str = Field(default="", max_length=80)  # refresh scans for != anyway: no index
    # the portal's 766 method (tracker.portal766.derived_columns): what its verdict at T needs
    portal_due_at: datetime | None = Moment(default=None)  # appointment, else the legal due (no restart)
    portal_finish_at: datetime | None = Moment(default=None)  # the end state's moment
    portal_end_at: datetime | None = Moment(default=None)  # that, minus the supplement time
    portal_late: bool = False  # ended: late by the portal
    portal_waiting_late: bool = False  # waiting for a supplement: late by the portal
    portal_late_after: datetime | None = Moment(default=None)  # open: late when T is after this
    portal_work_seconds: int | None = None  # 2.2: working time of a finished dossier

    import_run_id: int | None = Field(default=None, foreign_key="import_run.id")
    row_hash: str = Field(default="", max_length=32)  # of the raw source cells: a re-import skips the row
    data_hash: str = Field(default="", max_length=32)  # of the parsed values: the same data in another shape
    created_at: datetime = Moment(default_factory=now_local)
    updated_at: datetime = Moment(default_factory=now_local)


class Supplement(SQLModel, table=True):
    """One supplement request and its answer (DanhSachHoSoBoSung), every one of a dossier's, in the
    source's order. Replaced whole whenever the dossier's row changes in an import."""

    __tablename__ = "supplement"
    __table_args__ = (UniqueConstraint("dossier_id", "seq", name="uq_supplement_dossier_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    dossier_id: int = Field(foreign_key="dossier.id")  # the unique (dossier_id, seq) index serves look-ups
    seq: int  # 1, 2, … in the source's order
    requested_at: datetime | None = Moment(default=None)  # NgayBoSung
    resubmitted_at: datetime | None = Moment(default=None)  # NgayTiepNhanBoSung
    previous_due_at: datetime | None = Moment(default=None)  # NgayHenTraTruoc
    new_due_at: datetime | None = Moment(default=None)  # NgayHenTraMoi


class StatusChange(SQLModel, table=True):
    """Status history: appended by imports whenever a dossier's status changes.

    `seq` numbers a dossier's entries 0, 1, 2 …; an import writes the entry after the last one it
    read, and (dossier_id, seq) is unique, so two imports that saw the same change (two sources at
    once) record it once, whatever runs concurrently (ON CONFLICT DO NOTHING, both databases)."""

    __tablename__ = "status_change"
    __table_args__ = (UniqueConstraint("dossier_id", "seq", name="uq_status_change_dossier_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    dossier_id: int = Field(foreign_key="dossier.id", index=True)
    previous_status: int | None = None
    status: int
    seq: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    seen_at: datetime = Moment(default_factory=now_local)
    import_run_id: int | None = Field(default=None, foreign_key="import_run.id")


class PortalFigure(SQLModel, table=True):
    """A unit's 766 figures for one period as the national portal published them
    (`tthc portal-figures import`), to reconcile with ours. One row per unit and period: a
    re-import of the same unit and period replaces it. `unit_code` is the portal's, checked
    against the units table at import."""

    __tablename__ = "portal_figure"
    __table_args__ = (UniqueConstraint("unit_code", "period_start", "period_end", name="uq_portal_figure"),)

    id: int | None = Field(default=None, primary_key=True)
    unit_code: str = Field(max_length=CODE_MAX)
    period_start: date = Field(sa_type=Date)
    period_end: date = Field(sa_type=Date)
    received: int  # hồ sơ tiếp nhận (the score's denominator)
    on_time: int  # hồ sơ xử lý trước hạn, đúng hạn
    score: float | None = None  # điểm tiến độ, 2 decimals as published; None: nothing received
    imported_at: datetime = Moment(default_factory=now_local)
    file_name: str = Field(default="", max_length=1000)


class Meta(SQLModel, table=True):
    """Small key/value facts about the database (e.g. the settings fingerprint last derived)."""

    __tablename__ = "meta"
    __table_args__ = (UniqueConstraint("key"),)

    key: str = Field(primary_key=True, max_length=100)
    value: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class DigestDelivery(SQLModel, table=True):
    """One digest email to one recipient (jobs.delivery): delivered at most once.

    A run inserts the row as 'pending' (a conflict means it exists already), then claims it with a
    compare-and-swap to 'sending'; only the process whose update changed the row sends. 'sent' has
    sent_at; 'failed' (transient: retried later the same day) and 'refused' (the server said no:
    retried only by an explicit `tthc digest --send`) keep the last error. 'unknown': the connection
    was lost after the message was on its way (after the server's 354 to DATA), so it may have
    arrived; like a 'sending' row left behind by a crash mid-conversation, it is never resent unless
    asked (`--retry-unknown`)."""

    __tablename__ = "digest_delivery"
    __table_args__ = (
        # the claim: one row per (day, digest, recipient); used by every run's ON CONFLICT insert
        UniqueConstraint("digest_date", "kind", "scope", "recipient", name="uq_digest_delivery"),
    )

    id: int | None = Field(default=None, primary_key=True)
    digest_date: date = Field(sa_type=Date)
    kind: str = Field(max_length=20)  # "unit" (a unit's digest) | "cchc" (the CCHC office summary)
    scope: str = Field(max_length=CODE_MAX)  # the unit's code; "all" for the summary
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    recipient: str = Field(max_length=320)
    status: str = Field(default="pending", max_length=20)  # pending|sending|sent|failed|refused|unknown
    attempts: int = 0
    error: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    subject: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    message_id: str = Field(default="", max_length=250)
    claimed_at: datetime | None = Moment(default=None)
    claimed_by: str = Field(default="", max_length=200)  # host:pid of the process that claimed it
    sent_at: datetime | None = Moment(default=None)
    created_at: datetime = Moment(default_factory=now_local)


class CalendarDay(SQLModel, table=True):
    """A decreed day off or make-up working day an admin entered (tracker.calendar_days): applied over
    the shipped table (tracker/data/decreed_days.toml) and the calendar settings."""

    __tablename__ = "calendar_day"

    id: int | None = Field(default=None, primary_key=True)
    day: date = Field(sa_type=Date, unique=True)  # one entry per date; the calendar page lists them by date
    kind: str = Field(max_length=10)  # "off" (a weekday with no office hours) | "work" (a weekend day worked)
    reference: str = Field(max_length=200)  # the decree or notice, e.g. "Thông báo 123/TB-VPCP"
    note: str = Field(default="", max_length=500)
    created_by: str = Field(default="", max_length=100)
    created_at: datetime = Moment(default_factory=now_local)


class DossierOutlook(SQLModel, table=True):
    """What `tthc refresh` (and the scheduler's refresh job) foresees for an open dossier: the
    probability that it finishes after its due (tracker.predict) and since when it has stood in
    its status (tracker.stuck). Recomputed whole by each refresh, never per request."""

    __tablename__ = "dossier_outlook"

    dossier_id: int = Field(primary_key=True, foreign_key="dossier.id")
    probability: float | None = None  # P(finishes after its due); None: no history to judge by
    # probability >= predict.threshold: what the overdue list filters on
    likely_late: bool = Field(default=False, index=True)
    basis_kind: str = Field(default="", max_length=20)  # unit_procedure | procedure | field | unit
    basis_count: int = 0  # dossiers in the history the estimate stands on
    basis_months: int = 12
    status: int | None = None  # the status status_since is about; stale when the dossier's differs
    status_since: datetime | None = Moment(default=None)  # in that status since (tracker.stuck)
    computed_at: datetime = Moment(default_factory=now_local)
