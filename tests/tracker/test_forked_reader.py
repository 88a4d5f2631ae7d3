"""Rows produced in a forked child with a memory and processor cap (tracker.ingest.forked): what
reaches the parent, in what order, and what a child that aborts, runs away or fails becomes. Real
forks, real limits: the child here does what calamine did with forged workbooks."""

from __future__ import annotations

import gc
import os
import time
from pathlib import Path

import pytest

from tracker.ingest.base import FileRejected, ReadLimits
from tracker.ingest.forked import BATCH, run_forked

SMALL = ReadLimits(cells=1000)  # a cap of 512 MB and a little


def test_head_rows_and_notes_arrive_in_order_across_batches():
    notes_seen = []

    def produce():
        notes = ["title"]

        def rows():
            for i in range(3 * BATCH + 7):
                if i == BATCH + 1:
                    notes.append(f"row {i}: totals row")
                yield i, [f"HS-{i}", "Sở Tư pháp"]
        return "the header", rows(), notes

    head, rows, notes = run_forked("x.xlsx", SMALL, produce)
    assert head == "the header" and notes == ["title"]
    got = []
    for line, cells in rows:
        got.append((line, cells))
        notes_seen.append(len(notes))
    assert got == [(i, [f"HS-{i}", "Sở Tư pháp"]) for i in range(3 * BATCH + 7)]
    assert notes == ["title", f"row {BATCH + 1}: totals row"]
    assert notes_seen[0] == 1 and notes_seen[-1] == 2  # grown as the rows came, not before


def test_a_rejection_among_the_rows_comes_after_the_rows_before_it():
    def produce():
        def rows():
            yield from ((i, ["x"]) for i in range(10))
            raise FileRejected("x.xlsx sheet 'A' row 11: what is wrong")
        return None, rows(), []

    _, rows, _ = run_forked("x.xlsx", SMALL, produce)
    got = []
    with pytest.raises(FileRejected, match=r"^x.xlsx sheet 'A' row 11: what is wrong$"):
        for row in rows:
            got.append(row)
    assert len(got) == 10


def test_a_rejection_before_the_head_is_raised_at_once():
    def produce():
        raise FileRejected("x.xlsx: not a readable Excel workbook (why)")

    with pytest.raises(FileRejected, match=r"^x.xlsx: not a readable Excel workbook \(why\)$"):
        run_forked("x.xlsx", SMALL, produce)


def test_a_child_that_aborts_is_a_rejected_file_and_this_process_lives_on():
    def produce():
        os.abort()  # what Rust does when an allocation fails

    with pytest.raises(FileRejected, match=r"^x.xlsx: not a readable Excel workbook \(reading it needed more than the "
                                           r"\d+ MB a workbook may use: a damaged or forged file, or a sheet beyond "
                                           r"setting import.max_cells\)$"):
        run_forked("x.xlsx", SMALL, produce)


def test_the_memory_cap_holds():
    def produce():
        return None, iter([bytearray(1 << 30)]), []  # 1 GB, over the 512 MB and a little

    with pytest.raises(FileRejected, match="reading it needed more than the 512 MB a workbook may use"):
        run_forked("x.xlsx", SMALL, produce)


def test_a_child_that_runs_away_is_stopped_by_its_processor_time():
    def produce():
        while True:
            pass

    started = time.monotonic()
    with pytest.raises(FileRejected, match=r"^x.xlsx: not a readable Excel workbook \(reading it took more than the "
                                           r"1 s of processor time a workbook may take: a damaged or forged file\)$"):
        run_forked("x.xlsx", SMALL, produce, cpu_seconds=1)
    assert time.monotonic() - started < 30


def test_a_defect_in_the_child_is_raised_as_one_with_its_traceback():
    def produce():
        return None, iter([1 / 0]), []

    with pytest.raises(RuntimeError, match=r"(?s)x.xlsx: the reading child failed:\n.*ZeroDivisionError"):
        run_forked("x.xlsx", SMALL, produce)


def test_a_reader_dropped_unread_has_its_child_reaped():
    def produce():
        return os.getpid(), ((i, ["x" * 100]) for i in range(100_000)), []  # more than a pipe holds

    pid, rows, _ = run_forked("x.xlsx", SMALL, produce)
    assert Path(f"/proc/{pid}").exists()
    next(rows)
    del rows
    gc.collect()
    assert not Path(f"/proc/{pid}").exists()  # killed and waited for: not even a zombie
    pid, rows, _ = run_forked("x.xlsx", SMALL, produce)
    del rows  # never started
    gc.collect()
    assert not Path(f"/proc/{pid}").exists()
