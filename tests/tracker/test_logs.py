"""Log lines: one JSON object a line with log.format = "json" (time, level, event, ids), plain otherwise;
never applicants' data, even from an error that carries SQL parameters."""

from __future__ import annotations

import io
import json
import logging
import os
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tests.conftest import write_export
from tracker.logs import configure, log_context

APPLICANT, PHONE = "Nguyễn Văn An", "0912345678"


@pytest.fixture
def captured():
    handlers = []

    def install(fmt: str) -> io.StringIO:
        stream = io.StringIO()
        handlers.append(configure(fmt, logging.INFO, stream))
        return stream

    yield install
    for h in handlers:
        logging.getLogger().removeHandler(h)


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_time_level_event_and_ids(captured):
    out = captured("json")
    log = logging.getLogger("jobs.test")
    with log_context(job="digest"):
        log.info("digest %s: %d sent", "2026-11-25", 3, extra={"run_id": 7})
    log.warning("outside")
    first, second = lines(out)
    assert first["level"] == "info" and first["logger"] == "jobs.test" and first["event"] == "digest 2026-11-25: 3 sent"
    assert first["job"] == "digest" and first["run_id"] == 7
    assert first["time"][:4].isdigit() and first["time"][-6] in "+-"  # ISO 8601 with the offset
    assert "job" not in second and second["level"] == "warning"


def test_an_error_with_sql_parameters_logs_neither_the_parameters_nor_values(captured):
    out = captured("json")
    try:
        raise IntegrityError("INSERT INTO dossier (applicant_name, applicant_phone) VALUES (?, ?)",
                             (APPLICANT, PHONE), Exception("UNIQUE constraint failed: dossier.code"))
    except IntegrityError:
        logging.getLogger("tracker.test").exception("import failed")
    (line,) = lines(out)
    assert line["error"] == "Exception: UNIQUE constraint failed: dossier.code"
    assert line["trace"] and all(" in " in f for f in line["trace"])
    assert APPLICANT not in out.getvalue() and PHONE not in out.getvalue()


def test_plain_lines_by_default(captured):
    out = captured("plain")
    logging.getLogger("tracker.test").info("hello %s", "there")
    assert out.getvalue().rstrip().endswith("INFO tracker.test: hello there")
    with pytest.raises(json.JSONDecodeError):
        json.loads(out.getvalue())


def test_a_scheduled_import_in_json_mode_logs_no_applicant_data(captured, sqlite_settings, tmp_path):
    from jobs.scheduler import _guarded, import_job
    from tracker.db import make_engine

    drop = tmp_path / "drop"
    drop.mkdir()
    export = write_export(drop / "export.csv", [["1", "HS-1", "1.001", "Đăng ký khai sinh", "Hộ tịch", "UBND xã A",
                                                 APPLICANT, PHONE, "Trực tiếp", "02/03/2026 08:00", "", "", "",
                                                 "Đang xử lý", "3 ngày làm việc"]])
    os.utime(export, (time.time() - 60, time.time() - 60))
    settings = sqlite_settings(**{"import.sources": [{"name": "motcua", "kind": "folder", "path": str(drop)}]})
    engine = make_engine(settings.get("database.url"))
    out = captured("json")
    try:
        _guarded("import:motcua", import_job)(engine, settings, "motcua")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT applicant_name FROM dossier")).scalar_one() == APPLICANT
    finally:
        engine.dispose()
    got = lines(out)
    assert got and all(g["job"] == "import:motcua" for g in got)
    assert any("export.csv done (1 read, 0 rejected)" in g["event"] for g in got)
    assert APPLICANT not in out.getvalue() and PHONE not in out.getvalue()


@pytest.fixture
def sqlite_settings(tmp_path):
    from tracker.config import load_settings
    from tracker.db import make_engine, upgrade

    url = f"sqlite:///{tmp_path / 'tthc.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()

    def make(**overrides):  # noqa: ANN003, ANN202
        return load_settings(env={}, overrides={"database.url": url, "paths.var_dir": str(tmp_path / "var"),
                                                **overrides})

    return make
