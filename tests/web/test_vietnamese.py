"""No raw codes or English in the Vietnamese interface (issue 14)."""

from __future__ import annotations

import re


def test_no_raw_codes_in_the_vietnamese_pages(client_for):
    c = client_for("admin")
    admin = c.get("/admin").text
    users = re.search(r'id="users-table">(.*?)</table>', admin, re.S).group(1)
    assert "000.11.40.H48" not in users and "UBND phường" in users  # unit names, not codes
    units = re.search(r'id="units-table">(.*?)</table>', admin, re.S).group(1)
    assert "<td>tinh</td>" not in units and "<td>Cấp tỉnh</td>" in units and "<td>Cấp xã</td>" in units
    imports = c.get("/imports").text
    assert not re.search(r"<td>(partial|done|failed)</td>", imports)
    assert "<td>Có dòng bị loại</td>" in imports  # the demo export has bad rows on purpose
