"""The Redis fault run's judge: a good row passes, and each broken expectation is named.

``make soak`` runs the faults themselves over uvicorn and a real redis-server, outside the
test suite; this keeps the verdict honest, so a run that exits 0 means something.
"""

from __future__ import annotations

from typing import Any

import pytest
from benchmarks.redis_faults import failures

GOOD: dict[str, Any] = {
    "fault": "frozen",
    "before": ["200"],
    "during": ["200", "503"],
    "after_staleness": ["503"],
    "repair": ["503", "200"],
    "all_503_have_retry_after": True,
    "hangs": 0,
    "log_lines_during": 1,
    "recovered_after_s": 0.2,
}


def test_a_row_that_meets_every_expectation_passes() -> None:
    assert failures(GOOD) == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"before": ["200", "503"]}, "before the fault"),
        ({"during": ["200", "500", "503"]}, "during the fault"),
        ({"after_staleness": ["200", "503"]}, "during the fault"),
        ({"repair": ["502", "200"]}, "after the repair"),
        ({"all_503_have_retry_after": False}, "without Retry-After"),
        ({"hangs": 1}, "slower than"),
        ({"log_lines_during": 12}, "log lines"),
        ({"log_lines_during": 0}, "log lines"),
        ({"recovered_after_s": None}, "no 200"),
    ],
)
def test_each_broken_expectation_fails_the_run(change: dict[str, Any], reason: str) -> None:
    wrong = failures({**GOOD, **change})
    assert len(wrong) == 1
    assert reason in wrong[0]
