"""Settings: declared once, read from a TOML file and then from TTHC_* environment variables.

Where the file comes from: `--config PATH`, else $TTHC_CONFIG, else ./tthc.toml if present.
Environment variables win over the file: `calendar.sessions` is TTHC_CALENDAR_SESSIONS.
Lists in the environment are comma-separated; booleans are true/false/1/0/yes/no.

Every setting is validated at start-up; an error names the key and the bad value, e.g.
    calendar.sessions: '25:00-26:00' is not an office session: expected 'HH:MM-HH:MM'

Settings are plain values. What the domain builds from them it builds itself, once per value of
the settings (`Settings.derived`): the calendar and the rule settings here, import sources in
tracker.ingest.sources, scoring rules in tracker.scoring, the header mapping in
tracker.ingest.columns; tracker.settings_check builds those at start-up, so a bad one is refused
there too. This module imports none of them.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import os
import re
import socket
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, time
from email.utils import parseaddr
from pathlib import Path
from typing import Any, TypeVar

from tracker.calendar import CalendarError, Session, WorkCalendar, parse_session
from tracker.rules import RuleSettings

ENV_PREFIX = "TTHC_"
ENV_NOT_SETTINGS = {"TTHC_CONFIG"}
T = TypeVar("T")


class ConfigError(ValueError):
    """A setting that cannot be used. The message names the key and the value."""


@dataclass(frozen=True)
class Setting:
    key: str  # section.name
    default: Any
    help: str
    parse: Callable[[Any], Any]
    secret: bool = False

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.key.replace(".", "_").upper()


# ----- value parsers: each takes a TOML value or an environment string ----------------------------


def _str(v: Any) -> str:
    if not isinstance(v, str):
        raise ValueError(f"'{v}' is not text")
    return v


def _bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if isinstance(v, str) and v.strip().lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"'{v}' is not true or false")


def _int_range(lo: int, hi: int) -> Callable[[Any], int]:
    def parse(v: Any) -> int:
        try:
            n = int(v) if not isinstance(v, bool) else None
        except (TypeError, ValueError):
            n = None
        if n is None or not lo <= n <= hi or (isinstance(v, float) and v != n):
            raise ValueError(f"'{v}' is not a whole number from {lo} to {hi}")
        return n

    return parse


def _hours(v: Any) -> float:
    try:
        h = float(str(v).replace(",", ".")) if not isinstance(v, bool) else -1
    except ValueError:
        h = -1
    if not 0 <= h <= 240:
        raise ValueError(f"'{v}' is not a number of hours from 0 to 240")
    return h


def _time(v: Any) -> time:
    if isinstance(v, time):
        return v
    try:
        return time.fromisoformat(str(v).strip())
    except ValueError:
        raise ValueError(f"'{v}' is not a time: expected HH:MM") from None


def _choice(*options: str) -> Callable[[Any], str]:
    def parse(v: Any) -> str:
        if v not in options:
            raise ValueError(f"'{v}' is not one of {', '.join(options)}")
        return v

    return parse


def _list(v: Any) -> list:
    if isinstance(v, str):
        return [p.strip() for p in v.split(",") if p.strip()]
    if isinstance(v, list):
        return v
    raise ValueError(f"'{v}' is not a list")


def _sessions(v: Any) -> tuple[Session, ...]:
    sessions = tuple(parse_session(str(s)) for s in _list(v))
    WorkCalendar(sessions=sessions)  # raises CalendarError on overlaps and empty lists
    return sessions


def _dated(v: Any) -> dict[date, str]:
    """['2026-12-31: Nghỉ theo quyết định của UBND tỉnh', '2027-01-02'] -> {date: reason}."""
    out: dict[date, str] = {}
    for item in _list(v):
        if isinstance(item, date):
            out[item] = ""
            continue
        text = str(item).strip()
        day, _, reason = text.partition(":") if ":" in text[:11] else (text[:10], "", text[10:])
        try:
            out[date.fromisoformat(day.strip())] = reason.strip()
        except ValueError:
            raise ValueError(f"'{item}' is not a date: expected YYYY-MM-DD, optionally ': reason'") from None
    return out


def _labels(v: Any) -> dict[str, str]:
    """{'Source label': 'field'}: labels a source uses that the built-in profiles do not know (that each
    field is a dossier field, tracker.ingest.columns.parse_mapping checks)."""
    if not isinstance(v, dict):
        raise ValueError(f"'{v}' is not a table of 'Source label' = 'field'")
    return dict(v)


def table_list(value: Any, name: str) -> list:
    """An array of tables: from TOML as it is, from the environment as a JSON array of objects.

    Shared by the settings that hold rule or source tables ([[import.sources]], [[scoring.rules]]);
    the modules that build sources and rules from them check each table."""
    if value is None or value == [] or value == "":
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise ValueError(f"is not a list of [[{name}]] tables (in the environment: "
                             "a JSON array of objects)") from None
    if isinstance(value, dict):
        value = [value]  # [name] written once instead of [[name]]
    return value


def _tables(name: str) -> Callable[[Any], list]:
    def parse(v: Any) -> list:
        return table_list(v, name)

    return parse


def _url(v: Any) -> str:
    s = _str(v)
    if "://" not in s:
        raise ValueError(f"'{s}' is not a database URL: expected e.g. sqlite:///var/tthc.db "
                         "or postgresql+psycopg://user@host/db")
    return s


def _address(v: Any) -> str:
    """'Name <box@host>' or 'box@host': one mail address."""
    s = _str(v).strip()
    _, addr = parseaddr(s)
    if not re.fullmatch(r"[^@\s<>,]+@[^@\s<>,]+", addr or "") or "\n" in s or "\r" in s:
        raise ValueError(f"'{s}' is not a mail address: expected e.g. tthc@example.gov.vn "
                         "or 'Theo dõi TTHC <tthc@example.gov.vn>'")
    return s


def _addresses(v: Any) -> list[str]:
    return [_address(a) for a in _list(v)]


def _env_name(v: Any) -> str:
    s = _str(v).strip()
    if s and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", s):
        raise ValueError("is not the name of an environment variable (the password itself does not "
                         "belong in settings)")
    if s.upper().startswith(ENV_PREFIX):
        raise ValueError(f"'{s}': names starting with {ENV_PREFIX} are settings; choose another, "
                         "e.g. SMTP_PASSWORD")
    return s


def _networks(v: Any) -> list[str]:
    """['127.0.0.1', '10.0.0.0/24'] -> the same, each checked to be an address or a network."""
    out = []
    for item in _list(v):
        try:
            out.append(str(ipaddress.ip_network(str(item).strip(), strict=True)))
        except ValueError:
            raise ValueError(f"'{item}' is not an address or network (e.g. 10.0.0.5 or 10.0.0.0/24)") from None
    return out


def _base_url(v: Any) -> str:
    s = _str(v).strip().rstrip("/")
    if s and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", s):
        raise ValueError(f"'{s}' is not a web address: expected e.g. https://tthc.example.gov.vn")
    return s


SETTINGS: tuple[Setting, ...] = (
    Setting("database.url", "sqlite:///var/tthc.db",
            "Database URL. SQLite (WAL) by default; PostgreSQL for production, e.g. "
            "postgresql+psycopg://tthc@db.example/tthc.", _url, secret=True),
    Setting("calendar.sessions", ["07:00-11:30", "13:30-17:00"],
            "Office sessions of a working day, half-open [start, end). Provinces differ.", _sessions),
    Setting("calendar.extra_holidays", [],
            "Extra days off: 'YYYY-MM-DD: reason' each (e.g. a provincial decision).", _dated),
    Setting("calendar.removed_holidays", [],
            "Days the package or the decreed table call holidays that this deployment works.", _dated),
    Setting("calendar.extra_workdays", [],
            "Extra make-up working days (a Saturday worked): 'YYYY-MM-DD: reason' each.", _dated),
    Setting("calendar.culture_day", True,
            "Observe 24 November (Ngày Văn hóa Việt Nam) as the `holidays` package does from 2026. "
            "Set false if the Labour Code change is not in force for you.", _bool),
    Setting("calendar.decreed_table", True,
            "Apply the shipped table of decreed swaps (tracker/data/decreed_days.toml).", _bool),
    Setting("rules.comparison", "date",
            "How finish and due are compared for lateness: 'date' (calendar dates, as most "
            "provincial reports do) or 'datetime' (instants).", _choice("date", "datetime")),
    Setting("rules.same_day_cutoff", "15:00",
            "A same-day procedure received after this time is due the next working day.", _time),
    Setting("rules.at_risk_hours", 8,
            "An unfinished dossier with at most this much working time left is at risk (sắp đến hạn).",
            _hours),
    Setting("rules.online_last_hour_next_day", False,
            "Count online dossiers received in the last office hour from the next working day "
            "(Nghị định 297/2025 Art. 6). Off by default.", _bool),
    Setting("import.sources", [],
            "Sources the scheduler polls: [[import.sources]] tables with name, kind ('folder' or 'url'), "
            "path or url, and optional format, every_minutes, auth_header, auth_scheme, token_env, headers, "
            "page_param, page_size_param, page_size, first_page, max_pages, items_key, archive (folder; "
            "default true). In the environment: a JSON array.", _tables("import.sources")),
    Setting("import.mapping", {},
            "Extra header labels: 'Label in the export' = 'field' (e.g. 'Ngày hẹn' = 'due_at').", _labels),
    Setting("import.batch_size", 5000, "Rows written per transaction.", _int_range(100, 100_000)),
    Setting("import.url_timeout", 30, "Seconds before a URL source request times out.", _int_range(1, 600)),
    Setting("import.url_retries", 3, "Retries of a failed URL request, with exponential backoff.",
            _int_range(0, 10)),
    Setting("import.max_rows", 1_048_576,
            "Most rows a file may hold (Excel's own limit); a bigger file is rejected whole, unread.",
            _int_range(1000, 100_000_000)),
    Setting("import.max_columns", 1024, "Most columns a sheet or HTML table may hold.", _int_range(50, 16_384)),
    Setting("import.max_cells", 30_000_000,
            "Most cells (rows x columns, empty ones included) a sheet or HTML table may hold: a workbook "
            "reader allocates about 32 bytes for each; its child process may use 512 MB plus 96 bytes per cell.",
            _int_range(10_000, 2_000_000_000)),
    Setting("import.max_megabytes", 2048,
            "Most megabytes a file may hold uncompressed (an .xlsx's parts; HTML, JSON and .xls files "
            "are read whole).", _int_range(1, 1_000_000)),
    Setting("import.upload_memory_mb", 4096,
            "Memory (MB of address space, beyond the web worker's own) the process that reads a file "
            "uploaded on the web may use; a file that needs more is rejected and the web worker lives on.",
            _int_range(256, 1_000_000)),
    Setting("import.upload_seconds", 900,
            "Seconds a web upload's import may take before it is stopped and the file rejected.",
            _int_range(5, 86_400)),
    Setting("report.province", "",
            "Province name at the top of the XLSX period report (Biểu 06), e.g. 'UBND tỉnh Sơn Hà'.", _str),
    Setting("report.agency", "",
            "Agency making the report, under the province at the top left of Biểu 06, e.g. 'Văn phòng UBND "
            "tỉnh'.", _str),
    Setting("report.place", "",
            "Place written before the date above the signatures of Biểu 06, e.g. 'Sơn Hà'. Empty: a line "
            "to fill in by hand.", _str),
    Setting("report.signer_title", "THỦ TRƯỞNG ĐƠN VỊ",
            "Title of whoever signs Biểu 06 (right), e.g. 'CHÁNH VĂN PHÒNG'.", _str),
    Setting("report.preparer_title", "NGƯỜI LẬP BIỂU", "Title of whoever prepares Biểu 06 (left).", _str),
    Setting("scoring.rules", [],
            "PAR-style scoring rules: [[scoring.rules]] tables with name, metric (share_units_full_on_time, "
            "overall_on_time_rate or share_late_with_apology), optional level, max_points, optional bands "
            "([[threshold %, fraction of max_points], …]; without bands: proportional) and optional "
            "empty_points. In the environment: a JSON array.", _tables("scoring.rules")),
    Setting("web.host", "127.0.0.1", "Address the dashboard listens on.", _str),
    Setting("web.port", 5000, "Port the dashboard listens on.", _int_range(1, 65535)),
    Setting("web.secret_key", "",
            "Secret for signing session cookies. Empty: one is generated and kept in var/secret_key.",
            _str, secret=True),
    Setting("web.trusted_proxies", [],
            "Reverse proxies in front of the dashboard (addresses or networks, e.g. '127.0.0.1', "
            "'10.0.0.0/24'). Only a request arriving from one of them has its X-Forwarded-For and "
            "X-Forwarded-Proto believed (one proxy hop), so the login throttle counts the client's address, "
            "not the proxy's. Empty: forwarded headers are ignored.", _networks),
    Setting("web.api_token_days", 90,
            "Days an API token stays valid (`tthc users token --days` overrides it per token).",
            _int_range(1, 3650)),
    Setting("paths.var_dir", "var",
            "Where the product keeps its working files (SQLite database, outbox, demo data).", _str),
    Setting("smtp.host", "",
            "SMTP server that sends the digests. Empty: each message is written as an .eml file to "
            "<paths.var_dir>/outbox/<date>/ instead.", _str),
    Setting("smtp.port", 587, "SMTP port (587 for starttls, 465 for ssl, 25 for none).", _int_range(1, 65535)),
    Setting("smtp.security", "starttls",
            "Transport security: 'starttls' (upgrade a plain connection), 'ssl' (TLS from the start) or "
            "'none' (a relay on a trusted network).", _choice("starttls", "ssl", "none")),
    Setting("smtp.username", "", "SMTP login; empty: no authentication.", _str),
    Setting("smtp.password_env", "",
            "Name of the environment variable holding the SMTP password (never the password itself), "
            "e.g. SMTP_PASSWORD.", _env_name),
    Setting("smtp.from", "Theo dõi TTHC <tthc@localhost>", "Sender of the digests (From:).", _address),
    Setting("smtp.timeout", 30, "Seconds before an SMTP connection or command times out.", _int_range(1, 600)),
    Setting("digest.time", "07:30",
            "When the scheduler sends the morning digests, on working days only (local time).", _time),
    Setting("digest.all_clear", False,
            "Also email units with nothing to report (an 'all clear'). Off: such units get no email.", _bool),
    Setting("digest.include_applicant", False,
            "Show the applicant's name beside each dossier in digests. Off: dossier codes and procedure "
            "names only (personal data stays out of mailboxes).", _bool),
    Setting("digest.base_url", "",
            "Address of the dashboard, for the links in digests (<base_url>/dossier/<code>). Empty: "
            "http://<web.host>:<web.port>, right for the demo; set it in production (the address users "
            "reach, e.g. https://tthc.example.gov.vn).", _base_url),
    Setting("digest.cchc_recipients", [],
            "Who receives the summary for the CCHC office (every unit ranked, the biggest movers).",
            _addresses),
    Setting("digest.max_retries", 3,
            "Retries of a delivery after a transient SMTP failure, with backoff (2 s, 4 s, 8 s …); then "
            "it is reported, and the scheduler tries again every 30 minutes until the end of the day.",
            _int_range(0, 10)),
) + (
    # ----- operating the product (docs/deploy.md) -----
    Setting("backup.dir", "",
            "Where the scheduler's daily backups go (tthc backup without -o too). Empty: "
            "<paths.var_dir>/backups.", _str),
    Setting("backup.time", "02:00", "When the scheduler takes the daily backup (local time).", _time),
    Setting("backup.keep_daily", 7,
            "Daily backups kept: the newest of each of this many most recent days. 0 with keep_monthly 0: "
            "the scheduler takes no backup.", _int_range(0, 3650)),
    Setting("backup.keep_monthly", 12,
            "Monthly backups kept: the newest of each of this many most recent months.", _int_range(0, 1200)),
    Setting("check.min_free_mb", 1024,
            "tthc check and /healthz fail when the data directory's disk has less free space (MB).",
            _int_range(0, 10_000_000)),
    Setting("check.import_max_age_hours", 26,
            "tthc check, /healthz and the imports page call a source stale when its last import is older "
            "(26: a daily export that missed a day).", _int_range(1, 24 * 366)),
    Setting("metrics.token", "",
            "Bearer token Prometheus sends to read /metrics. Empty: /metrics is off (404).", _str, secret=True),
    Setting("log.format", "plain",
            "Log lines: 'plain' text, or 'json' (one object a line: time, level, event, ids).",
            _choice("plain", "json")),
)

def _probability(v: Any) -> float:
    try:
        x = float(str(v).replace(",", ".")) if not isinstance(v, bool) else -1.0
    except ValueError:
        x = -1.0
    if not 0 < x <= 1:
        raise ValueError(f"'{v}' is not a probability above 0 and at most 1 (e.g. 0.7)")
    return x


# Predicted lateness (tracker.predict), stuck dossiers (tracker.stuck), the apology form (Mẫu 04).
SETTINGS += (
    Setting("predict.threshold", 0.7,
            "An open dossier whose probability of finishing after its due is at least this is 'likely "
            "late' (có nguy cơ trễ).", _probability),
    Setting("predict.min_history", 30,
            "Fewest dossiers a history needs before the prediction uses it: unit and procedure first, "
            "then the procedure in every unit, then the field, then the unit.", _int_range(5, 100_000)),
    Setting("predict.history_months", 12,
            "Months of finished dossiers (and every open one) the prediction learns from.", _int_range(1, 60)),
    Setting("stuck.registered_hours", 8,
            "An online registration (status 1) not accepted within this many working hours is stuck.", _hours),
    Setting("stuck.received_hours", 16,
            "A received dossier (status 2) not moved on for this many working hours is stuck.", _hours),
    Setting("stuck.processing_hours", 40,
            "A dossier in progress (status 4) with no status change for this many working hours is stuck.",
            _hours),
    Setting("stuck.supplement_days", 10,
            "A supplement request (status 5) with no resubmission after this many working days is stuck.",
            _int_range(1, 120)),
    Setting("apology.add_working_days", 5,
            "Working days the apology form (Mẫu 04) adds to the due (or to today, when later) for the "
            "proposed new appointment.", _int_range(1, 60)),
)

BY_KEY = {s.key: s for s in SETTINGS}


def _error(s: Setting, exc: Exception, where: str) -> ConfigError:
    """'key: what is wrong (where it came from)'; a secret's value and origin are not repeated."""
    shown = "" if s.secret else f" ({where})"
    msg = str(exc).removeprefix("calendar.sessions: ")
    return ConfigError(f"{msg if msg.startswith(s.key) else f'{s.key}: {msg}'}{shown}")


