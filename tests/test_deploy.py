"""deploy/ against the real things: `systemd-analyze verify` on the units, `nginx -t` on the site, and a
real HTTPS request through nginx to gunicorn on a unix socket, started as the units start it.

nginx and openssl come from Debian (`apt-get install nginx openssl`); without them these tests skip
with that message, unless $TRACKER_TEST_REQUIRE_NGINX is set (.ci/run sets it), where they fail."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests

from tracker.config import load_settings

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
INSTALLED = "/opt/tthc"  # where docs/deploy.md puts the clone; the tests use this one
REQUIRE_NGINX = bool(os.environ.get("TRACKER_TEST_REQUIRE_NGINX"))
PASSWORD = "demo-admin-2026"  # cli.demo.DEMO_USERS
TOKEN = "deploy-test-token"


def need(tool: str, package: str) -> str:
    path = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin")  # Debian's nginx: not on every PATH
    if path:
        return path
    if REQUIRE_NGINX:
        pytest.fail(f"{tool} required ($TRACKER_TEST_REQUIRE_NGINX) but not installed: apt-get install {package}")
    pytest.skip(f"{tool} not installed: apt-get install {package}")


def unit(name: str) -> dict[str, list[str]]:
    """A unit file's settings: key -> values, in order."""
    out: dict[str, list[str]] = {}
    for line in (DEPLOY / "systemd" / name).read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def here(text: str) -> str:
    return text.replace(INSTALLED, str(ROOT))


# ----- systemd ---------------------------------------------------------------------------------------------


def test_the_units_run_as_their_own_user_restart_and_read_the_environment_file():
    web, sched = unit("tthc-web.service"), unit("tthc-scheduler.service")
    for u in (web, sched):
        assert u["User"] == ["tthc"] and u["Group"] == ["tthc"]
        assert u["EnvironmentFile"] == ["/etc/tthc/tthc.env"]
        assert "TTHC_CONFIG=/etc/tthc/tthc.toml" in u["Environment"]
        assert u["WorkingDirectory"] == ["/var/lib/tthc"] and u["ReadWritePaths"] == ["/var/lib/tthc"]
        assert u["Restart"][0] in ("always", "on-failure") and u["WantedBy"] == ["multi-user.target"]
    assert web["ExecStart"] == [f"{INSTALLED}/.venv/bin/gunicorn --config {INSTALLED}/deploy/gunicorn.conf.py"]
    assert "WEB_BIND=unix:/run/tthc/web.sock" in web["Environment"]
    assert sched["ExecStart"] == [f"{INSTALLED}/.venv/bin/tthc scheduler"]


def test_systemd_analyze_verifies_the_units(tmp_path):
    tool = shutil.which("systemd-analyze")
    if not tool:
        pytest.skip("systemd-analyze not installed: apt-get install systemd")
    files = []
    for name in ("tthc-web.service", "tthc-scheduler.service"):
        (tmp_path / name).write_text(here((DEPLOY / "systemd" / name).read_text()))
        files.append(str(tmp_path / name))
    proc = subprocess.run([tool, "verify", *files], capture_output=True, text=True)
    ours = [line for line in proc.stderr.splitlines() if "tthc-" in line]
    assert proc.returncode == 0 and ours == [], proc.stderr


# ----- nginx → gunicorn ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, check, seconds: float = 60) -> None:  # noqa: ANN001
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} did not come up in {seconds} s")


