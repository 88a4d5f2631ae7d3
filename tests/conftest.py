"""Shared fixtures: databases on SQLite and PostgreSQL, settings, small export files.

Database tests take the `db_url` fixture and run once per backend. PostgreSQL is the machine's
(127.0.0.1:5432, or $TRACKER_TEST_PG_URL); each test session creates its own throwaway
database there and drops it at the end. When PostgreSQL is unreachable the PostgreSQL runs are
skipped, unless $TRACKER_TEST_REQUIRE_PG is set (CI sets it), where they fail.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tracker.config import load_settings
from tracker.db import make_engine, upgrade
from tracker.files import FILE_MODE, private_dir

PG_URL = os.environ.get("TRACKER_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REQUIRE_PG = bool(os.environ.get("TRACKER_TEST_REQUIRE_PG"))
TABLES = ("login_attempt", "admin_event", "portal_figure", "supplement", "dossier_outlook", "status_change",
          "rejected_row", "dossier", "procedure_limit", "procedure", "unit", "calendar_day", "import_run", "meta",
          "digest_delivery", "api_token", "user_unit", "app_user")


@pytest.fixture(scope="session")
def pg_database():
    """A fresh PostgreSQL database for this test session, migrated; its URL."""
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:  # noqa: BLE001
        admin.dispose()
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL required but unreachable at {PG_URL}: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {PG_URL}")
    name = f"tthc_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


# ----- hypothesis ------------------------------------------------------------------------------------------
# Profiles: "ci" (CI=true, as .ci/run sets it) runs each property test with the examples its file asks for;
# "dev" (any other run of the suite) with half of them, for a quicker local `make test`; "hunt" with ten
# times as many (HYPOTHESIS_PROFILE=hunt, for a longer search). No deadline anywhere: a loaded machine
# makes an example slow, never wrong. HYPOTHESIS_PROFILE names one explicitly.
HYPOTHESIS_SCALE = {"dev": 0.5, "ci": 1.0, "hunt": 10.0}
for _name in HYPOTHESIS_SCALE:
    hypothesis_settings.register_profile(_name, deadline=None, print_blob=True,
                                         max_examples=round(100 * HYPOTHESIS_SCALE[_name]))
HYPOTHESIS_PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
hypothesis_settings.load_profile(HYPOTHESIS_PROFILE)


def examples(n: int) -> int:
    """max_examples for a property test that asks for `n` under the ci profile: scaled for this profile."""
    return max(10, round(n * HYPOTHESIS_SCALE[HYPOTHESIS_PROFILE]))


# ----- cheap password hashes ---------------------------------------------------------------------------
# The product hashes with werkzeug's default scrypt (N=32768: ~0.1 s and 32 MB a hash, by design). The tests
# create and log in users hundreds of times, which made hashing the biggest cost of the suite. In the test
# process passwords are hashed with the same scrypt at a small N; checking reads N from the stored hash, so
# the code that checks passwords is the product's. test_password_hash.py holds the product's own cost;
# processes the tests start (the CLI, gunicorn) hash as the product does.
CHEAP_PASSWORD_HASH = "scrypt:1024:8:1"


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashes():
    """For the session: tracker.users hashes with CHEAP_PASSWORD_HASH. Yields the product's hash_password."""
    from werkzeug.security import generate_password_hash

    import tracker.users as users

    strong = users.hash_password
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(users, "hash_password", lambda password: generate_password_hash(password, CHEAP_PASSWORD_HASH))
        mp.setattr(users, "_DUMMY_HASH", generate_password_hash("not a password", CHEAP_PASSWORD_HASH))
        yield strong


@pytest.fixture
def strong_password_hashes(cheap_password_hashes, monkeypatch):
    """This test hashes (and so checks) passwords at the product's real cost: where timing is the point."""
    import tracker.users as users

    monkeypatch.setattr(users, "hash_password", cheap_password_hashes)
    monkeypatch.setattr(users, "_DUMMY_HASH", cheap_password_hashes("not a password"))


# ----- databases -------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A SQLite database migrated to head, once per session: tests get a copy of the file (milliseconds)
    instead of running every migration again (a third of a second each)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "tthc.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    assert not path.with_name("tthc.db-wal").exists(), "the template's WAL was not checkpointed: copy it whole"
    return path


def copy_sqlite(template: Path, path: Path) -> str:
    """A migrated, empty SQLite database at `path`, copied from `template`, 0600 as make_engine creates
    it (its folder 0700 when made here); its URL."""
    private_dir(path.parent)
    shutil.copyfile(template, path)
    os.chmod(path, FILE_MODE)
    return f"sqlite:///{path}"