class Settings:
    """Validated settings: `settings.get("rules.comparison")`."""

    def __init__(self, values: Mapping[str, Any], source: Path | None = None,
                 origins: Mapping[str, str] | None = None) -> None:
        self._values = dict(values)
        self.source = source
        self._origins = dict(origins or {})  # key -> where its value came from (a file, the environment)
        self._calendar_days: dict = {}  # {date: (kind, reason)} from the database (tracker.calendar_days.attach)
        self._revision = 0  # bumped when the calendar days change: what `derived` built before is stale
        self._derived: dict[Any, tuple[int, Any]] = {}  # what `derived` built, by builder (and key)

    def get(self, key: str) -> Any:
        return self._values[key]

    def derived(self, build: Callable[[Any], T], key: str | None = None) -> T:
        """`build(self)`, or with `key` `build(self.get(key))`: built once per value of these settings
        and then shared (again after the calendar days change). How the calendar, the rule settings
        and what the domain builds from settings (import sources, scoring rules) are made once."""
        memo = build if key is None else (build, key)
        revision = self._revision
        hit = self._derived.get(memo)
        if hit is not None and hit[0] == revision:
            return hit[1]
        value = build(self) if key is None else build(self.get(key))
        self._derived[memo] = (revision, value)
        return value

    def refusal(self, key: str, exc: Exception) -> ConfigError:
        """The ConfigError for a value of `key` the domain could not build from (tracker.settings_check)."""
        return _error(BY_KEY[key], exc, self._origins.get(key, "default"))

    def fingerprint(self) -> str:
        """Changes whenever a setting that stored derived values depend on changes."""
        return self.derived(_fingerprint)

    def items(self) -> list[tuple[Setting, Any]]:
        return [(s, self._values[s.key]) for s in SETTINGS]

    def with_defaults(self, values: Mapping[str, Any]) -> Settings:
        """These settings, with `values` (validated) for the keys still at their default: how the demo
        fills what a deployment declares (report.*, scoring.rules, …) without overriding anyone."""
        out = dict(self._values)
        for key, value in values.items():
            s = BY_KEY[key]
            if out[key] == s.parse(s.default):
                out[key] = s.parse(value)
        return Settings(out, self.source, self._origins)

    def dashboard_url(self) -> str:
        """Where users reach the dashboard, for links in digests: `digest.base_url`, else the address
        `tthc serve` listens on (a wildcard address as this machine's name)."""
        base = self.get("digest.base_url")
        if base:
            return base
        host = self.get("web.host")
        if host in ("0.0.0.0", "::", ""):
            host = socket.getfqdn()
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.get('web.port')}"

    def base_url_warning(self) -> str | None:
        """Said at the start of a production process (gunicorn, the scheduler) when digests would
        link to a guessed address."""
        if self.get("digest.base_url"):
            return None
        return (f"warning: digest.base_url is not set: digest links will point to {self.dashboard_url()}; "
                "set it (TTHC_DIGEST_BASE_URL) to the address your users open")

    @property
    def var_dir(self) -> Path:
        return Path(self.get("paths.var_dir"))

    def work_calendar(self) -> WorkCalendar:
        """The working calendar of these settings and the entered days: one per value, shared (it is
        safe to use from several threads; tracker.calendar)."""
        return self.derived(_work_calendar)

    def set_calendar_days(self, days: Mapping) -> None:
        """The decreed days admins entered in the database, applied over the table and the settings."""
        days = dict(days)
        if days != self._calendar_days:
            self._calendar_days = days
            self._revision += 1

    def rule_settings(self) -> RuleSettings:
        return self.derived(_rule_settings)


