"""Emails: rendered from templates, then delivered at most once per (day, digest, recipient).

Rendering: each email is three Jinja templates named by convention, `templates/emails/<name>-subject.txt`,
`-body.txt` and `-body.html`, filled from a context prepared in Python. Only the HTML template is
autoescaped. The message is multipart/alternative (text, then HTML), UTF-8, in 7-bit-safe transfer
encodings so any relay passes it unchanged; the Vietnamese subject is RFC 2047 encoded.

Delivery: SMTP (STARTTLS, SSL or plain, with optional login) when `smtp.host` is set; otherwise each
message is written to `<paths.var_dir>/outbox/<date>/<digest>-<recipient>.eml`. Every message is a
`digest_delivery` row: inserted as 'pending' if missing, then claimed with a compare-and-swap
(`UPDATE … SET status='sending' WHERE id=:id AND status IN (…)`, one row changed or hands off), so two
schedulers, a cron run beside a scheduler, or a re-run after a crash never send a message twice.
Transient failures (connection refused, timeouts, 4xx replies) are retried in passes with exponential
backoff; what still fails is recorded as 'failed' with the error and reported. A permanent refusal
(5xx) is recorded as 'refused' and not retried by the scheduler. A connection lost once the message
was on its way (after the server's 354 to DATA, before its reply to the final dot) leaves the outcome
unknown: the server may have accepted it. That is recorded as 'unknown' and not sent again unless an
operator asks (`tthc digest --send --retry-unknown`), like a crash mid-conversation: at most once.
"""

from __future__ import annotations

import logging
import os
import re
import smtplib
import socket
import ssl
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import Engine, and_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from tracker.clock import LOCAL_TZ, now_local
from tracker.config import Settings
from tracker.display import safe_text
from tracker.files import open_private, private_dir
from tracker.models import DigestDelivery

log = logging.getLogger("jobs.delivery")

TEMPLATES = Path(__file__).resolve().parents[1] / "templates" / "emails"
# 7-bit transfer encodings (quoted-printable or base64, whichever is shorter): no relay mangles them.
MAIL_POLICY = policy.default.clone(cte_type="7bit")
CLAIMABLE = ("pending", "failed")  # what the scheduler retries on its own
CLAIMABLE_EXPLICIT = ("pending", "failed", "refused")  # `tthc digest --send`: an operator asked
ERROR_MAX = 1000


# ----- rendering -----------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _env() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,  # a misspelt name fails the render, not the reader
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


@dataclass(frozen=True)
class Rendered:
    """One email's three parts, as its templates rendered them."""

    subject: str
    text: str
    html: str


def render_email(name: str, context: Mapping[str, Any]) -> Rendered:
    """Render `<name>-subject.txt`, `<name>-body.txt` and `<name>-body.html` with `context`."""
    env = _env()
    # names in the context come from imported data: no control characters or bidi overrides reach a
    # mail client (tracker.display), and the subject is one line
    subject = " ".join(safe_text(env.get_template(f"{name}-subject.txt").render(context), one_line=True).split())
    text = safe_text(env.get_template(f"{name}-body.txt").render(context))
    html = safe_text(env.get_template(f"{name}-body.html").render(context))
    return Rendered(subject, text, html)


def build_message(settings: Settings, *, recipient: str, rendered: Rendered, message_id: str,
                  when: datetime | None = None, headers: Mapping[str, str] | None = None) -> EmailMessage:
    """A multipart/alternative message (text, then HTML) to one recipient."""
    msg = EmailMessage(policy=MAIL_POLICY)
    msg["From"] = settings.get("smtp.from")
    msg["To"] = recipient
    msg["Subject"] = rendered.subject
    msg["Date"] = format_datetime((when or datetime.now(LOCAL_TZ)).astimezone(LOCAL_TZ))
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to a robot
    for k, v in (headers or {}).items():
        msg[k] = v
    msg.set_content(rendered.text, subtype="plain", charset="utf-8")
    msg.add_alternative(rendered.html, subtype="html", charset="utf-8")
    return msg


def new_message_id(settings: Settings) -> str:
    """A fresh Message-ID in the sender's domain, short enough that no header line folds."""
    domain = parseaddr(settings.get("smtp.from"))[1].rpartition("@")[2] or "localhost"
    return f"<{uuid.uuid4().hex}@{domain}>"


# ----- what is delivered ---------------------------------------------------------------------------