@pytest.fixture
def migrated_sqlite(sqlite_template):
    """migrated_sqlite(path) -> the URL of a migrated, empty SQLite database at `path`."""
    return lambda path: copy_sqlite(sqlite_template, Path(path))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A migrated, empty database on each backend."""
    if request.param == "sqlite":
        return copy_sqlite(request.getfixturevalue("sqlite_template"), tmp_path / "tthc.db")
    url = request.getfixturevalue("pg_database")
    empty_pg(url)
    return url


BIG_TABLE = 5000  # rows: above this a table is TRUNCATEd, below it DELETEd from


def empty_pg(url: str) -> None:
    """Empty every table of TABLES and restart their id sequences (empty_pg_tables)."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            empty_pg_tables(conn)
    finally:
        engine.dispose()


def _children_first() -> list[str]:
    """TABLES in an order DELETE can follow: each table before those its foreign keys point at (the
    models' own order; a table the models do not know goes first)."""
    from sqlmodel import SQLModel

    import tracker.users  # noqa: F401  (registers the users' tables)

    known = [t.name for t in reversed(SQLModel.metadata.sorted_tables)]
    return sorted(TABLES, key=lambda t: known.index(t) if t in known else -1)


def empty_pg_tables(conn) -> None:  # noqa: ANN001
    """TRUNCATE ... RESTART IDENTITY, faster: TRUNCATE writes new files for each of the 18 tables (0.3 s or
    more, even empty), DELETE of a few rows takes milliseconds. A test that left a big table gets TRUNCATE;
    otherwise DELETE, children first, and ALTER SEQUENCE ... RESTART for the tables' id sequences."""
    rows = conn.execute(text(" UNION ALL ".join(
        f"SELECT count(*) FROM (SELECT 1 FROM {t} LIMIT {BIG_TABLE + 1}) AS s" for t in TABLES))).scalars()
    if max(rows) > BIG_TABLE:
        conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        return
    sequences = conn.execute(text(
        "SELECT s.oid::regclass::text FROM pg_class s JOIN pg_depend d ON d.objid = s.oid "
        "JOIN pg_class t ON t.oid = d.refobjid WHERE s.relkind = 'S' AND d.deptype IN ('a', 'i') "
        "AND t.relname = ANY(:tables)"), {"tables": list(TABLES)}).scalars().all()
    for table in _children_first():
        conn.execute(text(f"DELETE FROM {table}"))
    for seq in sequences:
        conn.execute(text(f"ALTER SEQUENCE {seq} RESTART"))


@pytest.fixture
def engine(db_url):
    e = make_engine(db_url)
    yield e
    e.dispose()


@pytest.fixture
def settings(db_url, tmp_path):
    return load_settings(env={}, overrides={"database.url": db_url, "paths.var_dir": str(tmp_path / "var")})


def write_export(path: Path, rows: list[list[str]], header: list[str] | None = None,
                 *, delimiter: str = ";", encoding: str = "utf-8-sig", title: list[str] = ()) -> Path:
    """A one-stop export as the desks save it: optional title lines, a header, rows."""
    import csv
    import io

    header = header or EXPORT_HEADER
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    for t in title:
        w.writerow([t])
    w.writerow(header)
    w.writerows(rows)
    data = buf.getvalue()
    path.write_bytes(to_cp1258(data) if encoding == "cp1258" else data.encode(encoding))
    return path


_TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}


def to_cp1258(text: str) -> bytes:
    """Encode as Windows-1258 does: letters with their vowel marks precomposed (ơ, ư, â …) and
    the five tone marks as separate combining characters."""
    import unicodedata

    out = []
    for ch in text:
        try:
            out.append(ch.encode("cp1258"))
            continue
        except UnicodeEncodeError:
            pass
        parts = unicodedata.normalize("NFD", ch)
        tones = "".join(c for c in parts if c in _TONES)
        base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in _TONES))
        out.append((base + tones).encode("cp1258"))
    return b"".join(out)


EXPORT_HEADER = ["STT", "Mã hồ sơ", "Mã TTHC", "Tên thủ tục hành chính", "Lĩnh vực", "Đơn vị tiếp nhận",
                 "Chủ hồ sơ", "Số điện thoại", "Kênh nộp", "Ngày tiếp nhận", "Ngày hẹn trả",
                 "Ngày kết thúc xử lý", "Ngày trả kết quả", "Trạng thái", "Thời hạn giải quyết"]
