"""Settings are plain values; the domain builds its objects from them, and start-up checks those."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tracker.config import ConfigError, load_settings
from tracker.ingest.sources import source_specs
from tracker.scoring import scoring_rules
from tracker.settings_check import check_settings

FOLDER = {"name": "motcua", "kind": "folder", "path": "/tmp/drop"}


def test_loading_settings_imports_nothing_that_builds_from_them():
    code = ("import sys; from tracker.config import load_settings; load_settings(env={}); "
            "print(sorted(m for m in sys.modules if m.startswith(('tracker.ingest', 'tracker.scoring', "
            "'tracker.reports'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_settings_hold_plain_tables_and_the_domain_builds_once_per_value():
    settings = load_settings(env={}, overrides={"import.sources": [FOLDER]})
    assert settings.get("import.sources") == [FOLDER]  # as written
    [spec] = source_specs(settings)
    assert (spec.name, spec.kind, spec.every_minutes) == ("motcua", "folder", 15)
    assert source_specs(settings) is source_specs(settings)
    assert settings.work_calendar() is settings.work_calendar()
    assert settings.rule_settings() is settings.rule_settings()
    assert scoring_rules(settings) == []


def test_entered_days_give_a_new_calendar_and_fingerprint_equal_days_do_not():
    from datetime import date

    settings = load_settings(env={})
    cal, fp = settings.work_calendar(), settings.fingerprint()
    settings.set_calendar_days({})
    assert settings.work_calendar() is cal
    settings.set_calendar_days({date(2027, 1, 4): ("off", "Nghỉ theo quyết định (TB 1/TB)")})
    assert settings.work_calendar() is not cal and not settings.work_calendar().is_working_day(date(2027, 1, 4))
    assert settings.fingerprint() != fp


@pytest.mark.parametrize("env, message", [
    ({"TTHC_IMPORT_SOURCES": json.dumps([{**FOLDER, "kind": "ftp"}])},
     "import.sources[0] ('motcua'): kind 'ftp' is not 'folder' or 'url' (environment TTHC_IMPORT_SOURCES)"),
    ({"TTHC_IMPORT_SOURCES": "[{"},
     "import.sources: is not a list of [[import.sources]] tables (in the environment: a JSON array of objects) "
     "(environment TTHC_IMPORT_SOURCES)"),
    ({"TTHC_SCORING_RULES": json.dumps([{"name": "r", "metric": "speed", "max_points": 1}])},
     "scoring.rules: rule 1 ('r'): metric: 'speed' is not one of share_units_full_on_time, overall_on_time_rate, "
     "share_late_with_apology (environment TTHC_SCORING_RULES)"),
])
def test_start_up_refuses_what_the_domain_cannot_build_naming_key_and_origin(env, message):
    with pytest.raises(ConfigError) as exc:
        check_settings(load_settings(env=env))
    assert str(exc.value) == message


def test_start_up_refuses_a_mapping_to_no_dossier_field(tmp_path):
    cfg = tmp_path / "t.toml"
    cfg.write_text('[import.mapping]\n"Ngày hẹn" = "due"\n', encoding="utf-8")
    settings = load_settings(cfg, env={})
    assert settings.get("import.mapping") == {"Ngày hẹn": "due"}
    with pytest.raises(ConfigError, match=rf"^import.mapping: 'Ngày hẹn' = 'due': 'due' is not a dossier field "
                                          rf"\(one of code, .*\) \({cfg}\)$"):
        check_settings(settings)
