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
