"""The settings checked whole at start-up: `check_settings(load_settings(...))`, by the command line
and the dashboard before they do anything else.

tracker.config checks every value as plain data. The values the domain builds richer objects from
are checked here by building them once, so a bad import source, scoring rule or header mapping is
refused at start-up, naming the key and where the value came from, e.g.
    import.sources[0] ('igate'): url 'ftp://x' is not http(s) (environment TTHC_IMPORT_SOURCES)
"""

from __future__ import annotations

from tracker.config import Settings
from tracker.ingest.columns import parse_mapping
from tracker.ingest.sources import source_specs
from tracker.scoring import scoring_rules

BUILT = (
    ("import.sources", source_specs),
    ("import.mapping", lambda settings: settings.derived(parse_mapping, "import.mapping")),
    ("scoring.rules", scoring_rules),
)


def check_settings(settings: Settings) -> Settings:
    """`settings`, once everything built from them could be built; else the ConfigError of the first
    value that could not."""
    for key, build in BUILT:
        try:
            build(settings)
        except ValueError as exc:
            raise settings.refusal(key, exc) from None
    return settings
