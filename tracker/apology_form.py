"""Mẫu 04 — "Phiếu xin lỗi và hẹn lại ngày trả kết quả" (Phụ lục I, Thông tư 03/2025/TT-VPCP),
filled in for one dossier, as DOCX (python-docx) and PDF (fpdf2).

The layout keeps the form's parts: the agency and its number ("Số: …/PXL") beside the national
motto and the place and date; the title; "Kính gửi"; the receipt of the dossier (code, procedure,
received and due dates); that the result was not returned on time; "Lý do" (left blank for the
officer); the apology and the new appointment; "Nơi nhận" and the signature of the head of the
agency. The product does not record the apology: the one-stop software stays the record, and
the next import brings the apology date back.

PDF: fpdf2 is pure Python (no system libraries, no browser), embeds a subset of a TrueType font,
and so writes Vietnamese with every mark; the font is DejaVu Serif from Debian's
fonts-dejavu-core (.ci/run installs it when missing). reportlab would do too, but ships C
extensions and needs the same TTF for Vietnamese anyway.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from tracker.calendar import WorkCalendar

TITLE = "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ"
FORM_NAME = "Mẫu 04"
FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/local/share/fonts/truetype/dejavu"))
FONTS = {"": "DejaVuSerif.ttf", "B": "DejaVuSerif-Bold.ttf", "I": "DejaVuSerif-Italic.ttf"}
BLANK = "……………………"


class FormError(RuntimeError):
    """The form cannot be made (e.g. the PDF font is not installed): the message says what to do."""


@dataclass(frozen=True)
class ApologyForm:
    agency: str  # cơ quan chủ trì giải quyết: the dossier's unit
    parent_agency: str  # cơ quan chủ quản: its parent unit, or ""
    applicant: str  # as the reader's role may see it (masked for some roles)
    phone: str
    dossier_code: str
    procedure: str
    received_at: datetime
    due_at: datetime
    new_due: datetime  # proposed new appointment, on the working calendar
    issued: date  # the date on the form
    place: str = ""  # "Sơn Hà, ngày …"

    @property
    def file_stem(self) -> str:
        safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in self.dossier_code)
        return f"mau-04-{safe}"


def propose_new_due(cal: WorkCalendar, due: datetime, now: datetime, days: int) -> datetime:
    """`days` working days after the due, or after now when the due has passed: the end of a working
    day when the due was one, so the new appointment is a whole working day too."""
    base = max(due, now)
    return cal.add_working_seconds(base, days * cal.day_seconds)


def _day(d: date | datetime) -> str:
    return f"ngày {d.day:02d} tháng {d.month:02d} năm {d.year}"


def _dt(t: datetime) -> str:
    return f"{t:%H} giờ {t:%M} phút, {_day(t)}"


def body(form: ApologyForm) -> list[tuple[str, str]]:
    """The form's text below the title as (style, text): 'center-bold', 'center', 'para', 'bold',
    'line' (a line to write on, the text then dots).
    One text for both formats, so DOCX and PDF never disagree."""
    who = form.applicant or BLANK
    return [
        ("center-bold", f"Kính gửi: {who}"),
        ("center", f"(Số điện thoại: {form.phone})" if form.phone else ""),
        ("para", f"Ngày {form.received_at:%d/%m/%Y}, {form.agency} tiếp nhận hồ sơ đề nghị giải quyết thủ tục "
                 f"hành chính “{form.procedure}” của {who}."),
        ("para", f"Mã hồ sơ: {form.dossier_code}."),
        ("para", f"Thời gian tiếp nhận: {_dt(form.received_at)}."),
        ("para", f"Thời gian hẹn trả kết quả: {_dt(form.due_at)}."),
        ("para", f"Tuy nhiên đến nay, {form.agency} chưa trả kết quả giải quyết hồ sơ đúng thời hạn ghi trên "
                 "Giấy tiếp nhận hồ sơ và hẹn trả kết quả."),
        ("line", "Lý do: "),
        ("line", ""),
        ("para", f"Sự chậm trễ này đã gây phiền hà cho {who}. {form.agency} xin lỗi và hẹn lại thời gian trả "
                 "kết quả:"),
        ("bold", f"{_dt(form.new_due).capitalize()}."),
        ("para", "Rất mong nhận được sự thông cảm của Quý ông/bà/tổ chức về sự chậm trễ này."),
    ]


def header(form: ApologyForm) -> tuple[list[str], list[str]]:
    """(left, right) header lines: agency and number; motto, place and date."""
    left = [form.parent_agency.upper()] if form.parent_agency else []
    left += [form.agency.upper(), "", "Số: ……/PXL"]
    place = form.place or "……"
    right = ["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc", "",
             f"{place}, {_day(form.issued)}"]
    return left, right


SIGNATURE = ("THỦ TRƯỞNG CƠ QUAN", "(Ký, ghi rõ họ tên và đóng dấu)")
RECIPIENTS = ("Nơi nhận:", "- Như trên;", "- Bộ phận Một cửa;", "- Lưu: VT.")


# ----- DOCX -------------------------------------------------------------------------------------


def to_docx(form: ApologyForm) -> bytes:
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm, Pt

    doc = Document()
    section = doc.sections[0]
    section.page_height, section.page_width = Cm(29.7), Cm(21.0)
    section.left_margin, section.right_margin = Cm(3.0), Cm(2.0)
    section.top_margin, section.bottom_margin = Cm(2.0), Cm(2.0)
    style = doc.styles["Normal"]
    style.font.name = "Times New Roman"
    style.font.size = Pt(13)
    doc.core_properties.title = f"{FORM_NAME} — {TITLE}"

    def cell_lines(cell, lines: list[str], bold_first: int) -> None:  # noqa: ANN001
        cell.paragraphs[0].text = ""
        for i, text in enumerate(lines):
            p = cell.paragraphs[0] if i == 0 else cell.add_paragraph()
            p.alignment = WD_ALIGN_PARAGRAPH.CENTER
            run = p.add_run(text)
            run.bold = i < bold_first

    left, right = header(form)
    table = doc.add_table(rows=1, cols=2)
    cell_lines(table.rows[0].cells[0], left, len(left) - 2)
    cell_lines(table.rows[0].cells[1], right, 2)
    right_cell = table.rows[0].cells[1]
    right_cell.paragraphs[-1].runs[0].italic = True

    p = doc.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = p.add_run(TITLE)
    run.bold = True
    run.font.size = Pt(14)
    for kind, text in body(form):
        if kind == "line":
            doc.add_paragraph(text + "…" * (60 - len(text)))
            continue
        if not text:
            continue
        p = doc.add_paragraph()
        if kind.startswith("center"):
            p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        else:
            p.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
            p.paragraph_format.first_line_indent = Cm(1.0)
        run = p.add_run(text)
        run.bold = kind.endswith("bold")

    table = doc.add_table(rows=1, cols=2)
    left_cell, sign_cell = table.rows[0].cells
    left_cell.paragraphs[0].text = ""
    for i, text in enumerate(RECIPIENTS):
        p = left_cell.paragraphs[0] if i == 0 else left_cell.add_paragraph()
        run = p.add_run(text)
        run.bold, run.italic = i == 0, i == 0
        run.font.size = Pt(11)
    cell_lines(sign_cell, list(SIGNATURE), 1)
    sign_cell.paragraphs[-1].runs[0].italic = True
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


# ----- PDF --------------------------------------------------------------------------------------


def font_files() -> dict[str, Path]:
    for folder in FONT_DIRS:
        found = {style: folder / name for style, name in FONTS.items()}
        if all(p.is_file() for p in found.values()):
            return found
    raise FormError("the PDF needs the DejaVu Serif fonts: install Debian's fonts-dejavu-core "
                    f"(looked in {', '.join(str(d) for d in FONT_DIRS)})")


def to_pdf(form: ApologyForm) -> bytes:
    from fpdf import FPDF

    pdf = FPDF(format="A4", unit="mm")
    pdf.set_margins(30, 20, 20)
    pdf.set_auto_page_break(True, margin=20)
    for style, path in font_files().items():
        pdf.add_font("DejaVuSerif", style, str(path))
    pdf.set_title(f"{FORM_NAME} — {TITLE}")
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin
    half = width / 2
    narrow = width * 0.42
    left, right = header(form)
    top = pdf.get_y()

    def column(lines: list[str], x: float, w: float, bold: int, italic_last: bool) -> float:
        pdf.set_xy(x, top)
        for i, text in enumerate(lines):
            style = "B" if i < bold else ("I" if italic_last and i == len(lines) - 1 else "")
            pdf.set_font("DejaVuSerif", style, 10)
            pdf.set_x(x)
            pdf.multi_cell(w, 5.5, text or " ", align="C", new_x="LMARGIN", new_y="NEXT")
        return pdf.get_y()

    bottom = max(column(left, pdf.l_margin, narrow, len(left) - 2, False),
                 column(right, pdf.l_margin + narrow, width - narrow, 2, True))
    pdf.set_y(bottom + 6)
    pdf.set_font("DejaVuSerif", "B", 13)
    pdf.multi_cell(width, 7, TITLE, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    for kind, text in body(form):
        pdf.set_font("DejaVuSerif", "B" if kind.endswith("bold") else "", 11.5)
        if kind == "line":
            room = width - 2 * pdf.c_margin - pdf.get_string_width(text)
            dots = "." * (int(room / pdf.get_string_width(".")) - 1)
            pdf.multi_cell(width, 6.5, text + dots, align="L", new_x="LMARGIN", new_y="NEXT")
            continue
        if not text:
            continue
        align = "C" if kind.startswith("center") else "J"
        indent = "" if kind.startswith("center") else "    "
        pdf.multi_cell(width, 6.5, indent + text, align=align, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)
    pdf.ln(4)
    top = pdf.get_y()
    pdf.set_xy(pdf.l_margin, top)
    for i, text in enumerate(RECIPIENTS):
        pdf.set_font("DejaVuSerif", "B" if i == 0 else "", 10 if i == 0 else 9.5)
        pdf.set_x(pdf.l_margin)
        pdf.multi_cell(half, 5, text, new_x="LMARGIN", new_y="NEXT")
    pdf.set_xy(pdf.l_margin + half, top)
    pdf.set_font("DejaVuSerif", "B", 11)
    pdf.multi_cell(half, 6, SIGNATURE[0], align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_x(pdf.l_margin + half)
    pdf.set_font("DejaVuSerif", "I", 10)
    pdf.multi_cell(half, 6, SIGNATURE[1], align="C", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
