"""Meta facts: an upsert that concurrent writers cannot break."""

from __future__ import annotations

import threading

from tracker.derive import get_meta, set_meta


def test_set_meta_inserts_then_updates(engine):
    assert get_meta(engine, "k") is None
    set_meta(engine, "k", "1")
    set_meta(engine, "k", "2")
    assert get_meta(engine, "k") == "2"


def test_concurrent_first_writes_of_one_key_do_not_collide(engine):
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def write(i: int) -> None:
        try:
            barrier.wait()
            set_meta(engine, "race", str(i))
        except BaseException as exc:  # noqa: BLE001  (collected and asserted below)
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert get_meta(engine, "race") in {str(i) for i in range(6)}