@dataclass
class Outgoing:
    """One message to one recipient. (digest_date, kind, scope, recipient) is its delivery key."""

    kind: str  # "unit" | "cchc"
    scope: str  # unit code, or "all"
    unit_id: int | None
    recipient: str  # as the To: header shows it: 'a@x.vn' or 'Phòng CCHC <a@x.vn>'
    rendered: Rendered

    @property
    def address(self) -> str:
        """The bare address: the envelope recipient, and what the delivery record is keyed on."""
        return parseaddr(self.recipient)[1] or self.recipient

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.scope, self.address)

    @property
    def file_stem(self) -> str:
        """The outbox file's name without .eml: '<unit code>-<address>', or 'cchc-<address>'."""
        return f"{self.scope if self.kind == 'unit' else 'cchc'}-{self.address}"


@dataclass
class DeliveryReport:
    """What one delivery run did. `failed` and `refused` carry the last error."""

    sent: list[Outgoing] = field(default_factory=list)
    failed: list[tuple[Outgoing, str]] = field(default_factory=list)  # transient: retried later today
    refused: list[tuple[Outgoing, str]] = field(default_factory=list)  # permanent: the server said no
    skipped: list[Outgoing] = field(default_factory=list)  # sent before, or another process has it
    unknown: list[Outgoing] = field(default_factory=list)  # lost mid-send (or by a crash): not resent
    attempts: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed and not self.refused and not self.unknown


class DeliveryError(Exception):
    """A failure to deliver one message; `transient` ones are retried, `fatal` ones end the pass."""

    def __init__(self, message: str, *, transient: bool, fatal: bool, unknown: bool = False) -> None:
        super().__init__(message)
        self.transient = transient
        self.fatal = fatal  # the connection is unusable: every other message of the pass would fail alike
        self.unknown = unknown  # the message may have been delivered: never retried on its own


def _failure(exc: BaseException) -> DeliveryError:
    """Sort an exception from smtplib or the network into transient or permanent, fatal or not."""
    if isinstance(exc, DeliveryError):
        return exc
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [c for c, _ in exc.recipients.values()]
        detail = "; ".join(f"{c} {_text(m)}" for c, m in exc.recipients.values())
        return DeliveryError(f"recipient refused: {detail}", transient=all(400 <= c < 500 for c in codes),
                             fatal=False)
    if isinstance(exc, smtplib.SMTPResponseException):
        code = exc.smtp_code
        fatal = isinstance(exc, smtplib.SMTPConnectError | smtplib.SMTPHeloError | smtplib.SMTPAuthenticationError)
        return DeliveryError(f"SMTP {code} {_text(exc.smtp_error)}", transient=400 <= code < 500, fatal=fatal)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return DeliveryError(f"SMTP server disconnected: {exc}", transient=True, fatal=True)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return DeliveryError(f"SMTP: {exc}", transient=False, fatal=True)
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return DeliveryError(f"TLS: {exc}", transient=False, fatal=True)
    if isinstance(exc, OSError):  # refused, unreachable, timed out, name not resolved
        return DeliveryError(f"cannot reach the SMTP server: {type(exc).__name__}: {exc}", transient=True,
                             fatal=True)
    if isinstance(exc, smtplib.SMTPException):
        return DeliveryError(f"SMTP: {type(exc).__name__}: {exc}", transient=True, fatal=False)
    log.error("unexpected error while delivering", exc_info=exc)
    return DeliveryError(f"{type(exc).__name__}: {exc}", transient=False, fatal=False)


def _text(v: Any) -> str:
    return (v.decode(errors="replace") if isinstance(v, bytes) else str(v)).replace("\n", " ")[:300]


# ----- transports ----------------------------------------------------------------------------------


