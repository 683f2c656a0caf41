"""The search index's order key: newer is higher, ids break ties, and every id comes back."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from db.search import article_id_of, rank_of

MAX_ID = 2**31 - 1
# Hypothesis takes naive bounds and adds the zone itself.
times = st.datetimes(
    min_value=datetime(1900, 1, 1),  # noqa: DTZ001
    max_value=datetime(2200, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)
ids = st.integers(min_value=1, max_value=MAX_ID)


@given(times, ids, times, ids)
def test_rank_orders_by_time_then_id_and_keeps_the_id(
    first: datetime, first_id: int, second: datetime, second_id: int
) -> None:
    assert article_id_of(rank_of(first, first_id)) == first_id
    assert -(2**63) <= rank_of(first, first_id) < 2**63
    a = (math.floor(first.timestamp()), first_id)
    b = (math.floor(second.timestamp()), second_id)
    within = datetime(1952, 1, 1, tzinfo=UTC) <= min(first, second)
    within = within and max(first, second) < datetime(2088, 1, 1, tzinfo=UTC)
    if within and a != b:
        assert (rank_of(first, first_id) < rank_of(second, second_id)) == (a < b)


def test_times_beyond_68_years_from_2020_share_the_end_of_the_range() -> None:
    far = datetime(2150, 1, 1, tzinfo=UTC)
    assert rank_of(far, 5) == rank_of(far + timedelta(days=9000), 5)
    assert rank_of(far, 5) < rank_of(far, 6)
    assert article_id_of(rank_of(datetime(1900, 1, 1, tzinfo=UTC), 7)) == 7
