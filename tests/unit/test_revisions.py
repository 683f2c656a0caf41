"""Where a reader in the middle of a story goes on after the story is revised."""

from __future__ import annotations

from db.revisions import new_positions


def test_a_reader_keeps_the_same_heading_when_it_moved() -> None:
    old = [(1, None), (2, "Cost"), (3, "Safety")]
    new = [(1, None), (2, None), (3, "Cost"), (4, "Safety")]
    assert new_positions(old, new) == {1: 1, 2: 3, 3: 4}


def test_without_the_heading_the_same_index_never_past_the_end() -> None:
    old = [(1, None), (2, "Cost"), (3, "Safety"), (4, None)]
    new = [(1, None), (2, "Budget")]
    assert new_positions(old, new) == {1: 1, 2: 2, 3: 2, 4: 2}


def test_a_repeated_heading_goes_to_its_first_section() -> None:
    old = [(1, "Cost"), (2, "Cost")]
    new = [(1, None), (2, "Cost"), (3, "Cost")]
    assert new_positions(old, new) == {1: 2, 2: 2}
