"""`tthc demo`: the province goes through the real import path, re-running is safe, the page serves."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
from sqlalchemy import func, select

from cli.demo import run_demo
from tracker.db import make_engine
from tracker.models import Dossier, ImportRun, RejectedRow, Unit


def test_demo_builds_through_the_import_path_and_reruns_safely(settings, db_url, capsys):
    assert run_demo(settings, serve=False, per_month=120) == 0
    out = capsys.readouterr().out
    assert "Dashboard: http://127.0.0.1:5000" in out and "demo-admin-2026" in out
    engine = make_engine(db_url)
    with engine.connect() as conn:
        dossiers = conn.execute(select(func.count()).select_from(Dossier)).scalar_one()
        assert 35 <= conn.execute(select(func.count()).select_from(Unit)).scalar_one() <= 45
        assert dossiers > 1000
        assert conn.execute(select(func.count()).select_from(RejectedRow)).scalar_one() >= 1
    assert run_demo(settings, serve=False, per_month=120) == 0
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Dossier)).scalar_one() == dossiers
        last = conn.execute(select(ImportRun).order_by(ImportRun.id.desc()).limit(1)).mappings().one()
        assert last["inserted"] == 0 and last["unchanged"] > 0
    from cli.demo import DEMO_USERS
    from tracker.users import authenticate, list_users

    users = {u["username"]: u for u in list_users(engine)}
    assert set(users) == {u[0] for u in DEMO_USERS}  # created once, not doubled by the re-run
    assert len(users["motcua"]["units"]) == 1 and len(users["soxaydung"]["units"]) == 1
    assert all(authenticate(engine, name, pw) for name, _, pw, _ in DEMO_USERS)
    assert users["soxaydung"]["display_name"] == "Lãnh đạo Sở Xây dựng"  # Vietnamese, not "Demo unit_head"
    engine.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_answers_over_http(tmp_path):
    exe = Path(sys.executable).with_name("tthc")
    port = _free_port()
    env = {"PATH": "/usr/bin:/bin", "TTHC_DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}"}
    subprocess.run([str(exe), "init"], env=env, cwd=tmp_path, check=True, capture_output=True)
    proc = subprocess.Popen([str(exe), "serve", "--port", str(port)], env=env, cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                resp = requests.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            raise AssertionError("the server did not start")
        assert resp.status_code == 200
        assert resp.url.endswith("/login") or "/login" in resp.url  # the dashboard needs a login
        assert "Đăng nhập" in resp.text
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_demo_fills_what_a_province_declares_without_overriding_it(settings):
    """Biểu 06's agency block and signatures, an example PAR rule set (the one config.example.toml
    documents) and CCHC digest recipients: the demo shows all of them; a deployment's own values win."""
    from cli.demo import demo_settings
    from tracker.config import load_settings

    demo = demo_settings(settings)
    assert demo.get("report.agency") == "Văn phòng UBND tỉnh" and demo.get("report.place") == "Sơn Hà"
    assert demo.get("digest.cchc_recipients") and len(demo.get("scoring.rules")) == 4
    example = load_settings(Path(__file__).resolve().parents[2] / "config.example.toml", env={})
    assert demo.get("scoring.rules") == example.get("scoring.rules")
    own = load_settings(env={}, overrides={"report.agency": "Sở Nội vụ"})
    assert demo_settings(own).get("report.agency") == "Sở Nội vụ"
