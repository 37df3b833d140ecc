"""The soak run's judge, held to the real app in process: every kind of token gets the answer it expects.

``make soak`` itself runs for minutes over uvicorn and stays out of the test suite;
this keeps its expectations and its answer checker honest, so a soak that reports
zero wrong answers means something.
"""

from __future__ import annotations

from collections import Counter

import httpx
from benchmarks.soak import Mix, app, challenge_error, check, rss_verdict


async def test_each_kind_of_token_gets_the_answer_the_soak_expects() -> None:
    mix = Mix(seed=3)
    seen: Counter[str] = Counter()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app()), base_url="http://testserver") as client:
        for _ in range(400):
            kind, token, expected = mix.next()
            headers = {} if token is None else {"Authorization": f"Bearer {token}"}
            response = await client.get("/", headers=headers)
            lowered = {name.lower(): value for name, value in response.headers.items()}
            assert check(expected, response.status_code, lowered, response.content), (kind, response.text)
            seen[kind] += 1
    assert set(seen) == {name for name, _ in mix.kinds}


def test_the_checker_catches_wrong_answers() -> None:
    challenge = {"www-authenticate": 'Bearer realm="api", error="invalid_token", error_description="x"'}
    assert challenge_error(challenge) == "invalid_token"
    assert challenge_error({"www-authenticate": 'Bearer realm="api"'}) is None
    assert check((401, "invalid_token", None), 401, challenge, b"")
    assert not check((401, "invalid_token", None), 500, challenge, b"")
    assert not check((401, None, None), 401, challenge, b"")  # missing credentials: a bare challenge
    assert not check((200, None, "fresh7"), 200, {}, b'{"sub": "fresh8"}')  # another user's answer
    assert not check((200, None, None), 200, {}, b'{"sub": "mallory"}')


def test_rss_is_flat_only_when_it_stops_growing_after_the_warm_up() -> None:
    flat = rss_verdict([[40.0, 41.0], [45.0, 45.0], [45.5, 45.2], [46.0, 45.1]], warmup=1)
    assert flat["flat"]
    assert flat["workers"][0] == {"first_mib": 45.0, "last_mib": 46.0, "max_mib": 46.0, "growth_mib": 1.0, "flat": True}
    growing = rss_verdict([[45.0], [60.0], [80.0]], warmup=0)
    assert not growing["flat"]
