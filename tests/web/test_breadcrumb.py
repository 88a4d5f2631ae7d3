"""The dossier page's breadcrumb names only units in the user's scope (issue 12 item 10): a unit head
of a department does not see the province above it, by name or by link; a desk sees its commune only."""

from __future__ import annotations

import re

from tests.web.conftest import DEPT, DESK, ROOT_CODE


def crumbs(html: str) -> list[str]:
    block = re.search(r'<p class="crumbs">(.*?)</p>', html, re.S).group(1)
    return re.findall(r'href="/unit/([^"]+)"', block)


def test_the_breadcrumb_stays_in_scope(client_for, world):
    from sqlalchemy import select

    from tracker.db import make_engine
    from tracker.models import Unit

    engine = make_engine(world["url"])
    with engine.connect() as conn:
        tree_names = dict(conn.execute(select(Unit.code, Unit.name)).all())
    engine.dispose()
    code = world["dossier_of_unit"][DEPT]
    page = client_for("head").get(f"/dossier/{code}").text
    assert crumbs(page) == [DEPT]
    assert tree_names[ROOT_CODE] not in page.split('<p class="crumbs">')[1].split("</p>")[0]
    assert crumbs(client_for("province_head").get(f"/dossier/{code}").text) == [ROOT_CODE, DEPT]
    assert crumbs(client_for("cchc").get(f"/dossier/{code}").text) == [ROOT_CODE, DEPT]
    desk_code = world["dossier_of_unit"][DESK[0]]
    assert crumbs(client_for("reception").get(f"/dossier/{desk_code}").text) == [DESK[0]]
