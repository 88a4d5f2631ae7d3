"""The product documents itself in docs/: a field the importer reads or a class or flag the rules
produce that the docs do not name is a gap a newcomer falls into."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracker.ingest.columns import ALIASES
from tracker.rules import CLASSES, FLAGS

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.mark.parametrize("field", sorted(f for f in ALIASES if not f.startswith("_")))
def test_formats_names_every_field_the_importer_reads(field):
    assert f"`{field}`" in (DOCS / "formats.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", [*CLASSES, *FLAGS])
def test_rules_names_every_class_and_flag(name):
    assert f"`{name}`" in (DOCS / "rules.md").read_text(encoding="utf-8")


def test_architecture_names_only_modules_that_exist():
    """docs/architecture.md is a newcomer's map: every file it points to must be there."""
    import re

    root = DOCS.parent
    text = (DOCS / "architecture.md").read_text(encoding="utf-8")
    paths = set(re.findall(r"`((?:tracker|web|jobs|cli|tests|templates|bench)/[\w/.]*)`", text))
    assert len(paths) > 20
    assert sorted(p for p in paths if not (root / p).exists()) == []