class SmtpTransport:
    """One SMTP connection, opened on first use and reused for every message of a pass."""

    def __init__(self, settings: Settings) -> None:
        self.host = settings.get("smtp.host")
        self.port = settings.get("smtp.port")
        self.security = settings.get("smtp.security")
        self.username = settings.get("smtp.username")
        self.password_env = settings.get("smtp.password_env")
        self.timeout = settings.get("smtp.timeout")
        self.sender = parseaddr(settings.get("smtp.from"))[1]
        self._conn: smtplib.SMTP | None = None

    def describe(self) -> str:
        return f"SMTP {self.host}:{self.port} ({self.security})"

    def _password(self) -> str:
        if not self.password_env:
            raise DeliveryError("smtp.username is set but smtp.password_env is not: no password to log in "
                                "with", transient=False, fatal=True)
        password = os.environ.get(self.password_env)
        if password is None:
            raise DeliveryError("the environment variable named by smtp.password_env is not set",
                                transient=False, fatal=True)
        return password

    def connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context() if self.security != "none" else None
        if self.security == "ssl":
            conn: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            conn.ehlo()
            if self.security == "starttls":
                conn.starttls(context=context)
                conn.ehlo()
            if self.username:
                conn.login(self.username, self._password())
        except BaseException:
            conn.close()
            raise
        return conn

    def send(self, msg: EmailMessage, out: Outgoing) -> None:
        """MAIL, RCPT, DATA, the message, the final dot. An error before the server's 354 means the
        message was not delivered; a connection lost after it means nobody knows (DeliveryError
        with `unknown`)."""
        if self._conn is None:
            self._conn = self.connect()
        conn = self._conn
        code, reply = conn.mail(self.sender)
        if code != 250:
            raise smtplib.SMTPSenderRefused(code, reply, self.sender)
        code, reply = conn.rcpt(out.address)
        if code not in (250, 251):
            raise smtplib.SMTPRecipientsRefused({out.address: (code, reply)})
        code, reply = conn.docmd("data")
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        data = re.sub(rb"(?m)^\.", b"..", msg.as_bytes(policy=msg.policy.clone(linesep="\r\n")))
        if not data.endswith(b"\r\n"):
            data += b"\r\n"
        try:
            conn.send(data + b".\r\n")
            code, reply = conn.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            raise DeliveryError(f"connection lost during DATA, before the server confirmed the message "
                                f"({type(exc).__name__}: {exc}): it may have arrived", transient=False,
                                fatal=False, unknown=True) from None
        if code != 250:
            raise smtplib.SMTPDataError(code, reply)

    def reset(self) -> None:
        """Drop the connection (after an error): the next message opens a fresh one."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.quit()
            except (smtplib.SMTPException, OSError):
                pass
            finally:
                conn.close()

    close = reset


class OutboxTransport:
    """No SMTP server configured: each message becomes an .eml file an operator can open."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def describe(self) -> str:
        return f"outbox {self.folder}"

    def path_for(self, out: Outgoing) -> Path:
        return self.folder / f"{re.sub(r'[^A-Za-z0-9._@+-]+', '_', out.file_stem)}.eml"

    def send(self, msg: EmailMessage, out: Outgoing) -> None:
        path = self.path_for(out)
        private_dir(path.parent)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        with open_private(tmp, "wb") as fh:
            fh.write(msg.as_bytes())
        os.replace(tmp, path)  # a reader never sees half a file

    def reset(self) -> None:
        pass

    close = reset


def transport_for(settings: Settings, digest_date: date) -> SmtpTransport | OutboxTransport:
    if settings.get("smtp.host"):
        return SmtpTransport(settings)
    return OutboxTransport(settings.var_dir / "outbox" / digest_date.isoformat())


# ----- claims --------------------------------------------------------------------------------------


def _me() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:200]


def _insert_missing(engine: Engine, digest_date: date, outgoing: Iterable[Outgoing]) -> dict[tuple, int]:
    """Insert a 'pending' row for each message that has none; {key: row id} for all of them."""
    table = DigestDelivery.__table__
    rows = [{"digest_date": digest_date, "kind": o.kind, "scope": o.scope, "unit_id": o.unit_id,
             "recipient": o.address, "status": "pending", "attempts": 0, "error": "",
             "subject": o.rendered.subject, "message_id": "", "claimed_by": "", "created_at": now_local()}
            for o in outgoing]
    if not rows:
        return {}
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).on_conflict_do_nothing(
        index_elements=["digest_date", "kind", "scope", "recipient"])
    with engine.begin() as conn:
        conn.execute(stmt, rows)
        found = conn.execute(select(table.c.id, table.c.kind, table.c.scope, table.c.recipient)
                             .where(table.c.digest_date == digest_date)).all()
    return {(k, s, r): i for i, k, s, r in found}


def _claim(engine: Engine, row_id: int, claimable: tuple[str, ...], *, message_id: str, subject: str,
           now: datetime, stale_before: datetime | None) -> bool:
    """Compare-and-swap a claimable row to 'sending'; True only for the one process that changed it."""
    t = DigestDelivery.__table__
    cond = t.c.status.in_(claimable)
    if stale_before is not None:  # --retry-unknown: take over what a crash or a lost connection left unknown
        cond = cond | and_(t.c.status == "sending", t.c.claimed_at < stale_before) | (t.c.status == "unknown")
    stmt = (update(t).where(t.c.id == row_id, cond)
            .values(status="sending", attempts=t.c.attempts + 1, claimed_at=now, claimed_by=_me(),
                    message_id=message_id, subject=subject))
    with engine.begin() as conn:
        return conn.execute(stmt).rowcount == 1


def _finish(engine: Engine, row_id: int, status: str, *, error: str = "", now: datetime) -> None:
    t = DigestDelivery.__table__
    values: dict[str, Any] = {"status": status, "error": error[:ERROR_MAX]}
    if status == "sent":
        values["sent_at"] = now
    with engine.begin() as conn:
        conn.execute(update(t).where(t.c.id == row_id, t.c.status == "sending", t.c.claimed_by == _me())
                     .values(**values))


