"""The benchmark's instruments stay honest: the bare reference app serves the same SELECT and the same answer
as GET /accounts, wrk gets the requests it is given, and the profile summary adds up. (No timing here: the
figures belong to `make bench`.)"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect

from app.accounts import service as accounts_service
from app.accounts.models import Account
from app.accounts.schemas import AccountOut
from bench.bare_accounts import SELECT_ACCOUNTS, _account
from bench.load import LoadResult, Request, _lua_requests, combined
from bench.profile import summarise
from bench.report import Row, render


class TestBareApp:
    def test_selects_what_the_service_selects(self) -> None:
        """The reference runs the service's own query: fetching less would flatter it, more would flatter us."""
        listed = re.search(r"SELECT (.*) FROM accounts", SELECT_ACCOUNTS)
        assert listed is not None
        columns = [c.strip() for c in listed.group(1).split(",")]
        service_query = accounts_service.OWNED_ANSWERS.compiled(asyncpg_dialect()).sql  # type: ignore[no-untyped-call]
        assert columns == [c.name for c in accounts_service.OWNED_ANSWERS.statement.selected_columns]
        assert "WHERE accounts.user_id = $1::VARCHAR ORDER BY accounts.id" in service_query
        assert "WHERE user_id = $1 ORDER BY id" in SELECT_ACCOUNTS

    def test_answers_the_service_shape(self) -> None:
        now = datetime.now(UTC)
        row = {c.name: None for c in Account.__table__.columns} | {
            "id": 7,
            "platform": "instagram",
            "username": "john_doe",
            "ig_user_id": "17841400000000001",
            "status": "active",
            "created_at": now,
            "profile_picture_url": "https://cdn.example/p.jpg",
        }
        answer = _account(row)
        assert set(answer) == set(AccountOut.model_fields)
        out = AccountOut.model_validate(answer)
        assert (out.id, out.account_name, out.is_active, out.platform_user_id) == (
            7,
            "john_doe",
            True,
            "17841400000000001",
        )
        assert _account(row | {"status": "disconnected"})["is_active"] is False


class TestWrkRequests:
    def test_every_request_with_its_headers_and_body(self) -> None:
        script = _lua_requests(
            [
                Request("GET", "/a?x=1", {"Authorization": "Bearer t"}),
                Request("POST", "/posts", {"Prefer": "respond-async"}, {"caption": "héllo ]]"}, True),
            ]
        )
        lines = script.splitlines()
        assert lines[0] == "return {" and lines[-1] == "}" and len(lines) == 4
        assert "method = [====[GET]====], path = [====[/a?x=1]====]" in lines[1]
        assert "[ [====[Authorization]====] ] = [====[Bearer t]====]" in lines[1]
        assert "body = nil, fresh_key = false" in lines[1]
        assert "[ [====[Content-Type]====] ] = [====[application/json]====]" in lines[2]
        assert 'body = [====[{"caption": "héllo ]]"}]====], fresh_key = true' in lines[2]

    def test_refuses_what_would_end_a_lua_string(self) -> None:
        with pytest.raises(ValueError, match="terminator"):
            _lua_requests([Request("GET", "/x]====]y")])


def test_profile_summary_shares(tmp_path: Path) -> None:
    raw = tmp_path / "profile.txt"
    raw.write_text(
        "run (asyncio/runners.py:118);send (httpx/_client.py:1) 3\n"
        "run (asyncio/runners.py:118);is_idle (httpcore/_async/http11.py:9) 1\n"
        "run (asyncio/runners.py:118);list_owned (app/accounts/service.py:61);execute (sqlalchemy/orm/session.py:5) 6\n"
    )
    summary = summarise(raw)
    assert summary.startswith("10 samples")
    assert "   60.0 %  execute (sqlalchemy/orm/session.py)" in summary
    assert "   40.0 %  httpx + httpcore (the Instagram client)" in summary
    assert "   10.0 %    of which httpcore's pool bookkeeping" in summary
    assert "   60.0 %  app/ (our code, inclusive)" in summary
    assert "  100.0 %  asyncio itself" in summary


def test_table_marks_each_row() -> None:
    table = render(
        [
            Row("1", "fast", "3 ms", "2 ms", "1.5x", "≤ 5 ms", True),
            Row("2", "slow", "9 s", "", "", "≤ 1 s", False),
            Row("3", "shown", "4", "", "", "bounded", None),
        ]
    )
    lines = table.splitlines()
    assert len(lines) == 5 and len({len(line) for line in lines}) == 1
    assert lines[2].rstrip(" |").endswith("met") and "NOT met" in lines[3] and lines[4].rstrip(" |").endswith("—")


def _window(requests: int, seconds: float, p99: float, cpu: float | None, errors: dict[str, int]) -> LoadResult:
    return LoadResult(
        label="w",
        clients=50,
        seconds=seconds,
        requests=requests,
        requests_per_second=requests / seconds,
        p50_ms=p99 / 2,
        p75_ms=p99 / 1.5,
        p90_ms=p99 / 1.2,
        p99_ms=p99,
        p999_ms=p99 * 2,
        max_ms=p99 * 3,
        mean_ms=p99 / 2,
        errors=errors,
        load_tool_cpu_seconds=0.1,
        server_cpu_ms_per_request=cpu,
    )


def test_alternating_windows_combine_into_one_load() -> None:
    """Goal 3's windows alternate between the two apps; each app's windows add up to one figure: the rate over the
    whole time, the server's CPU weighted by requests, percentiles the windows' median, every error kept."""
    windows = [
        _window(2000, 2.0, 40.0, 0.5, {}),
        _window(1000, 2.0, 80.0, 0.7, {"timeout": 1}),
        _window(3000, 2.0, 30.0, 0.4, {"timeout": 2, "status 5xx": 1}),
    ]
    total = combined(windows)
    assert (total.requests, total.seconds, total.requests_per_second) == (6000, 6.0, 1000.0)
    assert total.p99_ms == 40.0 and total.max_ms == 240.0
    assert total.server_cpu_ms_per_request == round((2000 * 0.5 + 1000 * 0.7 + 3000 * 0.4) / 6000, 3)
    assert total.errors == {"timeout": 3, "status 5xx": 1} and total.failed == 4
    assert combined([_window(10, 1.0, 5.0, None, {})]).server_cpu_ms_per_request is None
