"""The command line given absurd or clumsy input: one clear line on stderr and exit code 1 (an error)
or 2 (a usage error), as README's exit codes say; never a traceback, never a silent wrong answer."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli.main import main
from tests.conftest import write_export

UNIT = "UBND phường Bình Minh"


@pytest.fixture
def loaded(db_url, monkeypatch, tmp_path, capsys):
    """An initialised database (either backend) with two dossiers, driven through `tthc`."""
    monkeypatch.setenv("TTHC_DATABASE_URL", db_url)
    monkeypatch.setenv("TTHC_PATHS_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.chdir(tmp_path)
    assert main(["init"]) == 0
    rows = [["1", f"HS-{i}", "1.1", "Đăng ký khai sinh", "Hộ tịch", UNIT, "Trần Thị B", "0912000000", "Trực tiếp",
             "02/03/2026 08:00:00", "05/03/2026 08:00:00", "", "", "Đang xử lý", "3 ngày làm việc"] for i in (1, 2)]
    assert main(["import", str(write_export(tmp_path / "x.csv", rows))]) == 0
    capsys.readouterr()
    return tmp_path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:  # argparse's usage errors exit; main's return is wrapped alike
        sys.exit(main(list(argv)))
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def one_line(err: str) -> str:
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err.strip()


def test_an_empty_dossier_code_is_a_usage_error_not_the_first_dossier(loaded, capsys):
    code, out, err = run(capsys, "dossier", "")
    assert code == 2 and out == "" and one_line(err) == "tthc: dossier: the code is empty"
    code, out, err = run(capsys, "dossier", "  ")
    assert code == 2 and "HS-1" not in out


def test_classify_or_export_of_an_unknown_unit_says_so(loaded, capsys):
    code, out, err = run(capsys, "classify", "--unit", "NOPE")
    assert code == 1 and out == "" and one_line(err) == "tthc: --unit 'NOPE': no such unit"
    code, _, err = run(capsys, "classify", "--unit", "NOPE", "--list", "--format", "csv")
    assert code == 1 and "no such unit" in err
    code, _, err = run(capsys, "export", "dossiers", "-o", "-", "--unit", "NOPE")
    assert code == 1 and one_line(err) == "tthc: --unit 'NOPE': no such unit"


@pytest.mark.parametrize("argv", [
    ["export", "dossiers", "-o", "/no/such/dir/x.csv"],
    ["import", "--errors", "1", "-o", "/no/such/dir/x.csv"],
    ["report", "--from", "2026-03-01", "--to", "2026-03-31", "--format", "csv", "-o", "/no/such/dir/x.csv"],
    ["report", "--from", "2026-03-01", "--to", "2026-03-31", "--format", "xlsx", "-o", "/no/such/dir/x.xlsx"],
    ["audit", "no-due", "--format", "csv", "-o", "/no/such/dir/x.csv"],
])
def test_an_output_that_cannot_be_written_is_one_line(loaded, capsys, argv):
    code, _, err = run(capsys, *argv)
    line = one_line(err)
    assert code == 1 and "/no/such/dir/x." in line and "No such file or directory" in line, line


def test_a_settings_file_that_is_not_utf8_is_one_line(tmp_path, capsys):
    bad = tmp_path / "tthc.toml"
    bad.write_bytes('[report]\nprovince = "UBND tỉnh Sơn Hà"\n'.encode("cp1258", errors="replace") + b"\xff\n")
    code, _, err = run(capsys, "--config", str(bad), "calendar", "--year", "2026")
    line = one_line(err)
    assert code == 1 and str(bad) in line and "not UTF-8" in line and "offset" in line
    code, _, err = run(capsys, "--config", str(tmp_path), "calendar", "--year", "2026")  # a folder
    assert code == 1 and "cannot be read" in one_line(err)


@pytest.mark.parametrize("port", ["99999", "0", "-1", "http"])
def test_serve_refuses_a_port_it_cannot_listen_on(capsys, port):
    code, out, err = run(capsys, "serve", "--port", port)
    assert code == 2 and out == "" and f"'{port}' is not a port from 1 to 65535" in err and "Traceback" not in err


def test_serve_prints_where_it_listens_and_a_busy_port_is_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {"PATH": "/usr/bin:/bin", "TTHC_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
               "TTHC_PATHS_VAR_DIR": str(tmp_path / "var")}
        exe = str(Path(sys.executable).with_name("tthc"))
        busy = subprocess.run([exe, "serve", "--port", str(port)], capture_output=True, text=True, env=env,
                              timeout=60, cwd=tmp_path)
    assert busy.returncode == 1 and busy.stdout == ""
    assert one_line(busy.stderr).startswith(f"tthc: serve: cannot listen on 127.0.0.1:{port}:")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    proc = subprocess.Popen([exe, "serve", "--port", str(free)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=tmp_path)
    try:
        assert proc.stdout.readline().strip() == f"Dashboard: http://127.0.0.1:{free}"
        deadline = time.monotonic() + 30
        while True:  # announced after binding: it answers at once
            try:
                socket.create_connection(("127.0.0.1", free), timeout=5).close()
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()


@pytest.mark.parametrize("argv, message", [
    (["import", "--errors", "99999999999999999999", "-o", "x.csv"], "'99999999999999999999' is not a run id"),
    (["import", "--errors", "-1", "-o", "x.csv"], "'-1' is not a run id from 1 to 2147483647"),
    (["demo", "--no-serve", "--per-month", "0"], "'0' is not a number of dossiers from 1 to 1000000"),
    (["digest", "--preview", "--date", "9999-12-31"], "'9999-12-31': date in year 9999 is outside"),
    (["users", "revoke", "99999999999"], "'99999999999' is not a token id"),
    (["serve", "--workers", "100000"], "'100000' is not a number of workers from 0 to 64"),
])
def test_absurd_numbers_and_dates_are_usage_errors(capsys, argv, message):
    """Found looking for the same class: a run id past 64 bits was an OverflowError in the driver, a
    digest date in 9999 an IndexError in the calendar, a demo of 0 or -5 dossiers a month ran."""
    code, out, err = run(capsys, *argv)
    assert code == 2 and message in err and "Traceback" not in err
