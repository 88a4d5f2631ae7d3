"""Text safe for display (tracker.display, issue 12): a control character or a bidi override in a
unit or procedure name, stored before imports removed them, breaks no export, reaches no terminal
and no mail."""

from __future__ import annotations

import io

from openpyxl import load_workbook
from sqlalchemy import update

from cli.main import main
from tests.conftest import write_export
from tracker.display import safe_text, shown
from tracker.export import safe_cell, write_dossiers
from tracker.ingest import import_file
from tracker.models import Unit
from tracker.report_xlsx import write_report_xlsx
from tracker.reports import Report, ReportRow

BAD = "Sở\x00 Tư\x1b[2J pháp\u202e\x85\ud800"


def test_safe_text_removes_controls_overrides_and_lone_surrogates():
    assert safe_text(BAD) == "Sở Tư[2J pháp"
    assert safe_text("hai\ndòng\tcột") == "hai\ndòng\tcột"
    assert safe_text("hai\ndòng\tcột", one_line=True) == "hai dòng cột"
    assert safe_text(None) is None and safe_text(3) == 3
    assert shown("a\x00b\u202e") == "a\\x00b\\u202e"
    assert safe_cell("=\x07cmd()") == "'=cmd()" and safe_cell("\x07=cmd()") == "'=cmd()"


def test_the_period_report_xlsx_takes_any_name(tmp_path):
    from datetime import date, datetime

    row = ReportRow(key="U", name=BAD, received_offline=1, within=1, level="xa", depth=1)
    total = ReportRow(key="total", name="Tổng cộng")
    total.add(row)
    report = Report(date(2026, 3, 1), date(2026, 3, 31), datetime(2026, 3, 31, 23, 59), "unit", "date", [row], total)
    path = write_report_xlsx(report, tmp_path / "b06.xlsx", province="Tỉnh\x01 Sơn Hà", reporting_unit=BAD)
    ws = load_workbook(path).active
    assert ws["A1"].value == "TỈNH SƠN HÀ" and ws["A2"].value == "Đơn vị báo cáo: Sở Tư[2J pháp"
    assert any(c.value == "Sở Tư[2J pháp" for c in ws["B"])


def _stored_bad_name(engine, settings, tmp_path) -> None:  # noqa: ANN001
    path = write_export(tmp_path / "x.csv", [[
        "1", "HS-1", "1.001", "Cấp phép", "Tư pháp", "Sở Tư pháp", "A", "", "Trực tiếp", "02/03/2026 08:00:00", "",
        "", "", "Đang xử lý", "3 ngày làm việc"]])
    assert import_file(engine, settings, path).status == "done"
    with engine.begin() as conn:  # as a database imported before names were cleaned holds it
        conn.execute(update(Unit).values(name=BAD.replace("\x00", "").replace("\ud800", "")))


def test_exports_and_the_terminal_carry_no_escape_or_override(engine, settings, tmp_path, monkeypatch, capsys):
    _stored_bad_name(engine, settings, tmp_path)
    out = io.StringIO()
    write_dossiers(engine, out)
    assert "\x1b" not in out.getvalue() and "\u202e" not in out.getvalue()
    monkeypatch.setenv("TTHC_DATABASE_URL", str(engine.url.render_as_string(hide_password=False)))
    monkeypatch.setenv("TTHC_PATHS_VAR_DIR", str(tmp_path / "var"))
    for argv in (["classify", "--list", "--as-of", "2026-03-03 08:00"], ["classify", "--list", "--format", "json"],
                 ["dossier", "HS-1"], ["dossier", "HS-1", "--format", "json"]):
        assert main(argv) == 0
        printed = capsys.readouterr().out
        assert "\x1b" not in printed and "\u202e" not in printed and "\x85" not in printed, argv
    assert "Sở Tư[2J pháp" in printed
