"""`tthc refresh` stores the outlook; `tthc predict backtest` prints its figures; bad input is a
one-line error with exit code 2."""

from __future__ import annotations

import json
from datetime import date, timedelta

from sqlalchemy import func, select

from tests.cli.test_main import run
from tests.conftest import write_export
from tracker.db import make_engine
from tracker.models import DossierOutlook

UNIT = "UBND phường Bình Minh"


def _rows() -> list[list[str]]:
    rows = []
    for n in range(45):  # a procedure that finishes two days late, nine times in ten
        d = date(2026, 1, 5) + timedelta(days=2 * n)
        late = n % 10 != 0
        end = d + timedelta(days=9 if late else 3)
        rows.append([str(n), f"HS-{n:03d}", "1.1", "Đăng ký khai sinh", "Hộ tịch", UNIT, "", "", "Trực tiếp",
                     f"{d:%d/%m/%Y} 08:00:00", f"{d + timedelta(days=7):%d/%m/%Y} 08:00:00",
                     f"{end:%d/%m/%Y} 10:00:00", "", "Đã trả kết quả", "5 ngày làm việc"])
    rows.append(["99", "HS-OPEN", "1.1", "Đăng ký khai sinh", "Hộ tịch", UNIT, "", "", "Trực tiếp",
                 "01/04/2026 08:00:00", "08/04/2026 08:00:00", "", "", "Đang xử lý", "5 ngày làm việc"])
    return rows


def test_refresh_stores_and_backtest_prints(cli_db, capsys, tmp_path):
    code, _, err = run(capsys, "import", str(write_export(tmp_path / "x.csv", _rows())))
    assert code == 0, err
    code, out, _ = run(capsys, "refresh")
    assert code == 0 and "open dossier(s): predicted lateness and time in status stored" in out
    engine = make_engine(cli_db)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(DossierOutlook)).scalar_one() == 1
    engine.dispose()
    code, out, err = run(capsys, "predict", "backtest", "--from", "2026-03-02", "--to", "2026-03-13")
    assert code == 0, err
    assert "Backtest 2026-03-02 … 2026-03-13: 10 working days" in out
    assert "predicted, ≥ 3 wd before due" in out and "8-hour rule, all warnings" in out
    code, out, _ = run(capsys, "predict", "backtest", "--from", "02/03/2026", "--to", "13/03/2026",
                       "--format", "json")
    figures = json.loads(out)
    assert code == 0 and figures["days"] == 10 and figures["scores"]["predict"]["precision"] >= 0.8


def test_bad_dates_are_one_line_errors(cli_db, capsys):
    code, _, err = run(capsys, "predict", "backtest", "--from", "2026-13-01", "--to", "2026-03-13")
    assert code == 2 and "--from: '2026-13-01' is not a date" in err
    code, _, err = run(capsys, "predict", "backtest", "--from", "2026-03-13", "--to", "2026-03-01")
    assert code == 2 and "is before --from" in err
    code, _, err = run(capsys, "predict", "backtest")
    assert code == 2 and "--from and --to are required" in err
    code, _, err = run(capsys, "predict", "backtest", "--from", "2026-03-02", "--to", "2026-03-13", "--at", "25:00")
    assert code == 2 and "--at: '25:00' is not a time" in err
