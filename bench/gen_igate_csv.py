"""Generate an iGate-style CSV export of N dossiers, fast, for the import benchmark.

    .venv/bin/python bench/gen_igate_csv.py 1000000 bench/out/igate-1m.csv

The columns and value shapes are those of a real iGate list export (FORMATS.md §1): Vietnamese
labels, `;` separated, UTF-8 with BOM, dates dd/MM/yyyy HH:mm:ss, status and channel as words.
"""

from __future__ import annotations

import csv
import random
import sys
from datetime import datetime, timedelta
from pathlib import Path

HEADER = ["STT", "Mã hồ sơ", "Mã TTHC", "Tên thủ tục hành chính", "Lĩnh vực", "Đơn vị tiếp nhận",
          "Chủ hồ sơ", "Số điện thoại", "Kênh nộp", "Ngày tiếp nhận", "Ngày hẹn trả",
          "Ngày kết thúc xử lý", "Ngày trả kết quả", "Trạng thái"]
UNITS = [f"UBND xã Số {i}" for i in range(1, 31)] + [f"Sở Ngành {i}" for i in range(1, 16)]
PROCS = [(f"1.00{i:04d}", f"Thủ tục số {i}", f"Lĩnh vực {i % 12}") for i in range(60)]
STATUS = ["Đang xử lý", "Đã xử lý xong", "Đã trả kết quả", "Đã trả kết quả", "Đã trả kết quả",
          "Yêu cầu bổ sung"]
CHANNEL = ["Trực tiếp", "Trực tuyến", "Trực tuyến", "Bưu chính công ích"]
F = "%d/%m/%Y %H:%M:%S"


def generate(n: int, path: Path, seed: int = 7) -> Path:
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    start = datetime(2025, 1, 2, 7, 0)
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh, delimiter=";", lineterminator="\r\n")
        w.writerow(HEADER)
        for i in range(n):
            received = start + timedelta(minutes=(i * 37) % (600 * 24 * 60))
            due = received + timedelta(days=rng.choice((1, 3, 5, 7, 15)))
            status = rng.choice(STATUS)
            finished = returned = ""
            if status.startswith("Đã"):
                fin = received + timedelta(hours=rng.randrange(1, 400))
                finished = fin.strftime(F)
                returned = (fin + timedelta(hours=2)).strftime(F) if status == "Đã trả kết quả" else ""
            code, name, field = PROCS[i % len(PROCS)]
            w.writerow([i + 1, f"H48.{i:08d}", code, name, field, UNITS[i % len(UNITS)],
                        f"Nguyễn Văn {i % 997}", f"09{i % 100000000:08d}", CHANNEL[i % 4],
                        received.strftime(F), due.strftime(F), finished, returned, status])
    return path


LIMITS = ["3 ngày làm việc", "5 ngày làm việc", "10 ngày làm việc", "15 ngày", "Trong ngày", "8 giờ làm việc",
          "0,5 ngày"]


def write_procedures(path: Path) -> Path:
    """The procedures catalogue of the generated exports, with legal time limits: imported first,
    it has the import compute every dossier's due date on the working calendar."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Mã TTHC", "Tên thủ tục", "Lĩnh vực", "Thời hạn giải quyết"])
        for i, (code, name, field) in enumerate(PROCS):
            w.writerow([code, name, field, LIMITS[i % len(LIMITS)]])
    return path


if __name__ == "__main__":
    generate(int(sys.argv[1]), Path(sys.argv[2]))
