"""The one default train/test split, used wherever a user did not choose one (Forecast page, API).

Test on the last seven days, or on the last 30% of a shorter series, starting at local midnight; at
least three days of history must stay before the test window (else there is no default split).
"""

from __future__ import annotations

import pandas as pd

__all__ = ["MIN_HISTORY", "TEST_DAYS", "TEST_SHARE", "default_test_start"]

TEST_DAYS = 7
TEST_SHARE = 0.3
#: The least history the default split leaves for training.
MIN_HISTORY = pd.Timedelta(days=3)


def default_test_start(start: pd.Timestamp, end: pd.Timestamp) -> pd.Timestamp | None:
    """First test period of the default split of ``[start, end)``, or None when the data is too short.

    Args:
        start: the first period.
        end: the end of the last period (exclusive).
    """
    span = pd.Timestamp(end) - pd.Timestamp(start)
    t = (pd.Timestamp(end) - min(pd.Timedelta(days=TEST_DAYS), span * TEST_SHARE)).normalize()
    return t if t - pd.Timestamp(start) >= MIN_HISTORY else None
