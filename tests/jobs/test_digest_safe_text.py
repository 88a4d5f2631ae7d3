"""A unit name carrying an ESC sequence or a bidi override reaches no digest subject or body
(tracker.display, issue 12)."""

from __future__ import annotations

from sqlalchemy import update

from jobs.digest import build_digests
from tests.jobs.conftest import DIGEST_DAY, make_settings
from tracker.models import Unit


def test_digest_subjects_and_bodies_carry_no_controls_or_overrides(province, db_url, tmp_path):
    with province.begin() as conn:
        conn.execute(update(Unit).where(Unit.code == "SXD").values(name="Sở\x1b]0;x\x07 Xây\u202e dựng\n"))
    run = build_digests(province, make_settings(db_url, tmp_path), DIGEST_DAY)
    sxd = next(d for d in run.digests if d.scope == "SXD")
    assert sxd.rendered.subject.startswith("[TTHC] Sở]0;x Xây dựng — ")
    for part in (sxd.rendered.subject, sxd.rendered.text, sxd.rendered.html):
        assert "\x1b" not in part and "\u202e" not in part and "\x07" not in part
