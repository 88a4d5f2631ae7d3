"""Delivery through a real SMTP server on 127.0.0.1 (aiosmtpd): what arrives, once, and what is recorded."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timedelta
from email import message_from_bytes, policy

import pytest
from aiosmtpd.smtp import AuthResult
from sqlalchemy import update

from jobs.digest import build_digests, run_digests
from tests.jobs.conftest import (
    APPLICANT,
    CCHC_OFFICER,
    CHAIR_AN_BINH,
    DIGEST_DAY,
    DOSSIERS,
    EVERYONE,
    HEAD_SXD,
    STP_CLERK,
    STP_DIRECTOR,
    Mailbox,
    SmtpServer,
    deliveries,
    free_port,
    load_province,
    make_settings,
)
from tracker.models import DigestDelivery


def smtp_settings(db_url, tmp_path, port, **kw):  # noqa: ANN001, ANN003, ANN201
    return make_settings(db_url, tmp_path, **{"smtp__host": "127.0.0.1", "smtp__port": port,
                                              "smtp__security": "none", "smtp__timeout": 5, **kw})


def test_the_unit_head_receives_both_parts_with_a_readable_vietnamese_subject(province, db_url, tmp_path,
                                                                              smtp_server):
    settings = smtp_settings(db_url, tmp_path, smtp_server.port,
                             digest__cchc_recipients=[f"Phòng Kiểm soát TTHC <{CCHC_OFFICER}>"])
    run = run_digests(province, settings, DIGEST_DAY, backoff=0)
    assert run.exit_code == 0 and len(run.delivery.sent) == 5
    box = smtp_server.mailbox
    assert Counter(r for m in box.messages for r in m.rcpt_tos) == Counter(EVERYONE)  # one each, one per message

    [mail] = box.to(HEAD_SXD)
    assert mail.mail_from == "tthc@sonha.gov.vn"
    msg = mail.message
    assert msg["Subject"] == "[TTHC] Sở Xây dựng — 3 quá hạn, 2 sắp đến hạn — 25/11/2026"
    raw_headers = mail.raw.split(b"\r\n\r\n", 1)[0]
    assert raw_headers.isascii() and b"=?utf-8?" in raw_headers  # RFC 2047, decoded back above
    assert msg["To"] == HEAD_SXD and msg["From"].addresses[0].display_name == "Theo dõi TTHC Sơn Hà"
    assert re.fullmatch(r"<[^@>]+@sonha\.gov\.vn>", msg["Message-ID"])
    assert msg["Date"].datetime.utcoffset() == timedelta(hours=7)
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in msg.iter_parts())
    text, html = mail.part("plain"), mail.part("html")
    assert "QUÁ HẠN (3), trễ nhiều nhất trước" in text and "https://tthc.sonha.gov.vn/dossier/SXD-01" in text
    assert '<a href="https://tthc.sonha.gov.vn/dossier/SXD-01"' in html and "Quá hạn (3)" in html
    assert APPLICANT not in text and APPLICANT not in html

    [summary] = box.to(CCHC_OFFICER)  # the envelope has the bare address, the header the name too
    assert summary.message["Subject"].startswith("[TTHC] Tổng hợp tiến độ giải quyết")
    assert summary.message["To"].addresses[0].display_name == "Phòng Kiểm soát TTHC"
    rows = deliveries(province)
    assert {r["status"] for r in rows.values()} == {"sent"} and {r["attempts"] for r in rows.values()} == {1}
    assert rows[HEAD_SXD]["message_id"] == msg["Message-ID"] and rows[HEAD_SXD]["sent_at"] is not None
    assert rows[HEAD_SXD]["subject"] == msg["Subject"]


def test_preview_and_send_render_the_same_content(province, db_url, tmp_path, smtp_server):
    settings = smtp_settings(db_url, tmp_path, smtp_server.port)
    preview = {d.scope: d.rendered for d in build_digests(province, settings, DIGEST_DAY).digests}
    run_digests(province, settings, DIGEST_DAY, backoff=0)
    for scope, recipient in (("SXD", HEAD_SXD), ("STP", STP_CLERK), ("all", CCHC_OFFICER)):
        [mail] = smtp_server.mailbox.to(recipient)
        assert mail.message["Subject"] == preview[scope].subject
        assert mail.part("plain") == preview[scope].text
        assert mail.part("html") == preview[scope].html


def test_smtp_down_then_up_retried_nothing_lost_nothing_doubled(province, db_url, tmp_path):
    port = free_port()  # nobody listens here yet
    settings = smtp_settings(db_url, tmp_path, port)  # digest.max_retries = 2: three passes
    pauses: list[float] = []
    from jobs.delivery import deliver

    built = build_digests(province, settings, DIGEST_DAY)
    outgoing = [o for d in built.digests for o in d.outgoing()]
    down = deliver(province, settings, DIGEST_DAY, outgoing, backoff=0.01, sleep=pauses.append)
    assert pauses == [0.01, 0.02]  # exponential backoff between the passes
    assert not down.sent and {o.recipient for o, _ in down.failed} == EVERYONE
    rows = deliveries(province)
    assert {r["status"] for r in rows.values()} == {"failed"}
    assert {r["attempts"] for r in rows.values()} == {3}
    assert all("cannot reach the SMTP server" in r["error"] and "ConnectionRefused" in r["error"]
               for r in rows.values())

    server = SmtpServer(port).start()
    try:
        up = run_digests(province, settings, DIGEST_DAY, backoff=0)
        again = run_digests(province, settings, DIGEST_DAY, backoff=0)  # e.g. the scheduler's catch-up
    finally:
        server.stop()
    assert {o.recipient for o in up.delivery.sent} == EVERYONE and up.exit_code == 0
    assert not again.delivery.sent and len(again.delivery.skipped) == 5
    assert Counter(r for m in server.mailbox.messages for r in m.rcpt_tos) == Counter(EVERYONE)
    rows = deliveries(province)
    assert {r["status"] for r in rows.values()} == {"sent"} and {r["attempts"] for r in rows.values()} == {4}


def test_a_busy_mailbox_is_retried_a_refused_one_is_reported(sqlite_db, smtp_server):
    load_province(sqlite_db.engine, sqlite_db.settings(), sqlite_db.dir)
    settings = smtp_settings(sqlite_db.url, sqlite_db.dir, smtp_server.port)
    smtp_server.mailbox.refuse = {STP_CLERK: ["451 4.2.1 Mailbox busy, try again later"],
                                  HEAD_SXD: ["550 5.1.1 No such user", "550 5.1.1 No such user"]}
    run = run_digests(sqlite_db.engine, settings, DIGEST_DAY, backoff=0)
    assert run.exit_code == 1
    assert [(o.recipient, e) for o, e in run.delivery.refused] == [
        (HEAD_SXD, "recipient refused: 550 5.1.1 No such user")]
    assert not run.delivery.failed
    rows = deliveries(sqlite_db.engine)
    assert (rows[STP_CLERK]["status"], rows[STP_CLERK]["attempts"]) == ("sent", 2)  # second pass
    assert (rows[HEAD_SXD]["status"], rows[HEAD_SXD]["attempts"]) == ("refused", 1)  # not retried
    assert len(smtp_server.mailbox.to(STP_CLERK)) == 1 and not smtp_server.mailbox.to(HEAD_SXD)

    # the scheduler leaves a refusal alone; an operator's `tthc digest --send` tries it again
    assert not run_digests(sqlite_db.engine, settings, DIGEST_DAY, backoff=0).delivery.sent
    smtp_server.mailbox.refuse.clear()
    retried = run_digests(sqlite_db.engine, settings, DIGEST_DAY, backoff=0, explicit=True)
    assert [o.recipient for o in retried.delivery.sent] == [HEAD_SXD]
    assert len(smtp_server.mailbox.to(HEAD_SXD)) == 1


def test_after_a_crash_mid_send_the_message_is_not_sent_twice_unless_asked(sqlite_db, smtp_server):
    load_province(sqlite_db.engine, sqlite_db.settings(), sqlite_db.dir)
    settings = smtp_settings(sqlite_db.url, sqlite_db.dir, smtp_server.port)
    first = run_digests(sqlite_db.engine, settings, DIGEST_DAY, backoff=0)
    assert len(first.delivery.sent) == 5
    # a process died between the server's 250 and its own bookkeeping, an hour ago
    with sqlite_db.engine.begin() as conn:
        conn.execute(update(DigestDelivery).where(DigestDelivery.recipient == HEAD_SXD)
                     .values(status="sending", sent_at=None, claimed_at=datetime.now() - timedelta(hours=1)))
    rerun = run_digests(sqlite_db.engine, settings, DIGEST_DAY, backoff=0, explicit=True)
    assert [o.recipient for o in rerun.delivery.unknown] == [HEAD_SXD] and not rerun.delivery.sent
    assert len(smtp_server.mailbox.to(HEAD_SXD)) == 1
    forced = run_digests(sqlite_db.engine, settings, DIGEST_DAY, backoff=0, explicit=True, retry_unknown=True)
    assert [o.recipient for o in forced.delivery.sent] == [HEAD_SXD]
    assert len(smtp_server.mailbox.to(HEAD_SXD)) == 2  # asked for: it may now have arrived twice


def test_without_smtp_messages_go_to_the_outbox(sqlite_db):
    load_province(sqlite_db.engine, sqlite_db.settings(), sqlite_db.dir)
    run = run_digests(sqlite_db.engine, sqlite_db.settings(), DIGEST_DAY, backoff=0)
    assert len(run.delivery.sent) == 5
    folder = sqlite_db.dir / "var" / "outbox" / "2026-11-25"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"SXD-{HEAD_SXD}.eml", f"STP-{STP_DIRECTOR}.eml", f"STP-{STP_CLERK}.eml", f"XAB-{CHAIR_AN_BINH}.eml",
         f"cchc-{CCHC_OFFICER}.eml"])
    msg = message_from_bytes((folder / f"SXD-{HEAD_SXD}.eml").read_bytes(), policy=policy.default)
    assert msg["Subject"] == "[TTHC] Sở Xây dựng — 3 quá hạn, 2 sắp đến hạn — 25/11/2026"
    assert "SXD-01" in msg.get_body(preferencelist=("plain",)).get_content()
    assert not run_digests(sqlite_db.engine, sqlite_db.settings(), DIGEST_DAY, backoff=0).delivery.sent


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")  # the test server
def test_smtp_login_with_the_password_from_the_environment(sqlite_db, monkeypatch):
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(server, session, envelope, mechanism, auth_data):  # noqa: ANN001, ANN202
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cret-Pass")

    server = SmtpServer(authenticator=authenticator, auth_required=True, auth_require_tls=False).start()
    try:
        load_province(sqlite_db.engine, sqlite_db.settings(), sqlite_db.dir, dossiers=[])
        settings = smtp_settings(sqlite_db.url, sqlite_db.dir, server.port, smtp__username="tthc",
                                 smtp__password_env="SMTP_PASSWORD_FOR_TEST", digest__all_clear=True)
        monkeypatch.delenv("SMTP_PASSWORD_FOR_TEST", raising=False)
        missing = run_digests(sqlite_db.engine, settings, DIGEST_DAY, backoff=0)
        assert {e for _, e in missing.delivery.refused} == {
            "the environment variable named by smtp.password_env is not set"}
        assert not logins
        monkeypatch.setenv("SMTP_PASSWORD_FOR_TEST", "s3cret-Pass")
        sent = run_digests(sqlite_db.engine, settings, DIGEST_DAY, backoff=0, explicit=True)
    finally:
        server.stop()
    assert sent.exit_code == 0 and {o.recipient for o in sent.delivery.sent} == {
        HEAD_SXD, STP_DIRECTOR, STP_CLERK, CHAIR_AN_BINH, "chu.tich@phuloc.sonha.gov.vn", CCHC_OFFICER}
    assert logins and all(login == b"tthc" for login, _ in logins)


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_tls_starttls_or_from_the_start_and_a_certificate_that_is_not_trusted(sqlite_db, tls_files, security,
                                                                              monkeypatch):
    import ssl

    cert, key = tls_files
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    tls = {"tls_context": server_ctx, "require_starttls": True} if security == "starttls" \
        else {"ssl_context": server_ctx}
    server = SmtpServer(**tls).start()
    try:
        load_province(sqlite_db.engine, sqlite_db.settings(), sqlite_db.dir, dossiers=DOSSIERS[:1])
        settings = smtp_settings(sqlite_db.url, sqlite_db.dir, server.port, smtp__security=security,
                                 digest__cchc_recipients=[])
        monkeypatch.setenv("SSL_CERT_FILE", str(sqlite_db.dir / "nothing-trusted.pem"))
        untrusted = run_digests(sqlite_db.engine, settings, DIGEST_DAY, backoff=0)
        [(_, error)] = untrusted.delivery.refused  # permanent: retrying will not fix a certificate
        assert error.startswith("TLS: ") and "CERTIFICATE_VERIFY_FAILED" in error
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the operator installs the CA
        trusted = run_digests(sqlite_db.engine, settings, DIGEST_DAY, backoff=0, explicit=True)
    finally:
        server.stop()
    assert [o.recipient for o in trusted.delivery.sent] == [HEAD_SXD]
    [mail] = server.mailbox.messages
    assert mail.tls and mail.message["Subject"] == "[TTHC] Sở Xây dựng — 1 quá hạn, 0 sắp đến hạn — 25/11/2026"


class DroppingMailbox(Mailbox):
    """Takes the whole message for a recipient in `drop`, then drops the connection instead of replying
    to the final dot: the message has arrived, and the sender cannot know it."""

    def __init__(self, drop: set[str]) -> None:
        super().__init__()
        self.drop = set(drop)

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
        reply = await super().handle_DATA(server, session, envelope)
        hit = self.drop & set(envelope.rcpt_tos)
        if hit:
            self.drop -= hit
            server.transport.abort()
        return reply


def test_a_connection_lost_mid_data_is_unknown_and_not_resent(sqlite_db, caplog):
    load_province(sqlite_db.engine, sqlite_db.settings(), sqlite_db.dir)
    server = SmtpServer()
    server.mailbox = DroppingMailbox({HEAD_SXD})
    server.start()
    try:
        settings = smtp_settings(sqlite_db.url, sqlite_db.dir, server.port)
        run = run_digests(sqlite_db.engine, settings, DIGEST_DAY, backoff=0)
        again = run_digests(sqlite_db.engine, settings, DIGEST_DAY, backoff=0)  # the scheduler's catch-up
        explicit = run_digests(sqlite_db.engine, settings, DIGEST_DAY, backoff=0, explicit=True)
        assert len(server.mailbox.to(HEAD_SXD)) == 1  # arrived once, and only once so far
        rows = deliveries(sqlite_db.engine)
        assert rows[HEAD_SXD]["status"] == "unknown" and rows[HEAD_SXD]["attempts"] == 1
        assert "connection lost during DATA" in rows[HEAD_SXD]["error"] and "may have arrived" in rows[HEAD_SXD][
            "error"]
        assert {r["status"] for k, r in rows.items() if k != HEAD_SXD} == {"sent"}  # the others went on
        assert [o.recipient for o in run.delivery.unknown] == [HEAD_SXD] and not run.delivery.failed
        assert run.exit_code == 1 and {o.recipient for o in run.delivery.sent} == EVERYONE - {HEAD_SXD}
        assert [o.recipient for o in again.delivery.unknown] == [HEAD_SXD] and not again.delivery.sent
        assert [o.recipient for o in explicit.delivery.unknown] == [HEAD_SXD] and not explicit.delivery.sent
        assert "outcome unknown, not retried" in caplog.text
        forced = run_digests(sqlite_db.engine, settings, DIGEST_DAY, backoff=0, explicit=True, retry_unknown=True)
        assert [o.recipient for o in forced.delivery.sent] == [HEAD_SXD]
        assert len(server.mailbox.to(HEAD_SXD)) == 2  # an operator asked: it may now have arrived twice
        assert deliveries(sqlite_db.engine)[HEAD_SXD]["status"] == "sent"
    finally:
        server.stop()


def test_a_connection_lost_before_data_is_a_failure_retried(sqlite_db):
    """Refused at RCPT then the connection closed: nothing was sent, so it is retried, not 'unknown'."""
    load_province(sqlite_db.engine, sqlite_db.settings(), sqlite_db.dir)
    server = SmtpServer().start()
    try:
        server.mailbox.refuse = {HEAD_SXD: ["421 4.3.2 Service shutting down"]}
        settings = smtp_settings(sqlite_db.url, sqlite_db.dir, server.port)
        run = run_digests(sqlite_db.engine, settings, DIGEST_DAY, backoff=0)
        assert HEAD_SXD in {o.recipient for o in run.delivery.sent} and not run.delivery.unknown
        assert deliveries(sqlite_db.engine)[HEAD_SXD]["attempts"] == 2
        assert len(server.mailbox.to(HEAD_SXD)) == 1
    finally:
        server.stop()
