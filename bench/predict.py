"""Benchmark: predicted lateness against the fixed 8-hour at-risk rule, on the demo province.

    .venv/bin/python bench/predict.py [--per-month N]      # default 4000, as `make demo`

The first run builds the demo province (tracker.demo) as of a fixed day into bench/out/predict.db
(later runs reuse it), then backtests three months that ended a month before that day: each
working day at the digest time, a prediction from only what was known then
(tracker.predict.backtest), scored against what happened by the demo's last moment. It prints
precision, recall, Brier score and median lead time for warnings raised at least 3 working days
before the due and for all warnings, beside the same for the 8-hour rule, and exits 1 unless the
prediction warns earlier (a longer median lead) at no worse precision than the rule.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, datetime
from pathlib import Path

from tracker.config import load_settings
from tracker.db import make_engine, upgrade
from tracker.predict import backtest

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
TODAY = date(2026, 10, 15)
NOW = datetime(2026, 10, 15, 10, 0)
PERIOD = (date(2026, 6, 1), date(2026, 8, 31))


def build(per_month: int) -> str:
    from tracker.demo import build_demo_files
    from tracker.ingest import import_file, import_procedures, import_units

    db = OUT / f"predict-{per_month}.db"
    url = f"sqlite:///{db}"
    settings = load_settings(env={}, overrides={"database.url": url, "paths.var_dir": str(OUT / "var")})
    if db.exists():
        return url
    OUT.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url)
    upgrade(engine)
    t0 = time.perf_counter()
    files = build_demo_files(OUT / "demo", today=TODAY, now=NOW, per_month=per_month)
    import_units(engine, files.units)
    import_procedures(engine, files.procedures)
    res = import_file(engine, settings, files.dossiers, source="demo")
    print(f"demo province as of {NOW:%d/%m/%Y %H:%M}: {res.inserted} dossiers in {time.perf_counter() - t0:.1f} s")
    engine.dispose()
    return url


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-month", type=int, default=4000)
    args = ap.parse_args(argv)
    url = build(args.per_month)
    settings = load_settings(env={}, overrides={"database.url": url})
    engine = make_engine(url)
    rules = settings.rule_settings()
    t0 = time.perf_counter()
    bt = backtest(engine, settings.work_calendar(), rules.comparison, rules.at_risk_hours, *PERIOD,
                  at=settings.get("digest.time"), min_history=settings.get("predict.min_history"),
                  months=settings.get("predict.history_months"), threshold=settings.get("predict.threshold"),
                  now=NOW)
    took = time.perf_counter() - t0
    engine.dispose()
    print("\n".join(bt.lines()))
    print(f"({took:.1f} s; threshold {settings.get('predict.threshold')}, min history "
          f"{settings.get('predict.min_history')}, {settings.get('predict.history_months')} months)")
    p, r = bt.scores["predict"], bt.scores["rule8h"]
    ok = (p.median_lead_days is not None and r.median_lead_days is not None and p.precision is not None
          and r.precision is not None and p.median_lead_days > r.median_lead_days and p.precision >= r.precision)
    print("PASS: earlier warnings at no worse precision" if ok else "FAIL: the prediction does not beat the rule")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