def substitute(text: str, pairs: list[tuple[str, str]]) -> str:
    for old, new in pairs:
        assert old in text, f"deploy/nginx/tthc.conf no longer has {old!r}: update this test"
        text = text.replace(old, new)
    return text


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def stack(request, tmp_path_factory):
    """The product installed as docs/deploy.md says, in a temporary folder: settings from
    deploy/tthc.toml.example, gunicorn as tthc-web.service starts it, nginx with deploy/nginx/tthc.conf;
    on SQLite as shipped, or on PostgreSQL through TTHC_DATABASE_URL as section 2b sets it."""
    nginx = need("nginx", "nginx")
    openssl = need("openssl", "openssl")
    tmp = tmp_path_factory.mktemp("deploy")
    var, run = tmp / "var", tmp / "run"
    var.mkdir()
    run.mkdir()
    os.chmod(run, 0o755)

    cert, key = tmp / "fullchain.pem", tmp / "privkey.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)

    toml = (DEPLOY / "tthc.toml.example").read_text()
    toml = toml.replace("/var/lib/tthc", str(var))
    config = tmp / "tthc.toml"
    config.write_text(toml)
    settings = load_settings(config, env={})  # the example is valid as shipped
    assert settings.get("database.url") == f"sqlite:///{var}/tthc.db"

    env = {k: v for k, v in os.environ.items() if not k.startswith("TTHC_")}
    for assignment in unit("tthc-web.service")["Environment"]:
        k, _, v = assignment.partition("=")
        env[k] = v
    sock = run / "web.sock"
    env.update(TTHC_CONFIG=str(config), WEB_BIND=f"unix:{sock}", PROMETHEUS_MULTIPROC_DIR=str(run / "metrics"),
               WEB_WORKERS="2", TTHC_METRICS_TOKEN=TOKEN)
    if request.param == "postgresql":
        from tests.tracker.test_backup import fresh_target

        request.getfixturevalue("pg_database")  # skips (or fails, when required) without PostgreSQL

        env["TTHC_DATABASE_URL"] = fresh_target("postgresql", tmp, request)  # an empty database (createdb)
    tthc = [sys.executable, "-m", "cli"]
    subprocess.run([*tthc, "init"], env=env, check=True, capture_output=True, cwd=var)
    subprocess.run([*tthc, "demo", "--no-serve", "--per-month", "30"], env=env, check=True, capture_output=True,
                   cwd=var)  # the demo province, small

    procs: list[subprocess.Popen] = []
    log = (tmp / "gunicorn.log").open("w")
    try:
        exec_start = here(unit("tthc-web.service")["ExecStart"][0]).split()
        exec_start[0] = str(Path(sys.executable).parent / "gunicorn")  # this virtualenv's
        procs.append(subprocess.Popen(exec_start, env=env, cwd=var, stdout=subprocess.DEVNULL, stderr=log))
        wait_for("gunicorn's socket", sock.exists)
        os.chmod(sock, 0o777)  # nginx's workers run as another user here (not in a group tthc)

        http, https = free_port(), free_port()
        site = substitute((DEPLOY / "nginx" / "tthc.conf").read_text(), [
            ("unix:/run/tthc/web.sock", f"unix:{sock}"),
            ("    listen 80;\n", f"    listen 127.0.0.1:{http};\n"),
            ("    listen [::]:80;\n", ""),
            ("    listen 443 ssl http2;\n", f"    listen 127.0.0.1:{https} ssl http2;\n"),
            ("    listen [::]:443 ssl http2;\n", ""),
            ("/etc/ssl/tthc/fullchain.pem", str(cert)),
            ("/etc/ssl/tthc/privkey.pem", str(key)),
            ("/var/log/nginx/tthc.access.log", str(tmp / "access.log")),
            ("/var/log/nginx/tthc.error.log", str(tmp / "error.log")),
        ])
        (tmp / "site.conf").write_text(site)
        temp = "\n".join(f"  {k}_temp_path {tmp / k};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        (tmp / "nginx.conf").write_text(
            ("user root;\n" if os.geteuid() == 0 else "")
            + f"worker_processes 1;\npid {tmp / 'nginx.pid'};\nerror_log {tmp / 'nginx-error.log'};\ndaemon off;\n"
            f"events {{ worker_connections 64; }}\n"
            f"http {{\n{temp}\n  access_log off;\n  include {tmp / 'site.conf'};\n}}\n")
        test = subprocess.run([nginx, "-t", "-p", str(tmp), "-c", str(tmp / "nginx.conf")],
                              capture_output=True, text=True)
        assert test.returncode == 0, test.stderr
        procs.append(subprocess.Popen([nginx, "-p", str(tmp), "-c", str(tmp / "nginx.conf")],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

        def listening() -> bool:
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", https)) == 0

        wait_for("nginx", listening)
        yield {"base": f"https://127.0.0.1:{https}", "http": f"http://127.0.0.1:{http}", "cert": str(cert),
               "nginx_test": test.stderr}
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        log.close()


def test_nginx_t_accepts_the_site(stack):
    assert "syntax is ok" in stack["nginx_test"] and "test is successful" in stack["nginx_test"]


def test_plain_http_is_sent_to_https(stack):
    resp = requests.get(f"{stack['http']}/login", allow_redirects=False, timeout=30)
    assert resp.status_code == 301 and resp.headers["Location"].startswith("https://127.0.0.1")


def test_through_nginx_the_session_cookie_is_secure_and_redirects_stay_on_https(stack):
    s = requests.Session()
    s.verify = stack["cert"]
    s.trust_env = False  # else $REQUESTS_CA_BUNDLE wins over s.verify
    base = stack["base"]

    resp = s.get(f"{base}/", allow_redirects=False, timeout=30)  # not logged in: to the login page
    assert resp.status_code == 302
    target = urljoin(base + "/", resp.headers["Location"])
    assert target.startswith("https://"), resp.headers["Location"]
    nxt = parse_qs(urlsplit(target).query).get("next", [""])[0]
    assert not nxt.startswith("http://"), nxt  # the app knows the request came over HTTPS

    page = s.get(f"{base}/login", timeout=30)
    assert page.status_code == 200 and "Strict-Transport-Security" in page.headers
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    resp = s.post(f"{base}/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token},
                  headers={"Referer": f"{base}/login"}, allow_redirects=False, timeout=30)
    assert resp.status_code == 302, resp.text[:500]
    cookie = next(c for c in resp.raw.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert re.search(r";\s*Secure", cookie) and re.search(r";\s*HttpOnly", cookie), cookie
    assert urljoin(base + "/", resp.headers["Location"]).startswith("https://")

    overview = s.get(f"{base}/", timeout=30)
    assert overview.status_code == 200 and overview.url.startswith("https://")
    assert "tthc-monitor " in overview.text  # the version in the footer


def test_healthz_and_metrics_through_nginx_with_every_worker_counted(stack):
    base, cert = stack["base"], stack["cert"]
    health = requests.get(f"{base}/healthz", verify=cert, timeout=30)
    assert health.status_code == 200 and set(health.json()) == {"status", "version", "checks"}
    for _ in range(6):  # spread over the two workers
        assert requests.get(f"{base}/login", verify=cert, timeout=30).status_code == 200
    assert requests.get(f"{base}/metrics", verify=cert, timeout=30).status_code == 401
    body = requests.get(f"{base}/metrics", verify=cert, timeout=30,
                        headers={"Authorization": f"Bearer {TOKEN}"}).text
    counts = re.findall(r'tthc_http_request_duration_seconds_count\{endpoint="auth.login",method="GET"\} (\S+)', body)
    assert counts and float(counts[0]) >= 6  # summed over the workers (multiprocess mode)
    assert re.search(r'tthc_dossiers_open\{state="in_progress"\} [1-9]', body)  # the demo's open dossiers


def test_the_deployment_guide_names_every_file_and_command_it_relies_on():
    guide = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    for path in sorted(p.relative_to(ROOT) for p in DEPLOY.rglob("*") if p.is_file()):
        assert str(path) in guide or path.name in guide, f"docs/deploy.md does not mention {path}"
    for command in ("tthc init", "tthc db upgrade", "tthc backup", "tthc restore", "tthc check", "tthc version",
                    "tthc scheduler", "nginx -t", "systemctl enable --now tthc-web tthc-scheduler"):
        assert command in guide, command
    for setting in ("backup.time", "backup.dir", "backup.keep_daily", "backup.keep_monthly", "metrics.token",
                    "log.format", "check.min_free_mb", "check.import_max_age_hours"):
        assert setting in guide, setting
