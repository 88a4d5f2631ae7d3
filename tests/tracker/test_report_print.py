"""Biểu 06 printed as the official A4 form (issue 14): LibreOffice turns the XLSX into a PDF and the
pages are read back. The total row never starts a page alone, it keeps the last rows and the
signature block with it; the agency block is at the top left; place and date above the signatures.

Runs when LibreOffice (`soffice`) and poppler's `pdftotext` are installed (.ci/run installs them);
skipped otherwise, failed when TRACKER_TEST_REQUIRE_SOFFICE is set.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import date, datetime

import pytest

from tracker.report_xlsx import KEEP_WITH_TOTAL, FormText, _row_height, page_breaks, write_report_xlsx
from tracker.reports import Report, ReportRow

FORM = FormText(province="UBND tỉnh Sơn Hà", agency="Văn phòng UBND tỉnh", place="Sơn Hà",
                signer_title="Chánh Văn phòng", preparer_title="Người lập biểu", signed_on=date(2026, 11, 5))


def _missing() -> str | None:
    if not shutil.which("soffice"):
        return "soffice not installed (apt-get install libreoffice-calc-nogui)"
    if not shutil.which("pdftotext"):
        return "pdftotext not installed (apt-get install poppler-utils)"
    return None


@pytest.fixture(scope="module")
def printed(tmp_path_factory):
    """{rows: [text of each printed page]} for reports of 21 rows (they fit the first page, the total
    and the signatures do not), 23 (one row would be left alone with the total) and 60 (three pages)."""
    reason = _missing()
    if reason:
        if os.environ.get("TRACKER_TEST_REQUIRE_SOFFICE"):
            pytest.fail(f"print tests required: {reason}")
        pytest.skip(reason)
    tmp = tmp_path_factory.mktemp("print")
    files = {n: write_report_xlsx(_report(n), tmp / f"b06-{n}.xlsx", form=FORM) for n in (21, 23, 60)}
    subprocess.run(["soffice", "--headless", "--norestore", f"-env:UserInstallation=file://{tmp / 'profile'}",
                    "--convert-to", "pdf", "--outdir", str(tmp), *map(str, files.values())],
                   check=True, capture_output=True, timeout=300)
    out = {}
    for n, f in files.items():
        text = subprocess.run(["pdftotext", "-layout", str(f.with_suffix(".pdf")), "-"], check=True,
                              capture_output=True, text=True).stdout
        out[n] = [page for page in text.split("\f") if page.strip()]
    return out


def _report(n: int) -> Report:
    rows = [ReportRow(key=f"X{i:02d}", name=f"UBND xã Thử {i:02d}" + (" thuộc huyện miền núi phía Bắc" if i % 7 == 0
                                                                        else ""), received_offline=10 + i,
                      on_time=5, within=5 + i, depth=1) for i in range(n)]
    total = ReportRow(key="total", name="Tổng cộng")
    for r in rows:
        total.add(r)
    return Report(date(2026, 10, 1), date(2026, 10, 31), datetime(2026, 10, 31, 23, 59, 59), "unit", "date", rows,
                  total)


def _data_rows(page: str) -> int:
    return sum("UBND xã Thử" in line for line in page.splitlines())


@pytest.mark.parametrize("n", [21, 23, 60])
def test_the_total_row_keeps_the_last_rows_and_the_signatures_on_its_page(printed, n):
    pages = printed[n]
    breaks = page_breaks([_row_height(r) for r in _report(n).rows])
    assert len(pages) == len(breaks) + 1  # as planned: no page split sideways, no break of the printer's own
    last = pages[-1]
    assert "Tổng cộng" in last and all("Tổng cộng" not in p for p in pages[:-1])
    assert _data_rows(last) >= KEEP_WITH_TOTAL  # never alone under the headers
    assert "NGƯỜI LẬP BIỂU" in last and "CHÁNH VĂN PHÒNG" in last and "Sơn Hà, ngày 05 tháng 11 năm 2026" in last
    assert last.index("Tổng cộng") < last.index("Sơn Hà, ngày 05") < last.index("CHÁNH VĂN PHÒNG")
    assert sum(_data_rows(p) for p in pages) == n
    assert all("(14)" in p for p in pages)  # the numbered header row on every page


def test_rows_move_with_the_total_rather_than_leave_it_alone(printed):
    for n in (21, 23):
        assert len(printed[n]) == 2 and _data_rows(printed[n][1]) == KEEP_WITH_TOTAL, n


def test_agency_block_top_left(printed):
    lines = [line for line in printed[60][0].splitlines() if line.strip()]
    assert lines[0].startswith("UBND TỈNH SƠN HÀ") and "Biểu số 06/VPCP/KSTT" in lines[0]
    assert lines[1].startswith("VĂN PHÒNG UBND TỈNH")
    assert "Kỳ báo cáo: từ 01/10/2026 đến 31/10/2026" in printed[60][0]
