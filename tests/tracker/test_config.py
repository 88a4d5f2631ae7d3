"""Settings: one declaration each, TOML then environment, errors that name key and value."""

from __future__ import annotations

import re
import tomllib
from datetime import date, time
from pathlib import Path

import pytest

from tracker.config import SETTINGS, ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_match_the_rules_brief():
    s = load_settings(env={})
    assert s.get("rules.comparison") == "date"
    assert s.get("rules.same_day_cutoff") == time(15, 0)
    assert s.get("rules.at_risk_hours") == 8
    assert s.get("rules.online_last_hour_next_day") is False
    assert [str(x) for x in s.get("calendar.sessions")] == ["07:00-11:30", "13:30-17:00"]
    assert s.get("calendar.culture_day") is True
    assert s.work_calendar().day_hours == 8


def test_file_then_environment(tmp_path):
    cfg = tmp_path / "t.toml"
    cfg.write_text('[rules]\ncomparison = "datetime"\nat_risk_hours = 4\n'
                   '[calendar]\nextra_holidays = ["2026-12-31: Nghỉ theo QĐ tỉnh"]\n', encoding="utf-8")
    s = load_settings(cfg, env={"TTHC_RULES_AT_RISK_HOURS": "6"})
    assert s.get("rules.comparison") == "datetime"
    assert s.get("rules.at_risk_hours") == 6  # the environment wins
    assert s.get("calendar.extra_holidays") == {date(2026, 12, 31): "Nghỉ theo QĐ tỉnh"}
    assert not s.work_calendar().is_working_day(date(2026, 12, 31))


def test_config_file_from_env_variable(tmp_path):
    cfg = tmp_path / "t.toml"
    cfg.write_text('[rules]\ncomparison = "datetime"\n', encoding="utf-8")
    assert load_settings(env={"TTHC_CONFIG": str(cfg)}).get("rules.comparison") == "datetime"


@pytest.mark.parametrize("env, message", [
    ({"TTHC_CALENDAR_SESSIONS": "25:00-26:00"}, "calendar.sessions: '25:00-26:00' is not an office session"),
    ({"TTHC_CALENDAR_SESSIONS": "07:00-12:00,11:00-17:00"}, "calendar.sessions: '11:00-17:00' overlaps"),
    ({"TTHC_RULES_COMPARISON": "dates"}, "rules.comparison: 'dates' is not one of date, datetime"),
    ({"TTHC_RULES_SAME_DAY_CUTOFF": "3pm"}, "rules.same_day_cutoff: '3pm' is not a time"),
    ({"TTHC_RULES_AT_RISK_HOURS": "-1"}, "rules.at_risk_hours: '-1' is not a number of hours"),
    ({"TTHC_CALENDAR_CULTURE_DAY": "maybe"}, "calendar.culture_day: 'maybe' is not true or false"),
    ({"TTHC_CALENDAR_EXTRA_HOLIDAYS": "31/12/2026"}, "calendar.extra_holidays: '31/12/2026' is not a date"),
    ({"TTHC_WEB_PORT": "70000"}, "web.port: '70000' is not a whole number from 1 to 65535"),
    ({"TTHC_DATABASE_URL": "var/tthc.db"}, "database.url: 'var/tthc.db' is not a database URL"),
    ({"TTHC_RULES_COMPARSION": "date"},
     "unknown setting 'TTHC_RULES_COMPARSION' (did you mean TTHC_RULES_COMPARISON?)"),
])
def test_bad_values_name_the_key_and_the_value(env, message):
    with pytest.raises(ConfigError) as exc:
        load_settings(env=env)
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)


def test_unknown_key_in_file_is_an_error(tmp_path):
    cfg = tmp_path / "t.toml"
    cfg.write_text('[rules]\ncomparision = "date"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"unknown setting 'rules.comparision' \(did you mean rules.comparison\?\)"):
        load_settings(cfg, env={})


def test_missing_config_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml", env={})


def test_example_file_documents_every_setting_and_is_valid():
    text = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    documented = {f"{section}.{name}" for section, names in data.items() for name in names}
    declared = {s.key for s in SETTINGS}
    assert declared - documented == set(), "settings missing from config.example.toml"
    assert documented - declared == set(), "config.example.toml has settings the code does not know"
    load_settings(ROOT / "config.example.toml", env={})  # and it is valid as shipped
    for s in SETTINGS:  # each has a comment above it
        name = s.key.split(".")[1]
        assert re.search(rf"#[^\n]*\n(#[^\n]*\n)*({name} = |\[\[?{re.escape(s.key)}\]\]?)", text), \
            f"{s.key} has no comment"


def test_fingerprint_changes_with_calendar_and_rules():
    base = load_settings(env={}).fingerprint()
    assert load_settings(env={"TTHC_CALENDAR_CULTURE_DAY": "false"}).fingerprint() != base
    assert load_settings(env={"TTHC_RULES_COMPARISON": "datetime"}).fingerprint() != base
    assert load_settings(env={"TTHC_WEB_PORT": "8000"}).fingerprint() == base
