"""A small province for the digest tests, loaded through the import path, and a real SMTP server.

Personas: the head of Sở Xây dựng (one late unit), the two recipients of Sở Tư pháp, the
chairs of two communes (one with nothing to report), and the CCHC officer who gets the summary.
The digest date is Wednesday 25/11/2026: Tuesday 24/11 is a holiday (Ngày Văn hóa Việt Nam), so
"finished late yesterday" reaches back to Monday 23/11, and the next working day is Thursday 26/11.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from datetime import date
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, text

from tests.conftest import copy_sqlite, write_export
from tracker.config import load_settings
from tracker.db import make_engine
from tracker.ingest import import_file, import_units
from tracker.models import DigestDelivery

DIGEST_DAY = date(2026, 11, 25)
APPLICANT = "Nguyễn Văn An"
PHONE = "0912345678"

HEAD_SXD = "truong.phong@sxd.sonha.gov.vn"
STP_DIRECTOR = "giam.doc@stp.sonha.gov.vn"
STP_CLERK = "van.thu@stp.sonha.gov.vn"
CHAIR_AN_BINH = "chu.tich@anbinh.sonha.gov.vn"
CHAIR_PHU_LOC = "chu.tich@phuloc.sonha.gov.vn"
CCHC_OFFICER = "kiem.soat.tthc@sonha.gov.vn"
EVERYONE = {HEAD_SXD, STP_DIRECTOR, STP_CLERK, CHAIR_AN_BINH, CCHC_OFFICER}  # who gets a digest on DIGEST_DAY

UNITS = [
    ["TINH", "UBND tỉnh Sơn Hà", "", "tinh", ""],
    ["SXD", "Sở Xây dựng", "TINH", "tinh", HEAD_SXD],
    ["STP", "Sở Tư pháp", "TINH", "tinh", f"{STP_DIRECTOR}, {STP_CLERK}"],
    ["XAB", "UBND xã An Bình", "TINH", "xa", CHAIR_AN_BINH],
    ["XPL", "UBND xã Phú Lộc", "TINH", "xa", CHAIR_PHU_LOC],
]
PROCEDURES = {
    "SXD": ("1.009972", "Cấp giấy phép xây dựng mới đối với nhà ở riêng lẻ", "Xây dựng"),
    "STP": ("1.000201", "Cấp Phiếu lý lịch tư pháp", "Lý lịch tư pháp"),
    "XAB": ("1.004505", "Cấp Giấy xác nhận tình trạng hôn nhân", "Hộ tịch"),
    "XPL": ("1.004505", "Cấp Giấy xác nhận tình trạng hôn nhân", "Hộ tịch"),
}
NAMES = {u[0]: u[1] for u in UNITS}

# code, unit, received, due, status, finished
DOSSIERS = [
    ("SXD-01", "SXD", "02/11/2026 08:00", "10/11/2026 08:00", "Đang xử lý", ""),  # overdue, most late
    ("SXD-02", "SXD", "16/11/2026 08:00", "20/11/2026 10:00", "Đang xử lý", ""),  # overdue
    ("SXD-03", "SXD", "17/11/2026 09:00", "23/11/2026 16:00", "Đang xử lý", ""),  # overdue, least late
    ("SXD-04", "SXD", "18/11/2026 09:00", "25/11/2026 10:00", "Đang xử lý", ""),  # due today
    ("SXD-05", "SXD", "19/11/2026 09:00", "26/11/2026 15:00", "Đang xử lý", ""),  # due Thursday
    ("SXD-06", "SXD", "20/11/2026 09:00", "30/11/2026 09:00", "Đang xử lý", ""),  # within: not listed
    ("SXD-07", "SXD", "03/11/2026 09:00", "12/11/2026 09:00", "Chờ bổ sung", ""),  # paused
    ("SXD-08", "SXD", "10/11/2026 09:00", "20/11/2026 10:00", "Đã trả kết quả", "23/11/2026 09:00"),  # late, Mon
    ("SXD-09", "SXD", "02/11/2026 09:00", "06/11/2026 09:00", "Đã trả kết quả", "05/11/2026 09:00"),  # early
    ("SXD-10", "SXD", "01/10/2026 09:00", "05/10/2026 09:00", "Đã trả kết quả", "08/10/2026 09:00"),  # Oct late
    ("SXD-11", "SXD", "01/10/2026 09:00", "09/10/2026 09:00", "Đã trả kết quả", "08/10/2026 09:00"),  # Oct early
    ("SXD-12", "SXD", "09/11/2026 09:00", "16/11/2026 09:00", "Đã trả kết quả", "20/11/2026 09:00"),  # late, Fri
    ("STP-01", "STP", "12/11/2026 09:00", "19/11/2026 09:00", "Đang xử lý", ""),  # overdue
    ("STP-02", "STP", "16/11/2026 09:00", "23/11/2026 09:00", "Đã trả kết quả", "20/11/2026 09:00"),  # early
    ("XAB-01", "XAB", "23/11/2026 09:00", "25/11/2026 16:00", "Đang xử lý", ""),  # due today
    ("XAB-02", "XAB", "02/11/2026 09:00", "06/11/2026 09:00", "Đã trả kết quả", "05/11/2026 09:00"),  # early
    ("XPL-01", "XPL", "20/11/2026 09:00", "10/12/2026 09:00", "Đang xử lý", ""),  # within: nothing to say
    ("XPL-02", "XPL", "02/11/2026 09:00", "06/11/2026 09:00", "Đã trả kết quả", "10/11/2026 09:00"),  # late
]


def export_row(code: str, unit: str, received: str, due: str, status: str, finished: str,
               procedures: dict = PROCEDURES) -> list[str]:
    proc_code, proc_name, field_name = procedures[unit]
    return ["1", code, proc_code, proc_name, field_name, NAMES[unit], APPLICANT, PHONE, "Trực tuyến",
            received, due, finished, finished, status, "5 ngày làm việc"]


def load_province(engine, settings, tmp_path: Path, dossiers=DOSSIERS, procedures=PROCEDURES) -> None:  # noqa: ANN001
    units = tmp_path / "units.csv"
    write_export(units, UNITS, header=["Mã đơn vị", "Tên đơn vị", "Mã đơn vị cha", "Cấp", "Email nhận báo cáo"])
    assert import_units(engine, units).exit_code == 0
    rows = [export_row(*d, procedures=procedures) for d in dossiers]
    res = import_file(engine, settings, write_export(tmp_path / "export.csv", rows))
    assert res.rejected == 0, res.rejections


def make_settings(db_url: str, tmp_path: Path, **overrides) -> object:  # noqa: ANN003
    values = {"database.url": db_url, "paths.var_dir": str(tmp_path / "var"),
              "digest.cchc_recipients": [CCHC_OFFICER], "digest.base_url": "https://tthc.sonha.gov.vn",
              "smtp.from": "Theo dõi TTHC Sơn Hà <tthc@sonha.gov.vn>", "digest.max_retries": 2}
    values.update({k.replace("__", "."): v for k, v in overrides.items()})
    return load_settings(env={}, overrides=values)


@dataclass
class Db:
    engine: object
    url: str
    dir: Path

    def settings(self, **overrides):  # noqa: ANN003, ANN201
        return make_settings(self.url, self.dir, **overrides)


def _sqlite(directory: Path, template: Path) -> Db:
    url = copy_sqlite(template, directory / "tthc.db")  # the session's migrated template (tests/conftest.py)
    return Db(make_engine(url), url, directory)


@pytest.fixture
def sqlite_db(tmp_path, sqlite_template):
    """A migrated, empty SQLite database of its own (for tests whose point is not the backend)."""
    db = _sqlite(tmp_path, sqlite_template)
    yield db
    db.engine.dispose()


@pytest.fixture(scope="module")
def shared_province(tmp_path_factory, sqlite_template):
    """The province on SQLite, loaded once per module, for tests that only read and render."""
    db = _sqlite(tmp_path_factory.mktemp("province"), sqlite_template)
    load_province(db.engine, db.settings(), db.dir)
    yield db
    db.engine.dispose()


def deliveries(engine) -> dict[str, dict]:  # noqa: ANN001
    """The delivery records, by recipient."""
    with engine.connect() as conn:
        return {r["recipient"]: dict(r) for r in conn.execute(select(DigestDelivery)).mappings()}


@pytest.fixture
def clean_deliveries(engine):
    """PostgreSQL keeps one database per session: start each test without old deliveries."""
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM digest_delivery"))
        conn.execute(text("DELETE FROM meta"))


@pytest.fixture
def province(engine, settings, tmp_path, clean_deliveries):
    load_province(engine, settings, tmp_path)
    return engine


# ----- a real SMTP server on 127.0.0.1 -----------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    tls: bool = False  # came over TLS (STARTTLS or implicit)

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.raw, policy=policy.default)

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None and body.get_content_subtype() == subtype
        return body.get_content().replace("\r\n", "\n")


@dataclass
class Mailbox:
    """What the SMTP server accepted. `refuse` maps a recipient to the replies to give it, in turn."""

    messages: list[Received] = field(default_factory=list)
    refuse: dict[str, list[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: ANN001, ANN201, N802
        with self.lock:
            replies = self.refuse.get(address)
            if replies:
                return replies.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
        with self.lock:
            self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content,
                                          server.transport.get_extra_info("ssl_object") is not None))
        return "250 Message accepted for delivery"

    def to(self, recipient: str) -> list[Received]:
        return [m for m in self.messages if recipient in m.rcpt_tos]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpServer:
    def __init__(self, port: int | None = None, **controller_kwargs) -> None:  # noqa: ANN003
        self.port = port or free_port()
        self.mailbox = Mailbox()
        self.controller: Controller | None = None
        self.controller_kwargs = controller_kwargs

    def start(self) -> SmtpServer:
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port, **self.controller_kwargs)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp_server():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 and its key (made with the openssl command)."""
    import shutil
    import subprocess

    if not shutil.which("openssl"):
        pytest.skip("the openssl command is needed to make a test certificate")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key
