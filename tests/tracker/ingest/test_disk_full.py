"""A full disk during an import and `tthc init` on a read-only location (issue 12): one clear
line each, never a traceback, and the import's run marked failed.

A full disk is simulated with RLIMIT_FSIZE on the `tthc import` process (no mount needed, so it
runs anywhere on Linux): SQLite's writes past the limit fail as a full disk's do. A read-only
location: a read-only tmpfs where this runs as root and may mount, else a directory without write
permission; skipped, saying why, where neither can be set up."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from bench.gen_igate_csv import generate
from tracker.db import make_engine, upgrade
from tracker.models import Dossier, ImportRun

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE and mounts: Linux")
TTHC = str(Path(sys.executable).with_name("tthc"))


def _env(tmp_path: Path, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TTHC_")}
    return {**env, "TTHC_DATABASE_URL": url, "TTHC_PATHS_VAR_DIR": str(tmp_path / "var")}


def test_a_full_disk_during_an_import_is_one_line_and_a_failed_run(tmp_path):
    url = f"sqlite:///{tmp_path / 'full.db'}"
    engine = make_engine(url)
    upgrade(engine)
    path = generate(30_000, tmp_path / "big.csv")
    limit = (tmp_path / "full.db").stat().st_size + (2 << 20)

    def small_disk() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG) instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    done = subprocess.run([TTHC, "import", str(path)], env=_env(tmp_path, url), preexec_fn=small_disk,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stderr.startswith("tthc: big.csv: the import stopped after ")
    with engine.connect() as conn:
        run = conn.execute(select(ImportRun)).one()
        stored = len(conn.execute(select(Dossier.id)).all())
    engine.dispose()
    assert run.status == "failed" and run.message == done.stderr.strip().removeprefix("tthc: ")
    assert stored == run.inserted < 30_000  # the counts are those of the batches that were committed


@pytest.fixture
def read_only_dir(tmp_path):
    where = tmp_path / "ro"
    where.mkdir()
    if os.geteuid() != 0:
        where.chmod(0o555)
        yield where
        where.chmod(0o755)
        return
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(where)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"running as root without permission to mount a read-only tmpfs: {mounted.stderr!r}")
    yield where
    subprocess.run(["umount", str(where)], check=False)


@pytest.mark.parametrize("inside", ["tthc.db", "new/tthc.db"])
def test_tthc_init_on_a_read_only_location_is_one_line(tmp_path, read_only_dir, inside):
    url = f"sqlite:///{read_only_dir / inside}"
    done = subprocess.run([TTHC, "init"], env=_env(tmp_path, url), capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"tthc: database: cannot create or upgrade {url}: "), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
