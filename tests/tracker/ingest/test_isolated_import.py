"""A web upload is read in a child process with memory and time limits (issue 12): whatever the
file does, the calling process lives on and the file is rejected with a recorded run."""

from __future__ import annotations

import os
import re

from sqlalchemy import select

from bench.gen_igate_csv import generate
from tests import hostile as hx
from tracker.ingest.isolated import import_isolated
from tracker.models import Dossier, ImportRun


def test_an_upload_that_needs_too_much_memory_is_rejected_and_recorded(engine, settings, tmp_path):
    # within every import.max_* limit (29,000 rows x 1,000 columns = 29M cells), yet ~1 GB for the reader
    far = '<row r="29000"><c r="ALL29000"><v>1</v></c></row>'
    path = hx.xlsx(tmp_path / "heavy.xlsx", hx.sheet_xml(hx.good_rows(), extra=far))
    res = import_isolated(engine, settings, path, memory_mb=256)
    assert os.getpid()  # still here
    # the workbook reader's own child (tracker.ingest.forked) runs out of what the upload's child has left
    assert res.status == "failed" and re.fullmatch(
        r"heavy.xlsx: not a readable Excel workbook \(reading it needed more than the \d+ MB of memory left to this "
        r"import; for an upload, setting import.upload_memory_mb\)", res.message), res.message
    with engine.connect() as conn:
        assert conn.execute(select(ImportRun.id, ImportRun.status)).all() == [(res.run_id, "failed")]


def test_an_upload_that_takes_too_long_is_stopped_and_its_run_marked(engine, settings, tmp_path):
    path = generate(40_000, tmp_path / "slow.csv")
    res = import_isolated(engine, settings, path, seconds=0.5)
    assert res.status == "failed" and "took longer than the 0.5 s an upload may take" in res.message
    with engine.connect() as conn:
        runs = conn.execute(select(ImportRun.id, ImportRun.status, ImportRun.message)).all()
    assert len(runs) == 1 and runs[0].status == "failed" and runs[0].message == res.message


def test_an_ordinary_upload_is_imported_by_the_child(engine, settings, tmp_path):
    path = generate(50, tmp_path / "ok.csv")
    res = import_isolated(engine, settings, path)
    assert (res.status, res.inserted) == ("done", 50)
    with engine.connect() as conn:
        assert len(conn.execute(select(Dossier.id)).all()) == 50