def _stale_sending(engine: Engine, ids: Iterable[int], before: datetime) -> set[int]:
    t = DigestDelivery.__table__
    ids = list(ids)
    if not ids:
        return set()
    with engine.connect() as conn:
        return set(conn.execute(select(t.c.id).where(t.c.id.in_(ids), (t.c.status == "unknown") | and_(
            t.c.status == "sending", t.c.claimed_at < before))).scalars())


# ----- delivery ------------------------------------------------------------------------------------


def deliver(engine: Engine, settings: Settings, digest_date: date, outgoing: list[Outgoing], *,
            explicit: bool = False, retry_unknown: bool = False, backoff: float = 2.0,
            now: Callable[[], datetime] | None = None, sleep: Callable[[float], None] = time.sleep,
            transport: SmtpTransport | OutboxTransport | None = None) -> DeliveryReport:
    """Deliver each message unless it was delivered (or is being delivered) already.

    `explicit` (an operator's `tthc digest --send`) also retries messages the server refused;
    `retry_unknown` also resends those whose outcome a crash left unknown. Up to digest.max_retries
    retry passes follow the first, after `backoff`, 2×, 4× … seconds."""
    clock = now or datetime.now
    transport = transport or transport_for(settings, digest_date)
    claimable = CLAIMABLE_EXPLICIT if explicit else CLAIMABLE
    lease = timedelta(seconds=10 * settings.get("smtp.timeout") + 60)  # no live conversation is this old
    report = DeliveryReport()
    ids = _insert_missing(engine, digest_date, outgoing)
    stale = _stale_sending(engine, ids.values(), clock() - lease)
    last_error: dict[tuple, str] = {}
    remaining = list(outgoing)
    try:
        for attempt in range(settings.get("digest.max_retries") + 1):
            if attempt:
                sleep(backoff * 2 ** (attempt - 1))
            remaining = _pass(engine, settings, transport, remaining, ids, stale, report, last_error,
                              claimable=claimable, stale_before=clock() - lease if retry_unknown else None,
                              clock=clock)
            if not remaining:
                break
    finally:
        transport.close()
    report.failed = [(o, last_error[o.key]) for o in remaining]
    for o, error in report.failed:
        log.error("digest %s to %s not delivered after %d pass(es): %s", o.scope, o.recipient,
                  settings.get("digest.max_retries") + 1, error)
    return report


def _pass(engine: Engine, settings: Settings, transport, outgoing: list[Outgoing], ids: dict[tuple, int],  # noqa: ANN001
          stale: set[int], report: DeliveryReport, last_error: dict[tuple, str], *, claimable: tuple[str, ...],
          stale_before: datetime | None, clock: Callable[[], datetime]) -> list[Outgoing]:
    """One pass over the messages; returns those that failed transiently (to retry)."""
    retry: list[Outgoing] = []
    down: DeliveryError | None = None  # the connection failed: the rest of the pass fails alike
    for o in outgoing:
        row_id = ids[o.key]
        message_id = new_message_id(settings)
        if not _claim(engine, row_id, claimable, message_id=message_id, subject=o.rendered.subject,
                      now=clock(), stale_before=stale_before):
            if row_id in stale and stale_before is None:
                report.unknown.append(o)
            else:
                report.skipped.append(o)
            continue
        report.attempts += 1
        error = down
        if error is None:
            try:
                msg = build_message(settings, recipient=o.recipient, rendered=o.rendered, message_id=message_id)
                transport.send(msg, o)
            except Exception as exc:  # noqa: BLE001  (sorted by _failure; the row must not stay 'sending')
                transport.reset()
                error = _failure(exc)
                if error.fatal:
                    down = error
        if error is None:
            _finish(engine, row_id, "sent", now=clock())
            report.sent.append(o)
            log.info("digest %s sent to %s via %s", o.scope, o.recipient, transport.describe())
            continue
        last_error[o.key] = str(error)
        if error.unknown:
            _finish(engine, row_id, "unknown", error=str(error), now=clock())
            report.unknown.append(o)
            log.error("digest %s to %s: outcome unknown, not retried (tthc digest --send --retry-unknown "
                      "resends it): %s", o.scope, o.recipient, error)
        elif error.transient:
            _finish(engine, row_id, "failed", error=str(error), now=clock())
            retry.append(o)
            log.warning("digest %s to %s failed (will retry): %s", o.scope, o.recipient, error)
        else:
            _finish(engine, row_id, "refused", error=str(error), now=clock())
            report.refused.append((o, str(error)))
            log.error("digest %s to %s refused: %s", o.scope, o.recipient, error)
    return retry
