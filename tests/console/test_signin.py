"""Sign-in, sign-out, the session cookie's flags, and slowed repeated failures (API.md §8)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import Engine

from oms_export.settings import Settings
from tests.conftest import RedisSpace
from tests.console.conftest import PASSWORD, Store, browser, csrf_token, sign_in
from tests.live import LiveServer


def test_the_root_and_the_console_lead_to_sign_in(live_server: LiveServer) -> None:
    with browser(live_server) as http:
        root = http.get("/")
        assert root.status_code == 303
        assert root.headers["location"] == "/console"
        console = http.get("/console")
        assert console.status_code == 303
        assert console.headers["location"] == "/console/sign-in"
        page = http.get("/console/sign-in")
        assert page.status_code == 200
        assert '<label for="email">' in page.text
        assert '<label for="password">' in page.text
        assert 'class="skip-link" href="#main"' in page.text
        assert http.get("/console/static/console.css").status_code == 200


def test_sign_in_shows_the_console_and_sign_out_ends_it(
    live_server: LiveServer, store: Store
) -> None:
    with browser(live_server) as http:
        signed = sign_in(http, "Admin@Example.com")
        assert signed.status_code == 303
        assert signed.headers["location"] == "/console"
        home = http.get("/console")
        assert home.status_code == 200
        assert "admin@example.com" in home.text
        out = http.post("/console/sign-out", data={"csrf_token": csrf_token(home)})
        assert out.status_code == 303
        assert out.headers["location"] == "/console/sign-in"
        assert http.get("/console").status_code == 303


def test_an_old_cookie_is_useless_after_sign_out(live_server: LiveServer, store: Store) -> None:
    with browser(live_server) as http:
        sign_in(http, "admin@example.com")
        home = http.get("/console")
        # A new CSRF token on sign-in; signing out clears the cookie in the browser.
        http.post("/console/sign-out", data={"csrf_token": csrf_token(home)})
        assert "oms_console" not in http.cookies


def test_the_session_cookie_is_httponly_and_samesite(live_server: LiveServer, store: Store) -> None:
    with browser(live_server) as http:
        answer = sign_in(http, "admin@example.com")
        cookie = answer.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=lax" in cookie
        assert "path=/console" in cookie
        assert "secure" not in cookie  # OMS_EXPORT_CONSOLE_SECURE_COOKIES is off by default


@pytest.mark.parametrize(
    ("email", "password"),
    [("admin@example.com", "wrong password!"), ("nobody@example.com", PASSWORD)],
)
def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(
    live_server: LiveServer, store: Store, email: str, password: str
) -> None:
    with browser(live_server) as http:
        answer = sign_in(http, email, password)
        assert answer.status_code == 401
        assert "The email or the password is wrong." in answer.text
        assert http.get("/console").status_code == 303


def test_repeated_failures_are_refused_with_retry_after(
    live_server: LiveServer, store: Store
) -> None:
    with browser(live_server) as http:
        for _ in range(5):
            assert sign_in(http, "admin@example.com", "wrong password!").status_code == 401
        refused = sign_in(http, "admin@example.com", PASSWORD)  # even the right password
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 15 * 60
        # The source address is slowed too, for any email.
        assert sign_in(http, "viewer@example.com", PASSWORD).status_code == 429


def test_failures_on_one_node_count_on_every_node_that_shares_redis(
    settings: Settings, engine: Engine, store: Store, redis_space: RedisSpace
) -> None:
    """Two nodes on one Redis: a guesser spreading five wrong passwords over both is refused
    on either; each node alone would have allowed five more."""
    shared = settings.with_changes(redis_url=redis_space.url, redis_key_prefix=redis_space.prefix)
    with (
        LiveServer(shared, engine) as one,
        LiveServer(shared, engine) as two,
        browser(one) as first,
        browser(two) as second,
    ):
        for n in range(5):
            http = first if n % 2 else second
            assert sign_in(http, "admin@example.com", "wrong password!").status_code == 401
        for http in (first, second):
            assert sign_in(http, "admin@example.com", PASSWORD).status_code == 429
    stored = redis_space.keys()
    assert any("sign-in-failure" in key for key in stored), stored


def test_pages_forbid_framing_and_foreign_assets(live_server: LiveServer) -> None:
    with browser(live_server) as http:
        policy = http.get("/console/sign-in").headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy
        assert "default-src 'self'" in policy


def test_an_idle_session_ends(settings: Settings, engine: Engine, store: Store) -> None:
    short = settings.with_changes(console_session_idle_seconds=1)
    with LiveServer(short, engine) as server, browser(server) as http:
        assert sign_in(http, "admin@example.com").status_code == 303
        kept = http.cookies["oms_console"]
        assert http.get("/console").status_code == 200
        time.sleep(2.5)
        assert http.get("/console").status_code == 303
        http.cookies.clear()
        http.cookies.set("oms_console", kept, path="/console")
        assert http.get("/console").status_code == 303  # the signed time, not the browser's


def test_the_cookie_is_secure_when_asked(settings: Settings, engine: Engine) -> None:
    secure = settings.with_changes(console_secure_cookies=True)
    with LiveServer(secure, engine) as server, browser(server) as http:
        cookie = http.get("/console/sign-in").headers["set-cookie"].lower()
        assert "; secure" in cookie
        assert "httponly" in cookie
