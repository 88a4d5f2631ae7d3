"""`tthc demo`: build the demo province through the same path real data takes, then serve it.

Safe to re-run: the database is upgraded in place and the import is idempotent (rows already
stored are recognised by their hash; a new day's files update what changed).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter

from cli.common import bounded
from tracker.clock import now_local
from tracker.config import Settings
from tracker.db import make_engine, upgrade
from tracker.files import private_dir

# What a province declares in its settings, filled in for the demo where the settings leave the
# default: Biểu 06's agency block and signatures, the PAR rules of the scores page (the same example
# as config.example.toml), and who gets the CCHC office's morning summary.
DEMO_SETTINGS = {
    "report.province": "UBND tỉnh Sơn Hà",
    "report.agency": "Văn phòng UBND tỉnh",
    "report.place": "Sơn Hà",
    "report.signer_title": "CHÁNH VĂN PHÒNG",
    "digest.cchc_recipients": ["Phòng Kiểm soát TTHC <ksthc@sonha.gov.vn>"],
    "scoring.rules": [
        {"name": "Đơn vị cấp tỉnh giải quyết 100% hồ sơ đúng hạn", "metric": "share_units_full_on_time",
         "level": "tinh", "max_points": 1.0, "bands": [[100, 1.0], [80, 0.5], [0, 0]]},
        {"name": "Đơn vị cấp xã giải quyết 100% hồ sơ đúng hạn", "metric": "share_units_full_on_time",
         "level": "xa", "max_points": 1.0, "bands": [[100, 1.0], [80, 0.5], [0, 0]]},
        {"name": "Tỷ lệ hồ sơ giải quyết đúng hạn (toàn tỉnh)", "metric": "overall_on_time_rate",
         "max_points": 2.0, "bands": [[98, 1.0], [95, 0.75], [90, 0.5], [0, 0]]},
        {"name": "Hồ sơ trễ hạn có phiếu xin lỗi trước hạn", "metric": "share_late_with_apology",
         "max_points": 1.0, "bands": [[100, 1.0], [90, 0.5], [0, 0]], "empty_points": 1.0},
    ],
}


def add_commands(sub) -> None:  # noqa: ANN001
    s = sub.add_parser("demo", help="build a realistic demo province and start the dashboard")
    s.add_argument("--no-serve", action="store_true", help="build the data only")
    s.add_argument("--per-month", type=bounded(1, 1_000_000, "a number of dossiers"), default=4000,
                   help="dossiers per month (default 4000)")
    s.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    return run_demo(settings, serve=not args.no_serve, per_month=args.per_month)


def demo_settings(settings: Settings) -> Settings:
    return settings.with_defaults(DEMO_SETTINGS)


def run_demo(settings: Settings, *, serve: bool = True, per_month: int = 4000) -> int:
    settings = demo_settings(settings)
    engine = make_engine(settings.get("database.url"))
    try:
        if not _build(engine, settings, per_month):
            return 1
    finally:
        engine.dispose()
    host, port = settings.get("web.host"), settings.get("web.port")
    print()
    print(f"Dashboard: http://{host}:{port}")
    print("Log in with one of the demo accounts (demo passwords: change them for anything real):")
    for username, role, password, unit in DEMO_USERS:
        print(f"  {username:<10} {password:<16} {role}{f' ({unit})' if unit else ''}")
    print("Try:    .venv/bin/tthc classify --list | head   ·   .venv/bin/tthc report --from 2026-10-01 --to 2026-10-31")
    if not serve:
        return 0
    from web import create_app

    create_app(settings).run(host=host, port=port, debug=False, use_reloader=False)
    return 0


# username, role, password, unit name (resolved to its code in the demo's catalogue)
DEMO_USERS = (
    ("admin", "admin", "demo-admin-2026", ""),
    ("cchc", "cchc", "demo-cchc-2026", ""),
    ("soxaydung", "unit_head", "demo-head-2026", "Sở Xây dựng"),
    ("motcua", "reception", "demo-desk-2026", "UBND phường Vạn Xuân"),
)
DEMO_NAMES = {"admin": "Quản trị hệ thống", "cchc": "Phòng Kiểm soát TTHC", "soxaydung": "Lãnh đạo Sở Xây dựng",
              "motcua": "Một cửa phường Vạn Xuân"}  # shown in the header and the users table


def create_demo_users(engine) -> None:  # noqa: ANN001
    """The demo's personas, created once (re-running the demo keeps them as they are)."""
    from sqlalchemy import select

    from tracker.models import Unit
    from tracker.users import create_user, list_users

    existing = {u["username"] for u in list_users(engine)}
    with engine.connect() as conn:
        codes = dict(conn.execute(select(Unit.name, Unit.code)).all())
    for username, role, password, unit in DEMO_USERS:
        if username not in existing and (not unit or unit in codes):
            create_user(engine, username, role, password, unit_codes=[codes[unit]] if unit else [],
                        display_name=DEMO_NAMES[username])


def _build(engine, settings: Settings, per_month: int) -> bool:  # noqa: ANN001
    from tracker.calendar_days import attach
    from tracker.demo import build_demo_files
    from tracker.ingest import import_file, import_procedures, import_units

    upgrade(engine)
    attach(settings, engine)  # decreed days an admin entered: the import derives with them
    now = now_local()
    out = private_dir(settings.var_dir / "demo")
    print(f"Building the demo province in {out} …")
    files = build_demo_files(out, today=now.date(), now=now, per_month=per_month)
    units = import_units(engine, files.units)
    procs = import_procedures(engine, files.procedures)
    print(f"  units: {units.rows_read} ({units.inserted} new); procedures: {procs.rows_read} "
          f"({procs.inserted} new)")
    res = import_file(engine, settings, files.dossiers, source="demo")
    print(f"  dossiers: {res.rows_read} read, {res.inserted} inserted, {res.updated} updated, "
          f"{res.unchanged} unchanged, {res.rejected} rejected (the demo export has a few bad rows "
          f"on purpose: see 'Imports'), {res.seconds:.1f} s")
    if res.status == "failed":
        print(f"tthc demo: import failed: {res.message}", file=sys.stderr)
        return False
    _print_classes(engine, settings, now)
    from tracker.outlook import refresh_outlook

    print(f"  outlook (predicted lateness, time in status) of {refresh_outlook(engine, settings, now)} "
          "open dossier(s) stored")
    create_demo_users(engine)
    return True


def _print_classes(engine, settings: Settings, now) -> None:  # noqa: ANN001
    from tracker.derive import classify_row
    from tracker.queries import dossier_rows, limit_versions

    cal, rules = settings.work_calendar(), settings.rule_settings()
    limits = limit_versions(engine)
    counts: Counter[str] = Counter(classify_row(r, now, cal, rules, limits)[0].cls
                                   for r in dossier_rows(engine))
    print(f"  as of {now:%d/%m/%Y %H:%M}: " + ", ".join(f"{k} {v}" for k, v in counts.most_common()))
