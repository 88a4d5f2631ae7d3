"""Vietnamese alphabetical order wherever names are sorted (issue 14)."""

from __future__ import annotations

from tracker.collation import name_key

VIETNAMESE_ORDER = ["UBND phường An Bình", "UBND phường Anh Dũng", "UBND phường Ân Thi", "UBND xã Dương Minh",
                    "UBND xã Đông Hòa", "UBND xã Tân Lập", "UBND xã Thượng Hiền", "UBND xã Ứng Hòa",
                    "UBND xã Yên Lạc"]


def test_names_sort_in_the_vietnamese_alphabet():
    shuffled = sorted(VIETNAMESE_ORDER, key=lambda s: s[::-1])
    assert sorted(shuffled, key=name_key) == VIETNAMESE_ORDER
    assert sorted(["Đà", "Da", "Dz", "Ea"], key=name_key) == ["Da", "Dz", "Đà", "Ea"]  # Đ after D, not after Y
    assert sorted(["Thượng", "Tân"], key=name_key) == ["Tân", "Thượng"]
    assert sorted(["Bảo", "bao", "Bạo", "Bao"], key=name_key)[:2] == ["bao", "Bao"]  # tone after the letter


def test_units_are_listed_in_that_order():
    from tracker.units import UnitNode, UnitTree

    names = ["Sở Y tế", "Sở Đầu tư", "Sở Du lịch", "Sở Tư pháp", "Sở Tài chính"]
    tree = UnitTree([UnitNode(i, f"U{i}", n, None, "tinh") for i, n in enumerate(names)])
    assert [u.name for u, _ in tree.ordered()] == ["Sở Du lịch", "Sở Đầu tư", "Sở Tài chính", "Sở Tư pháp", "Sở Y tế"]

