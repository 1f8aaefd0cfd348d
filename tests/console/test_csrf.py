"""Every form the console posts is refused (403, with a page saying why) without the session's
CSRF token or with a wrong one, and nothing it would have changed is changed."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import Engine, func, select

from oms_export.db.schema import console_users, oauth_clients
from tests.console.conftest import PASSWORD, Store, browser, csrf_token
from tests.live import LiveServer

FORMS = [
    ("/console/sign-out", {}),
    ("/console/admin/clients", {"name": "x", "companies": "1001"}),
    ("/console/admin/clients/nope/rotate", {}),
    ("/console/admin/clients/nope/revoke", {}),
    ("/console/admin/users", {"email": "new@example.com", "password": PASSWORD, "role": "admin"}),
    ("/console/admin/users/remove", {"email": "viewer@example.com"}),
    ("/console/admin/events/retry", {}),
]


def _counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (
            conn.execute(select(func.count()).select_from(console_users)).scalar_one(),
            conn.execute(select(func.count()).select_from(oauth_clients)).scalar_one(),
        )


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_every_admin_form_is_refused_without_the_right_token(
    admin_http: httpx.Client, engine: Engine, token: str | None
) -> None:
    before = _counts(engine)
    for url, data in FORMS:
        sent = data if token is None else {**data, "csrf_token": token}
        answer = admin_http.post(url, data=sent)
        assert answer.status_code == 403, url
        assert "security token" in answer.text, url
    assert _counts(engine) == before
    assert admin_http.get("/console").status_code == 200  # still signed in: sign-out refused


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_sign_in_is_refused_without_the_right_token(
    live_server: LiveServer, store: Store, token: str | None
) -> None:
    with browser(live_server) as http:
        http.get("/console/sign-in")
        data = {"email": "admin@example.com", "password": PASSWORD}
        answer = http.post(
            "/console/sign-in", data=data if token is None else {**data, "csrf_token": token}
        )
        assert answer.status_code == 403
        assert http.get("/console").status_code == 303


def test_another_sessions_token_is_refused(live_server: LiveServer, store: Store) -> None:
    with browser(live_server) as other, browser(live_server) as http:
        stolen = csrf_token(other.get("/console/sign-in"))
        http.get("/console/sign-in")
        data = {"csrf_token": stolen, "email": "admin@example.com", "password": PASSWORD}
        assert http.post("/console/sign-in", data=data).status_code == 403


def test_every_post_form_on_the_pages_carries_the_token(admin_http: httpx.Client) -> None:
    for page in ("/console", "/console/admin/clients", "/console/admin/users"):
        text = admin_http.get(page).text
        assert text.count('method="post"') == text.count('name="csrf_token"'), page
