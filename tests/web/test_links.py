"""Each persona is shown only the links it may open: no page links to one that answers 403
(issue 14: the desk saw "Kiểm tra" on the report page and got a 403)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from tests.web.conftest import PERSONAS
from web.access import PAGE_ROLES, may_open

START = ("/", "/overdue", "/units", "/reports", "/scores", "/audits", "/imports", "/calendar", "/admin")
HREF = re.compile(r'href="(/[^"]*)"')


@pytest.mark.parametrize("persona", sorted(PERSONAS))
def test_no_page_links_to_a_forbidden_page(client_for, persona):
    c = client_for(persona)
    checked: dict[str, int] = {}
    for start in START:
        resp = c.get(start)
        if resp.status_code != 200:
            continue
        for href in HREF.findall(resp.text):
            path = urlsplit(href.replace("&amp;", "&")).path
            if path.startswith("/static/") or path in checked:
                continue
            checked[path] = c.get(href.replace("&amp;", "&")).status_code
    forbidden = {p: s for p, s in checked.items() if s == 403}
    assert not forbidden, (persona, forbidden)
    assert len(checked) >= 5


def test_the_table_matches_the_roles_each_page_was_built_for():
    assert may_open("reports.audits", "reception") is False
    assert may_open("reports.audits", "unit_head") is True
    assert may_open("reports.scores", "unit_head") is False
    assert may_open("admin.user_edit", "cchc") is False and may_open("admin.index", "admin") is True
    assert may_open("views.overdue", "reception") is True  # not listed: every role
    assert set(PAGE_ROLES["views.imports"]) == {"admin", "cchc"}
