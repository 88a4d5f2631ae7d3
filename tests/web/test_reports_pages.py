"""The Báo cáo, Chấm điểm and Kiểm tra pages (web/reports.py): the period picker, scoping on the
server, downloads that hold exactly the table on screen, audits listed and exported, bad input
named field by field, hostile unit names escaped and neutralised (on SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import date, datetime
from decimal import Decimal
from html.parser import HTMLParser
from urllib.parse import quote

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from tests.conftest import write_export
from tests.web.conftest import DEPT, DESK, NOW, PASSWORD, PERSONAS, csrf
from tracker.audits import no_apology
from tracker.db import make_engine
from tracker.models import Unit
from tracker.report_xlsx import FIRST_DATA, write_report_xlsx
from tracker.reports import period_report
from tracker.users import create_user

YEAR = "?period=y&year=2026"


# ----- reading the page --------------------------------------------------------------------------


class _Table(HTMLParser):
    """The rows of one <table id=…>: (data-key or row id, [cell texts])."""

    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id, self.inside, self.rows, self.cell = table_id, False, [], None

    def handle_starttag(self, tag, attrs):  # noqa: ANN001, ANN201
        a = dict(attrs)
        if tag == "table" and a.get("id") == self.table_id:
            self.inside = True
        elif self.inside and tag == "tr":
            self.rows.append((a.get("data-key") or a.get("id") or "", []))
        elif self.inside and tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag):  # noqa: ANN001, ANN201
        if tag == "table":
            self.inside = False
        elif self.inside and tag in ("td", "th") and self.cell is not None:
            self.rows[-1][1].append("".join(self.cell).strip())
            self.cell = None

    def handle_data(self, data):  # noqa: ANN001, ANN201
        if self.cell is not None:
            self.cell.append(data)


def table(page: str, table_id: str, *, keyed: bool = True) -> list[tuple[str, list[str]]]:
    """The rows with cells (and with a key, if `keyed`)."""
    p = _Table(table_id)
    p.feed(page)
    return [(key, cells) for key, cells in p.rows if cells and (key or not keyed)]


def vi_value(text: str) -> Decimal | None:
    """'1.378' -> 1378, '95,6%' -> 95.6, '—' -> None (the page's Vietnamese numbers)."""
    text = text.strip().rstrip("%")
    return None if text in ("—", "-", "") else Decimal(text.replace(".", "").replace(",", "."))


def report_table(page: str) -> dict[str, tuple[str, list[Decimal | None]]]:
    """{row key: (name, [13 numbers: total … overdue, rate, score])}; the total row under 'total-row'."""
    return {key: (cells[1], [vi_value(c) for c in cells[2:]]) for key, cells in table(page, "report-table")}


COUNT_KEYS = ("total", "carried_over", "received_online", "received_offline", "finished", "early", "on_time",
              "late", "unfinished", "within", "overdue")


def counts_of(row) -> list[Decimal]:  # noqa: ANN001
    return [Decimal(getattr(row, k)) for k in COUNT_KEYS]


def url(path: str) -> str:
    """A path with its query string quoted as a browser sends it (spaces, accents, < >)."""
    return quote(path, safe="/?=&:%")


def get_ok(client, path: str):  # noqa: ANN001, ANN201
    resp = client.get(url(path))
    assert resp.status_code == 200, (path, resp.status_code, resp.text[:500])
    return resp


# ----- the period picker -------------------------------------------------------------------------


@pytest.mark.parametrize("query,start,end,as_of", [
    ("", "01/11/2026", "20/11/2026", "20/11/2026 10:00"),  # default: this month, to date
    ("?period=q3&year=2026", "01/07/2026", "30/09/2026", "30/09/2026 23:59"),
    ("?period=h1&year=2026", "01/01/2026", "30/06/2026", "30/06/2026 23:59"),
    ("?period=m2&year=2026", "01/02/2026", "28/02/2026", "28/02/2026 23:59"),
    ("?period=y&year=2025", "01/01/2025", "31/12/2025", "31/12/2025 23:59"),
    (YEAR, "01/01/2026", "20/11/2026", "20/11/2026 10:00"),  # a running year: to date
    ("?period=range&from=05/10/2026&to=2026-10-20", "05/10/2026", "20/10/2026", "20/10/2026 23:59"),
    ("?from=2026-10-05&to=20/10/2026", "05/10/2026", "20/10/2026", "20/10/2026 23:59"),  # <input type=date>
    ("?period=m11&year=2026&as_of=15/11/2026", "01/11/2026", "15/11/2026", "15/11/2026 23:59"),
    ("?period=m11&year=2026&as_of=2026-11-15T08:30", "01/11/2026", "15/11/2026", "15/11/2026 08:30"),
    ("?period=m11&year=2026&as_of=20/11/2026", "01/11/2026", "20/11/2026", "20/11/2026 10:00"),  # today: now
])
def test_the_period_picker(client_for, query, start, end, as_of):
    page = get_ok(client_for("cchc"), "/reports" + query).text
    heading = re.search(r'id="report-period">([^<]*)<', page).group(1)
    assert f"từ {start} đến {end}" in heading and f"tính đến {as_of}" in heading, heading


def test_the_table_is_what_tracker_reports_counts(client_for, world):
    """Row by row, the page shows tracker.reports.period_report for the period chosen."""
    engine = make_engine(world["url"])
    try:
        want = period_report(engine, world["settings"], date(2026, 7, 1), date(2026, 9, 30), as_of=NOW)
    finally:
        engine.dispose()
    shown = report_table(get_ok(client_for("cchc"), "/reports?period=q3&year=2026").text)
    assert set(shown) == {r.key for r in want.rows} | {"total-row"}
    for row in [*want.rows, want.total]:
        name, values = shown["total-row" if row is want.total else row.key]
        assert values[:11] == counts_of(row), row.key
        assert values[11] == row.on_time_rate and values[12] == row.score_766
        assert name == ("Tổng cộng" if row is want.total else row.name)
    assert len(want.rows) > 20 and want.total.total > 500


# ----- bad input ---------------------------------------------------------------------------------


BAD = [
    ("period=range&from=31/02/2026&to=01/03/2026", "Từ ngày: '31/02/2026' không phải ngày hợp lệ"),
    ("period=range&from=10/03/2026&to=01/03/2026", "Đến ngày 01/03/2026 trước Từ ngày 10/03/2026"),
    ("period=range&from=01/03/2026", "Đến ngày: cần nhập ngày"),
    ("period=m1&year=20x6", "Năm: '20x6' không phải năm hợp lệ"),
    ("period=m13&year=2026", "Kỳ báo cáo: 'm13' không phải lựa chọn hợp lệ"),
    ("by=district", "Nhóm theo: 'district' không phải lựa chọn hợp lệ"),
    ("as_of=hôm qua", "Tính đến: 'hôm qua' không phải thời điểm hợp lệ"),
    ("as_of=21/11/2026 08:00", "Tính đến: 21/11/2026 08:00 là thời điểm trong tương lai"),
    ("period=m12&year=2026", "Kỳ báo cáo bắt đầu ngày 01/12/2026"),
]


@pytest.mark.parametrize("query,message", BAD)
def test_bad_input_names_the_field_and_the_value(client_for, query, message):
    c = client_for("cchc")
    page = c.get(url(f"/reports?{query}"))
    assert page.status_code == 400
    assert message in html.unescape(page.text) and 'id="errors"' in page.text
    assert 'id="period-form"' in page.text and 'id="report-table"' not in page.text
    for path in ("/reports.csv", "/reports.xlsx", "/scores.csv", "/audits.csv"):
        resp = c.get(url(f"{path}?{query}"))
        if "by=" in query and not path.startswith("/reports"):
            continue  # the grouping is the report's own
        assert resp.status_code == 400 and resp.mimetype == "text/plain", path
        assert message in resp.text, path
    if "by=" not in query:
        assert message in html.unescape(c.get(url(f"/scores?{query}")).text)
        assert message in html.unescape(c.get(url(f"/audits?{query}")).text)
    else:  # pages with no grouping ignore it
        assert c.get(url(f"/scores?{query}")).status_code == 200


def test_bad_input_in_english_and_escaped(client_for):
    c = client_for("cchc")
    c.post("/lang", data={"lang": "en", "csrf_token": csrf(c)})
    page = c.get(url("/reports?period=range&from=<script>alert(1)</script>&to=01/01/2026"))
    assert page.status_code == 400
    assert "<script>alert(1)" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "From: '<script>alert(1)</script>' is not a valid date" in html.unescape(page.text)
    assert c.get("/audits?audit=everything").status_code == 400
    assert "Audit: 'everything' does not exist" in html.unescape(c.get("/audits?audit=everything").text)


def test_pages_take_no_posts(client_for):
    """GET forms only: nothing on these pages changes state, so there is nothing to forge."""
    c = client_for("admin")
    for path in ("/reports", "/scores", "/audits", "/reports.csv"):
        assert c.post(path, data={"csrf_token": csrf(c)}).status_code == 405


# ----- every page, every persona, both languages ---------------------------------------------------


@pytest.mark.parametrize("persona", list(PERSONAS))
def test_pages_render_for_who_may_see_them(client_for, persona):
    role = PERSONAS[persona][0]
    c = client_for(persona)
    for lang in ("vi", "en"):
        c.post("/lang", data={"lang": lang, "csrf_token": csrf(c)})
        for path, roles in (("/reports", None), ("/reports?by=field&period=q2&year=2026", None),
                            ("/reports?by=unit&rollup=1", None), ("/reports?by=channel", None),
                            ("/reports?by=level", None), ("/reports?by=procedure", None),
                            ("/scores", ("admin", "cchc")), ("/audits", ("admin", "cchc", "unit_head")),
                            ("/audits?audit=no-apology", ("admin", "cchc", "unit_head")),
                            ("/audits?audit=no-due", ("admin", "cchc", "unit_head")),
                            ("/audits?audit=beyond-limit&detail=1", ("admin", "cchc", "unit_head"))):
            resp = c.get(path)
            want = 200 if roles is None or role in roles else 403
            assert resp.status_code == want, (persona, lang, path)
            if want == 200:
                assert f'lang="{lang}"' in resp.text
                assert "style=" not in resp.text and "<script" not in resp.text  # CSP: no inline style or script
        nav = c.get("/").text
        assert ('id="nav-scores"' in nav) == (role in ("admin", "cchc"))
        assert ('id="nav-audits"' in nav) == (role in ("admin", "cchc", "unit_head"))
        assert 'id="nav-reports"' in nav


def test_the_chart_draws_one_bar_per_row(client_for):
    page = get_ok(client_for("cchc"), "/reports" + YEAR).text
    svg = page.split('id="rate-chart"')[1].split("</svg>")[0]
    rows = report_table(page)
    assert svg.count("<rect") == len(rows) - 1  # every row but the total
    assert "stroke-dasharray" in svg  # the overall rate
    assert "style=" not in svg
    best = re.search(r"<title>([^<]*)</title>", svg).group(1)  # best first
    rates = [v[11] for k, (_, v) in rows.items() if k != "total-row" and v[11] is not None]
    assert best.endswith(f"{max(rates):.1f}%".replace(".", ","))


# ----- downloads: the table on screen ---------------------------------------------------------------


@pytest.mark.parametrize("persona,query", [
    ("cchc", "?period=q3&year=2026"),
    ("admin", "?period=y&year=2026&by=field"),
    ("head", "?period=y&year=2026&by=procedure"),
    ("reception", "?period=y&year=2026&rollup=1"),
    ("cchc", "?period=q3&year=2026&rollup=1"),
    ("cchc", "?period=range&from=01/10/2026&to=15/10/2026&by=channel&as_of=10/10/2026 12:00"),
])
def test_downloads_hold_the_table_on_screen(client_for, persona, query):
    c = client_for(persona)
    shown = list(report_table(get_ok(c, "/reports" + query).text).values())
    assert len(shown) >= 2

    resp = get_ok(c, "/reports.csv" + query)
    assert resp.data.startswith("\ufeff".encode())
    name = re.search(r"filename=(\S+)", resp.headers["Content-Disposition"]).group(1)
    assert re.fullmatch(r"bao-cao-[a-z-]+-\d{8}-\d{8}\.csv", name)
    rows = list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig"))))[1:]
    assert len(rows) == len(shown)
    for (name_shown, values), row in zip(shown, rows, strict=True):
        assert row[2] == (name_shown if row[0] else "Tổng cộng")
        got = [Decimal(v) if v else None for v in row[3:]]
        assert got[:11] == values[:11] and got[11] == values[11] and got[12] == values[12]

    resp = get_ok(c, "/reports.xlsx" + query)
    assert re.search(r"filename=bao-cao-[a-z-]+-\d{8}-\d{8}\.xlsx$", resp.headers["Content-Disposition"])
    ws = load_workbook(io.BytesIO(resp.data)).active
    for i, (name_shown, values) in enumerate(shown):
        cells = [ws.cell(FIRST_DATA + i, col).value for col in range(2, 15)]
        assert cells[0] == (name_shown if i < len(shown) - 1 else "Tổng cộng")
        assert [Decimal(v) for v in cells[1:12]] == values[:11]
        assert (None if cells[12] is None else Decimal(str(cells[12]))) == values[11]


def test_xlsx_is_the_workbook_tthc_report_writes(client_for, world, tmp_path):
    data = get_ok(client_for("cchc"), "/reports.xlsx?period=q3&year=2026&by=field").data
    engine = make_engine(world["url"])
    try:
        report = period_report(engine, world["settings"], date(2026, 7, 1), date(2026, 9, 30), as_of=NOW, by="field")
    finally:
        engine.dispose()
    from tracker.report_xlsx import FormText

    form = FormText.from_settings(world["settings"], signed_on=NOW.date())  # what `tthc report` writes today
    path = write_report_xlsx(report, tmp_path / "cli.xlsx", form=form)
    web, cli = load_workbook(io.BytesIO(data)).active, load_workbook(path).active
    assert [[c.value for c in r] for r in web.iter_rows()] == [[c.value for c in r] for r in cli.iter_rows()]
    assert sorted(map(str, web.merged_cells.ranges)) == sorted(map(str, cli.merged_cells.ranges))


# ----- scoping -------------------------------------------------------------------------------------


def test_a_unit_head_sees_only_the_subtree_and_the_totals_match(client_for):
    province = report_table(get_ok(client_for("cchc"), "/reports" + YEAR).text)
    head = client_for("head")
    mine = report_table(get_ok(head, "/reports" + YEAR).text)
    assert set(mine) == {DEPT, "total-row"}
    assert mine["total-row"][1][:11] == mine[DEPT][1][:11] == province[DEPT][1][:11]
    for by in ("field", "procedure", "channel", "level"):  # counted over the head's units in SQL
        rows = report_table(get_ok(head, f"/reports{YEAR}&by={by}").text)
        assert rows["total-row"][1][:11] == province[DEPT][1][:11], by
        sums = [sum(v[1][i] for k, v in rows.items() if k != "total-row") for i in range(11)]
        assert sums == rows["total-row"][1][:11], by


def test_a_reception_desk_sees_its_units(client_for):
    province = report_table(get_ok(client_for("cchc"), "/reports" + YEAR).text)
    desk = client_for("reception")
    for query in ("", "&rollup=1"):
        mine = report_table(get_ok(desk, "/reports" + YEAR + query).text)
        assert set(mine) - {"total-row"} == set(DESK)  # the communes' parent is not shown, even rolled up
        want = [sum(province[u][1][i] for u in DESK) for i in range(11)]
        assert mine["total-row"][1][:11] == want
    csv_rows = list(csv.reader(io.StringIO(get_ok(desk, "/reports.csv" + YEAR).data.decode("utf-8-sig"))))[1:]
    assert {r[1] for r in csv_rows} == {*DESK, "total"}


def test_nobody_sees_an_empty_report(client_for):
    page = get_ok(client_for("nobody"), "/reports" + YEAR).text
    assert report_table(page)["total-row"][1][0] == 0 and "/unit/" not in page.split('id="report-table"')[1]


def test_another_units_code_in_the_url_is_a_404(client_for):
    head = client_for("head")
    for path in ("/reports", "/reports.csv", "/reports.xlsx", "/audits", "/audits.csv"):
        assert head.get(f"{path}?unit={DESK[0]}").status_code == 404, path
        assert head.get(f"{path}?unit=NO-SUCH-UNIT").status_code == 404, path
        assert head.get(f"{path}?unit={DEPT}").status_code == 200, path
    assert client_for("reception").get(f"/reports?unit={DEPT}").status_code == 404
    cchc = report_table(get_ok(client_for("cchc"), f"/reports{YEAR}&unit={DESK[0]}").text)
    assert set(cchc) == {DESK[0], "total-row"}


def test_audits_are_scoped_to_the_unit_head(client_for):
    head = client_for("head")
    for audit in ("no-apology", "no-due", "beyond-limit"):
        page = get_ok(head, f"/audits{YEAR}&audit={audit}&detail=1").text
        codes = re.findall(r'href="/dossier/([^"]+)"', page)
        assert all(code.startswith(DEPT + "-") for code in codes), (audit, codes)
        rows = list(csv.reader(io.StringIO(
            get_ok(head, f"/audits.csv{YEAR}&audit={audit}&detail=1").data.decode("utf-8-sig"))))[1:]
        assert all(r[1] == DEPT for r in rows), audit
    everything = get_ok(client_for("cchc"), f"/audits{YEAR}&audit=no-apology").text
    assert any(not code.startswith(DEPT + "-") for code in re.findall(r'href="/dossier/([^"]+)"', everything))


# ----- audits -------------------------------------------------------------------------------------


def test_an_audit_is_listed_page_by_page_and_exported_whole(client_for, world):
    engine = make_engine(world["url"])
    try:
        want = no_apology(engine, world["settings"], NOW, date(2026, 1, 1), date(2026, 11, 20))
    finally:
        engine.dispose()
    assert len(want) > 50  # more than one page
    c = client_for("cchc")
    first = get_ok(c, f"/audits{YEAR}&audit=no-apology").text
    assert f'id="audit-count">{len(want)} dòng' in first
    assert f"{len(want)} hồ sơ" in first.split('id="tab-no-apology"')[1].split("</a>")[0]
    pages, codes = -(-len(want) // 50), []
    for n in range(1, pages + 1):
        page = get_ok(c, f"/audits{YEAR}&audit=no-apology&page={n}").text
        codes += re.findall(r'href="/dossier/([^"]+)"', page)
    assert codes == [r["code"] for r in want]
    assert c.get(f"/dossier/{codes[0]}").status_code == 200
    resp = get_ok(c, f"/audits.csv{YEAR}&audit=no-apology")
    assert re.search(r"filename=kiem-tra-qua-han-khong-xin-loi-20260101-20261120\.csv$",
                     resp.headers["Content-Disposition"])
    rows = list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig"))))
    assert rows[0][0] == "Mã hồ sơ" and [r[0] for r in rows[1:]] == codes


def test_beyond_limit_summary_and_detail(client_for):
    c = client_for("admin")
    summary = table(get_ok(c, f"/audits{YEAR}&audit=beyond-limit").text, "audit-table", keyed=False)
    detail = get_ok(c, f"/audits{YEAR}&audit=beyond-limit&detail=1").text
    codes = re.findall(r'href="/dossier/([^"]+)"', detail)
    headers = summary[0][1]
    rows = [cells for _, cells in summary[1:]]
    assert rows and "Số hồ sơ hẹn vượt" in headers
    beyond = sum(int(vi_value(r[headers.index("Số hồ sơ hẹn vượt")])) for r in rows)
    assert beyond == len(codes) > 0
    tab = detail.split('id="tab-beyond-limit"')[1].split("</a>")[0]
    assert f"{beyond} hồ sơ" in tab


# ----- scores -------------------------------------------------------------------------------------


def test_scores_show_the_766_with_its_inputs(client_for, world):
    from tracker.scoring import score

    engine = make_engine(world["url"])
    try:
        lines = score(engine, world["settings"], date(2026, 1, 1), date(2026, 11, 20), NOW)
    finally:
        engine.dispose()
    page = get_ok(client_for("cchc"), "/scores" + YEAR).text
    overall = lines[0]
    assert re.search(r'id="score-overall">([^<]*)<', page).group(1) == f"{overall.points:.2f}".replace(".", ",")
    assert f"{overall.numerator:,} / {overall.denominator:,} hồ sơ".replace(",", ".") in page
    units = {key: cells for key, cells in table(page, "units-766")}
    assert len(units) == len(lines) - 1
    for ln in lines[1:]:
        cells = units[ln.scope]
        assert [vi_value(v) for v in cells[1:5]] == [ln.numerator, ln.denominator, ln.value, ln.points], ln.scope
    assert 'id="no-rules"' in page and "Chưa có quy tắc chấm điểm Chỉ số CCHC nào" in page
    assert "scoring.rules" not in page  # the officer is not told setting names
    assert 'href="/admin#settings"' not in page  # not the officer's page
    assert 'href="/admin#settings"' in get_ok(client_for("admin"), "/scores" + YEAR).text
    points = [vi_value(cells[4]) for _, cells in table(page, "units-766")]
    assert points == sorted(points, key=lambda p: -(p or 0))  # ranked by score


def test_scores_with_rules_show_each_rule_and_its_inputs(world, tmp_path):
    from tracker.config import load_settings
    from tracker.scoring import score
    from web import create_app

    rules = [
        {"name": "Đơn vị cấp xã đúng hạn 100%", "metric": "share_units_full_on_time", "level": "xa",
         "max_points": 1.0, "bands": [[100, 1.0], [80, 0.5], [0, 0]]},
        {"name": "Tỷ lệ đúng hạn toàn tỉnh", "metric": "overall_on_time_rate", "max_points": 2.0},
        {"name": "=Có phiếu xin lỗi", "metric": "share_late_with_apology", "max_points": 1.0,
         "bands": [[100, 1.0], [0, 0]]},
    ]
    settings = load_settings(env={}, overrides={"database.url": world["url"], "paths.var_dir": str(tmp_path),
                                                "scoring.rules": rules})
    app = create_app(settings, testing=True, now=lambda: NOW)
    try:
        c = app.test_client()
        c.post("/login", data={"username": "cchc", "password": PASSWORD, "csrf_token": csrf(c)})
        page = get_ok(c, "/scores" + YEAR).text
        engine = make_engine(world["url"])
        try:
            want = [ln for ln in score(engine, settings, date(2026, 1, 1), date(2026, 11, 20), NOW,
                                       settings.get("scoring.rules")) if ln.metric != "766_progress"]
        finally:
            engine.dispose()
        shown = [cells for _, cells in table(page, "rules-table", keyed=False)]
        assert [r[0] for r in shown[1:]] == [r["name"] for r in rules]
        for cells, ln in zip(shown[1:], want, strict=True):
            assert [vi_value(v) for v in cells[3:6]] == [ln.numerator, ln.denominator, ln.value]
            assert vi_value(cells[7]) == ln.points and vi_value(cells[8]) == ln.max_points
        assert "tỷ lệ thuận với giá trị" in shown[2][6]  # no bands: proportional
        assert 'id="no-rules"' not in page
        lines = list(csv.reader(io.StringIO(get_ok(c, "/scores.csv" + YEAR).data.decode("utf-8-sig"))))
        assert [ln[0] for ln in lines[2:5]] == [rules[0]["name"], rules[1]["name"], "'=Có phiếu xin lỗi"]
    finally:
        app.extensions["tthc_engine"].dispose()


# ----- both databases: hostile names, scoping in SQL, a new import seen ---------------------------


BAD_UNIT = "<script>alert(1)</script> UBND xã Hữu Nghị"
FORMULA_UNIT = '=HYPERLINK("http://evil.example","Bấm")'
B_NOW = datetime(2026, 3, 10, 9, 0)


def _row(n: int, unit: str, due: str, procedure: tuple[str, str] = ("1.1", "Đăng ký khai sinh")) -> list[str]:
    return [str(n), f"HS-{n}", *procedure, "Hộ tịch", unit, "Trần Thị B", "0912000000", "Trực tiếp",
            "02/03/2026 08:00:00", due, "", "", "Đang xử lý", "3 ngày làm việc"]


def test_names_escaped_neutralised_and_scoped_on_both_databases(settings, engine, no_users, tmp_path):
    from tracker.ingest import import_file
    from web import create_app

    path = write_export(tmp_path / "a.csv", [
        _row(1, BAD_UNIT, "05/03/2026 08:00:00"), _row(2, BAD_UNIT, "20/03/2026 08:00:00"),
        _row(3, FORMULA_UNIT, ""), _row(4, FORMULA_UNIT, "04/03/2026 08:00:00", ("1.2", "=cmd|' /C calc'!A0")),
    ])
    assert import_file(engine, settings, path, source="test").status == "done"
    with engine.connect() as conn:
        codes = {name: code for code, name in conn.execute(select(Unit.code, Unit.name))}
    create_user(engine, "cchc", "cchc", PASSWORD)
    create_user(engine, "head", "unit_head", PASSWORD, unit_codes=[codes[BAD_UNIT]])
    app = create_app(settings, testing=True, now=lambda: B_NOW)
    try:
        cchc, head = app.test_client(), app.test_client()
        for c, who in ((cchc, "cchc"), (head, "head")):
            c.post("/login", data={"username": who, "password": PASSWORD, "csrf_token": csrf(c)})

        page = get_ok(cchc, "/reports").text
        assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        rows = report_table(page)
        assert rows["total-row"][1][0] == 4 and rows[codes[BAD_UNIT]][1][10] == 1  # HS-1 overdue

        report_csv = get_ok(cchc, "/reports.csv").data.decode("utf-8-sig")
        cells = [cell for row in csv.reader(io.StringIO(report_csv)) for cell in row]
        assert "'" + FORMULA_UNIT in cells and not any(cell.startswith(("=", "+", "@")) for cell in cells)
        ws = load_workbook(io.BytesIO(get_ok(cchc, "/reports.xlsx").data)).active
        values = [c for row in ws.iter_rows() for c in row if c.value is not None]
        assert "'" + FORMULA_UNIT in [c.value for c in values] and not any(c.data_type == "f" for c in values)
        by_procedure = get_ok(cchc, "/reports.csv?by=procedure").data.decode("utf-8-sig")
        assert "'=cmd|' /C calc'!A0" in by_procedure

        for audit in ("no-due", "beyond-limit", "no-apology"):
            audit_csv = get_ok(cchc, f"/audits.csv?audit={audit}&detail=1").data.decode("utf-8-sig")
            cells = [cell for row in csv.reader(io.StringIO(audit_csv)) for cell in row]
            assert not any(cell.startswith(("=", "+", "@")) for cell in cells), audit
        no_due = list(csv.reader(io.StringIO(get_ok(cchc, "/audits.csv?audit=no-due").data.decode("utf-8-sig"))))
        assert no_due[1][:3] == ["HS-3", codes[FORMULA_UNIT], "'" + FORMULA_UNIT]
        audits_page = get_ok(cchc, "/audits?audit=no-due").text
        assert 'href="/dossier/HS-3"' in audits_page and "<script>alert" not in audits_page

        for by in ("unit", "procedure", "field", "channel", "level"):  # the head's unit only, in SQL
            mine = report_table(get_ok(head, f"/reports?by={by}").text)
            assert mine["total-row"][1][0] == 2, by
        assert "HS-3" not in get_ok(head, "/audits?audit=no-due").text
        assert head.get(f"/reports?unit={codes[FORMULA_UNIT]}").status_code == 404

        more = write_export(tmp_path / "b.csv", [_row(5, BAD_UNIT, "12/03/2026 08:00:00")])
        assert import_file(engine, settings, more, source="test").status == "done"
        assert report_table(get_ok(head, "/reports").text)["total-row"][1][0] == 3  # the cache saw the import
    finally:
        app.extensions["tthc_engine"].dispose()


@pytest.mark.parametrize("path", ["/reports", "/scores", "/audits"])
def test_early_in_a_month_the_pages_open_on_the_last_complete_month(world, tmp_path, path):
    """On 5 November the month is five days old: October is shown, said so, one click to November."""
    from datetime import datetime as dt

    from web import create_app

    settings = world["settings"]
    app = create_app(settings, testing=True, now=lambda: dt(2026, 11, 5, 9, 0))
    try:
        c = app.test_client()
        c.post("/login", data={"username": "cchc", "password": PASSWORD, "csrf_token": csrf(c)})
        page = get_ok(c, path).text
        assert 'id="last-month-note"' in page and "01/10/2026" in page and "31/10/2026" in page
        link = re.search(r'id="last-month-note">.*?href="([^"]+)"', page, re.S).group(1).replace("&amp;", "&")
        month = get_ok(c, link).text
        assert "01/11/2026" in month and 'id="last-month-note"' not in month
        assert 'id="last-month-note"' not in get_ok(c, path + "?period=m11&year=2026").text
    finally:
        app.extensions["tthc_engine"].dispose()
    later = create_app(settings, testing=True, now=lambda: NOW)  # the 20th: the month to date
    try:
        c = later.test_client()
        c.post("/login", data={"username": "cchc", "password": PASSWORD, "csrf_token": csrf(c)})
        assert 'id="last-month-note"' not in get_ok(c, path).text
    finally:
        later.extensions["tthc_engine"].dispose()


def test_audits_open_on_the_first_list_with_rows(client_for):
    c = client_for("head")
    order = ["beyond-limit", "no-apology", "no-due"]
    opened = []
    for month in range(1, 12):
        page = c.get(f"/audits?period=m{month}&year=2026").text
        current = re.search(r'class=current aria-current=page id="tab-([a-z-]+)"', page).group(1)
        counts = {k: int(v.replace(".", "")) for k, v in
                  re.findall(r'id="tab-([a-z-]+)">[^<]*<span class="count">([\d.]+) hồ sơ', page)}
        first = next((a for a in order if counts[a]), order[0])
        assert current == first, (month, counts)
        opened.append(current)
    assert set(opened) - {"beyond-limit"}  # some month opened past an empty first list
