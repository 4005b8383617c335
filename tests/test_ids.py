from __future__ import annotations

import re
import threading

from paycore import new_order_id


def test_order_ids_are_20_chars_of_crockford_base32():
    for _ in range(100):
        assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{20}", new_order_id())


def test_order_ids_are_strictly_increasing_within_a_process():
    ids = [new_order_id() for _ in range(10_000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_order_ids_are_unique_across_threads():
    results: list[list[str]] = [[] for _ in range(4)]

    def work(bucket: list[str]) -> None:
        bucket.extend(new_order_id() for _ in range(2_000))

    threads = [threading.Thread(target=work, args=(bucket,)) for bucket in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [order_id for bucket in results for order_id in bucket]
    assert len(set(everything)) == len(everything)
