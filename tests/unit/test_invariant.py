from __future__ import annotations

from harness.invariant import HubRow, Stream, check

EPOCH = "0f" * 16


def _rows(seqs: list[int], table: str = "receipt", epoch: str = EPOCH) -> list[HubRow]:
    return [HubRow(table, f"id-{table}-{s}-{i}", "e1", epoch, s) for i, s in enumerate(seqs)]


def _with_entries(seqs: list[int]) -> list[HubRow]:
    receipts = _rows(seqs)
    return receipts + [HubRow("entry", r.event_id, r.edge_id, r.epoch, r.seq) for r in receipts]


def test_everything_once_is_ok() -> None:
    report = check([Stream("e1", EPOCH, 5)], _with_entries([1, 2, 3, 4, 5]))
    assert report.ok
    assert (report.generated, report.stored) == (5, 5)


def test_a_gap_is_counted_as_lost() -> None:
    report = check([Stream("e1", EPOCH, 5)], _with_entries([1, 2, 4, 5]))
    assert (report.lost, report.duplicates) == (1, 0)
    assert report.problems == [f"lost e1/{EPOCH}/3"]


def test_a_position_held_twice_is_a_duplicate() -> None:
    report = check([Stream("e1", EPOCH, 3)], _with_entries([1, 2, 2, 3]))
    assert report.duplicates == 2  # once in the ledger, once in the entry table
    assert not report.ok


def test_positions_beyond_what_the_edge_generated_are_unexpected() -> None:
    report = check([Stream("e1", EPOCH, 2)], _with_entries([1, 2, 3]))
    assert report.unexpected == 1


def test_an_entry_without_a_receipt_is_unexpected() -> None:
    rows = [*_with_entries([1]), HubRow("entry", "stray", "e1", EPOCH, 2)]
    assert check([Stream("e1", EPOCH, 1)], rows).unexpected == 1


def test_uuid_spellings_of_sqlite_and_postgresql_compare_equal() -> None:
    dashed = "0f0f0f0f-0f0f-0f0f-0f0f-0f0f0f0f0f0f"
    report = check([Stream("e1", dashed, 2)], _with_entries([1, 2]))
    assert report.ok