def _work_calendar(settings: Settings) -> WorkCalendar:
    return WorkCalendar(
        sessions=settings.get("calendar.sessions"),
        extra_holidays=settings.get("calendar.extra_holidays"),
        removed_holidays=settings.get("calendar.removed_holidays").keys(),
        extra_workdays=settings.get("calendar.extra_workdays"),
        culture_day=settings.get("calendar.culture_day"),
        decreed=settings.get("calendar.decreed_table"),
        db_days=settings._calendar_days,
    )


def _rule_settings(settings: Settings) -> RuleSettings:
    return RuleSettings(
        comparison=settings.get("rules.comparison"),
        same_day_cutoff=settings.get("rules.same_day_cutoff"),
        at_risk_hours=settings.get("rules.at_risk_hours"),
        online_last_hour_next_day=settings.get("rules.online_last_hour_next_day"),
    )


def _fingerprint(settings: Settings) -> str:
    return f"{settings.work_calendar().fingerprint()};{settings.rule_settings().fingerprint()}"


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in data.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and key not in BY_KEY:
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _unknown(key: str, where: str) -> ConfigError:
    close = difflib.get_close_matches(key, list(BY_KEY) + [s.env for s in SETTINGS], n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return ConfigError(f"{where}: unknown setting '{key}'{hint}")


def config_path(explicit: str | Path | None = None, env: Mapping[str, str] | None = None) -> Path | None:
    env = os.environ if env is None else env
    if explicit:
        return Path(explicit)
    if env.get("TTHC_CONFIG"):
        return Path(env["TTHC_CONFIG"])
    local = Path("tthc.toml")
    return local if local.exists() else None


def load_settings(path: str | Path | None = None, env: Mapping[str, str] | None = None,
                  overrides: Mapping[str, Any] | None = None) -> Settings:
    """Read, merge and validate every setting; raise ConfigError naming the first bad one."""
    env = os.environ if env is None else env
    source = config_path(path, env)
    raw: dict[str, tuple[Any, str]] = {}
    if source is not None:
        try:
            with source.open("rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"config file {source}: not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {source}: {exc}") from None
        except UnicodeDecodeError as exc:
            raise ConfigError(f"config file {source}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} "
                              f"at offset {exc.start}); save it as UTF-8") from None
        except OSError as exc:
            raise ConfigError(f"config file {source}: cannot be read ({exc.strerror or exc})") from None
        for key, value in _flatten(data).items():
            if key not in BY_KEY:
                raise _unknown(key, str(source))
            raw[key] = (value, str(source))
    by_env = {s.env: s for s in SETTINGS}
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name in ENV_NOT_SETTINGS:
            continue
        if name not in by_env:
            raise _unknown(name, "environment")
        raw[by_env[name].key] = (value, f"environment {name}")
    for key, value in (overrides or {}).items():
        if key not in BY_KEY:
            raise _unknown(key, "overrides")
        raw[key] = (value, "overrides")

    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for s in SETTINGS:
        value, where = raw.get(s.key, (s.default, "default"))
        try:
            values[s.key] = s.parse(value)
        except (ValueError, CalendarError) as exc:
            raise _error(s, exc, where) from None
        origins[s.key] = where
    return Settings(values, source, origins)
