"""The command line, end to end: output, exit codes, one-line errors that write nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cli.common import CliError, dispose_engines
from cli.main import build_parser, main
from tests.conftest import write_export
from tracker.db import make_engine
from tracker.models import Dossier

UNIT = "UBND phường Bình Minh"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_cli(capsys, settings, *argv: str) -> tuple[int, str, str]:
    """Run a command as cli.main.main does, but with these settings: CliError to a one-line
    message and its exit code, engines disposed."""
    args = build_parser().parse_args(list(argv))
    try:
        code = args.func(args, settings)
    except CliError as exc:
        print(f"tthc: {exc}", file=sys.stderr)
        code = exc.code
    finally:
        dispose_engines()
    out, err = capsys.readouterr()
    return code, out, err


def test_due_prints_the_moment_first_then_the_reasoning(capsys):
    code, out, _ = run(capsys, "due", "--received", "2026-02-13 16:30", "--limit", "3 ngày làm việc")
    lines = out.splitlines()
    assert code == 0
    # Fri 13 Feb 16:30, 3 working days: Tết 16–20 Feb skipped -> Wed 25 Feb 16:30
    assert lines[0] == "2026-02-25 16:30"
    assert any("Tết" in line and "16/02/2026" in line for line in lines[1:])


@pytest.mark.parametrize("received, limit, expected", [
    ("2026-02-13 16:30", "3 working days", "2026-02-25 16:30"),
    ("2026-03-02 13:30", "0,5 ngày", "2026-03-03 07:30"),
    ("2026-03-02 09:00", "8 giờ làm việc", "2026-03-03 09:00"),
    ("2026-03-06 16:30", "15 ngày", "2026-03-23 16:30"),  # Sat 21 -> Mon 23, same clock
    ("2026-03-02 15:30", "trong ngày", "2026-03-03 17:00"),  # after the 15:00 cut-off
    ("2026-03-02 14:00", "same day", "2026-03-02 17:00"),
    ("2026-01-09 17:30", "1 ngày làm việc", "2026-01-10 17:00"),  # Sat 10 Jan 2026 is worked
])
def test_due_accepts_vietnamese_and_english_limits(capsys, received, limit, expected):
    code, out, _ = run(capsys, "due", "--received", received, "--limit", limit)
    assert code == 0 and out.splitlines()[0] == expected


def test_due_json(capsys):
    code, out, _ = run(capsys, "due", "--received", "2026-02-13 16:30", "--limit", "3 ngày làm việc",
                       "--format", "json", "--lang", "en")
    data = json.loads(out)
    assert code == 0 and data["due_at"] == "2026-02-25 16:30"
    assert data["limit"] == {"value": 3, "unit": "working_days"}
    assert data["steps"][-1] == "Due: 2026-02-25 16:30"


@pytest.mark.parametrize("argv, message", [
    (["due", "--received", "2026-02-13 16:30", "--limit", "ba ngày"], "'ba ngày' is not a time limit"),
    (["due", "--received", "2026-02-30 16:30", "--limit", "3 ngày"], "'2026-02-30 16:30' is not a valid date"),
    (["calendar", "--year", "20x6"], "'20x6' is not a year"),
])
def test_bad_input_is_one_line_with_the_value(capsys, argv, message):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and message in err.splitlines()[-1]


def test_a_negative_limit_is_refused(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["due", "--received", "2026-02-13 16:30", "--limit", "-1 ngày"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "'-1 ngày' is not a time limit" in err


def test_mistyped_setting_stops_with_its_name(capsys, monkeypatch):
    monkeypatch.setenv("TTHC_RULES_COMPARISON", "dates")
    code, out, err = run(capsys, "calendar", "--year", "2026")
    assert code == 1 and out == ""
    assert err == "tthc: settings: rules.comparison: 'dates' is not one of date, datetime " \
                  "(environment TTHC_RULES_COMPARISON)\n"


def test_calendar_lists_days_off_and_saturdays_worked(capsys):
    code, out, _ = run(capsys, "calendar", "--year", "2026", "--format", "json")
    days = {d["date"]: d for d in json.loads(out)}
    assert code == 0
    assert days["2026-01-02"]["kind"] == "off" and days["2026-01-10"]["kind"] == "work"
    assert days["2026-08-22"]["kind"] == "work" and days["2026-02-17"]["kind"] == "off"
    assert all(d["reason"] for d in days.values())
    assert "2026-01-03" not in days  # an ordinary Saturday is not listed


def test_commands_need_an_initialised_database(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("TTHC_DATABASE_URL", f"sqlite:///{tmp_path / 'new.db'}")
    code, _, err = run(capsys, "classify")
    assert code == 1 and "run 'tthc init'" in err


def test_init_import_classify_and_dossier(capsys, cli_db, tmp_path):
    assert run(capsys, "init")[0] == 0
    path = write_export(tmp_path / "x.csv", [
        # received Mon 2 Mar 2026 08:00, 3 working days -> due Thu 5 Mar 08:00
        ["1", "HS-1", "1.1", "Đăng ký khai sinh", "Hộ tịch", UNIT, "Trần Thị B", "0912000000", "Trực tiếp",
         "02/03/2026 08:00:00", "05/03/2026 08:00:00", "", "", "Đang xử lý", "3 ngày làm việc"],
        ["2", "HS-2", "1.1", "Đăng ký khai sinh", "Hộ tịch", UNIT, "Lê C", "", "Trực tuyến",
         "02/03/2026 09:00:00", "05/03/2026 09:00:00", "06/03/2026 10:00:00", "", "Đã xử lý xong",
         "3 ngày làm việc"],
        ["3", "HS-3", "1.1", "Đăng ký khai sinh", "Hộ tịch", UNIT, "Phạm D", "", "Trực tuyến",
         "04/03/2026 09:00:00", "", "", "", "Đang xử lý", "3 ngày làm việc"],
        ["4", "HS-4", "1.1", "Đăng ký khai sinh", "Hộ tịch", UNIT, "Vũ E", "", "Trực tuyến",
         "không rõ", "", "", "", "Đang xử lý", "3 ngày làm việc"],
    ])
    code, out, err = run(capsys, "import", str(path))
    assert code == 3, err  # one row rejected, the rest stored
    assert "rejected line 5, column 'Ngày tiếp nhận': 'không rõ' is not a date" in err
    code, out, _ = run(capsys, "classify", "--as-of", "2026-03-06 08:00", "--format", "json")
    counts = json.loads(out)["counts"]
    # at 08:00 HS-2 has not finished yet (10:00): both HS-1 and HS-2 are overdue
    assert code == 0 and (counts["overdue"], counts["late"], counts["within"]) == (2, 0, 1)
    code, out, _ = run(capsys, "classify", "--as-of", "2026-03-06 12:00", "--format", "json")
    counts = json.loads(out)["counts"]
    # HS-1 due Thu 5 Mar: overdue on Fri 6; HS-2 finished late; HS-3 computed due Mon 9 Mar 09:00,
    # 5.5 working hours away (Fri 13:30-17:00, Mon 07:00-09:00): at risk
    assert code == 0 and (counts["overdue"], counts["late"], counts["at_risk"]) == (1, 1, 1)
    code, out, _ = run(capsys, "classify", "--as-of", "2026-03-06 08:00", "--list", "--format", "csv")
    lines = out.splitlines()
    assert lines[0] == "code,class,due_used,computed_due,flags"
    assert "HS-1,overdue,2026-03-05 08:00,2026-03-05 08:00,late_without_apology" in lines
    code, out, _ = run(capsys, "dossier", "HS-3", "--as-of", "2026-03-06 08:00", "--format", "json")
    info = json.loads(out)
    assert code == 0 and info["class"] == "within" and info["computed_due"] == "2026-03-09 09:00"
    assert info["due_explained"][-1] == "Hạn xử lý: 09/03/2026 09:00"
    code, _, err = run(capsys, "dossier", "HS-404")
    assert code == 1 and "dossier 'HS-404': not found" in err
    engine = make_engine(cli_db)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Dossier)).scalar_one() == 3
    engine.dispose()


def test_the_console_script_is_installed(tmp_path):
    exe = Path(sys.executable).with_name("tthc")
    out = subprocess.run([str(exe), "due", "--received", "2026-02-13 16:30", "--limit", "3 ngày làm việc"],
                         capture_output=True, text=True, cwd=tmp_path, check=True,
                         env={"PATH": "/usr/bin:/bin"})
    assert out.stdout.splitlines()[0] == "2026-02-25 16:30"


def test_output_into_a_closed_pipe_ends_quietly(tmp_path):
    """`tthc classify --list | head`: the reader goes away; no traceback, exit 0."""
    exe = Path(sys.executable).with_name("tthc")
    proc = subprocess.Popen([str(exe), "calendar", "--year", "2026", "--format", "csv"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={"PATH": "/usr/bin:/bin"})
    proc.stdout.close()  # before the program has started writing
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait() == 0
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_procedures_import_of_a_cut_limit_recomputes_the_dossiers_it_holds_and_dossier_says_which(cli_db, capsys,
                                                                                                  tmp_path):
    header = ["Mã TTHC", "Tên thủ tục hành chính", "Thời hạn giải quyết", "effective_from"]
    write_export(tmp_path / "p1.csv", [["1.1", "Đăng ký khai sinh", "15 ngày làm việc", ""]], header=header)
    write_export(tmp_path / "p2.csv", [["1.1", "Đăng ký khai sinh", "10 ngày làm việc", "2026-11-01"]],
                 header=header)
    write_export(tmp_path / "d.csv", [
        [str(i), code, "1.1", "Đăng ký khai sinh", "Hộ tịch", UNIT, "", "", "Trực tiếp", received, "", "", "",
         "Đang xử lý", ""] for i, (code, received) in enumerate((("OCT", "12/10/2026 09:00:00"),
                                                                ("NOV", "02/11/2026 09:00:00")), 1)])
    assert run(capsys, "procedures", "import", str(tmp_path / "p1.csv"))[0] == 0
    assert run(capsys, "import", str(tmp_path / "d.csv"))[0] == 0
    code, out, _ = run(capsys, "procedures", "import", str(tmp_path / "p2.csv"))
    assert code == 0 and "1 time-limit version(s) added or corrected; 2 dossier(s)" in out
    engine = make_engine(cli_db)
    with engine.connect() as conn:  # recomputed by the import itself, not at the next command
        dues = dict(conn.execute(select(Dossier.code, Dossier.due_used_at)).all())
    engine.dispose()
    assert {k: f"{v:%Y-%m-%d %H:%M}" for k, v in dues.items()} == {"OCT": "2026-11-02 09:00",
                                                                   "NOV": "2026-11-16 09:00"}
    _, out, _ = run(capsys, "dossier", "NOV", "--format", "json")
    assert json.loads(out)["limit"] == "10 ngày làm việc, áp dụng từ 01/11/2026"
    _, out, _ = run(capsys, "dossier", "OCT", "--format", "json", "--lang", "en")
    assert json.loads(out)["limit"] == "15 working days"
    _, out, _ = run(capsys, "dossier", "NOV")
    assert "limit: 10 ngày làm việc, áp dụng từ 01/11/2026" in out


def test_import_takes_every_format_the_readers_know_json_included(capsys, cli_db, tmp_path):
    from tests import fixtures_gen as fx
    from tracker.ingest.readers import FORMATS

    assert run(capsys, "init")[0] == 0
    path = fx.write_portal_json(tmp_path / "portal.json")
    code, out, err = run(capsys, "import", str(path), "--format", "json")  # either flavour, told from the records
    assert code == 0, err
    engine = make_engine(cli_db)
    try:
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(Dossier)).scalar_one() == len(fx.DOSSIERS)
    finally:
        engine.dispose()
    with pytest.raises(SystemExit):
        main(["import", str(path), "--format", "pdf"])
    err = capsys.readouterr().err
    assert all(f"'{f}'" in err for f in FORMATS), err  # argparse lists the choices
