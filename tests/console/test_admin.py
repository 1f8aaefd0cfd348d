"""Admin pages: a client's secret is shown once, on the answer to its form, and on no page
after; rotate and revoke; console users; a viewer gets 403 on every admin page."""

from __future__ import annotations

import re
from datetime import datetime

import httpx
import pytest
from sqlalchemy import Engine, insert, select

from oms_export.db.schema import event_attempts, events
from tests.console.conftest import PASSWORD, Store, csrf_token

ADMIN_PAGES = [
    "/console/admin/companies",
    "/console/admin/clients",
    "/console/admin/users",
    "/console/admin/events",
]
SECRET = re.compile(r'<code class="client-secret">([^<]+)</code>')


def _never_again(http: httpx.Client, secret: str) -> None:
    for page in ["/console", "/console/orders", *ADMIN_PAGES]:
        assert secret not in http.get(page).text, page


def test_a_created_clients_secret_appears_once(admin_http: httpx.Client, store: Store) -> None:
    form = admin_http.get("/console/admin/clients")
    created = admin_http.post(
        "/console/admin/clients",
        data={
            "csrf_token": csrf_token(form),
            "name": "reporting",
            "companies": "1001, 1002",
            "scope": "export-api.order-item-details",
        },
    )
    assert created.status_code == 200
    assert created.headers["cache-control"] == "no-store"
    (secret,) = SECRET.findall(created.text)
    token = admin_http.post(
        "/token",
        data={
            "grant_type": "client_credentials",
            "client_id": _client_id(created),
            "client_secret": secret,
        },
    )
    assert token.status_code == 200
    _never_again(admin_http, secret)


def _client_id(page: httpx.Response) -> str:
    found = re.search(r"/console/admin/clients/([^/]+)/rotate", page.text)
    assert found
    return found.group(1)


def test_rotate_shows_a_new_secret_once_and_revoke_ends_the_client(
    admin_http: httpx.Client, store: Store
) -> None:
    token = csrf_token(admin_http.get("/console/admin/clients"))
    created = admin_http.post(
        "/console/admin/clients", data={"csrf_token": token, "name": "r", "companies": "1001"}
    )
    (first,) = SECRET.findall(created.text)
    client_id = _client_id(created)
    rotated = admin_http.post(
        f"/console/admin/clients/{client_id}/rotate", data={"csrf_token": token}
    )
    (second,) = SECRET.findall(rotated.text)
    assert second != first
    assert first not in rotated.text
    _never_again(admin_http, second)
    revoked = admin_http.post(
        f"/console/admin/clients/{client_id}/revoke", data={"csrf_token": token}
    )
    assert revoked.status_code == 200
    assert "revoked" in revoked.text
    answer = admin_http.post(
        "/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": second},
    )
    assert answer.status_code == 401


def test_a_bad_client_form_says_why(admin_http: httpx.Client, store: Store) -> None:
    token = csrf_token(admin_http.get("/console/admin/clients"))
    answer = admin_http.post(
        "/console/admin/clients", data={"csrf_token": token, "name": "r", "companies": "9999"}
    )
    assert answer.status_code == 400
    assert "9999" in answer.text
    assert not SECRET.findall(answer.text)


def test_an_admin_adds_and_removes_a_console_user(admin_http: httpx.Client, store: Store) -> None:
    token = csrf_token(admin_http.get("/console/admin/users"))
    added = admin_http.post(
        "/console/admin/users",
        data={
            "csrf_token": token,
            "email": "new@example.com",
            "password": PASSWORD,
            "role": "viewer",
            "companies": "1002",
        },
    )
    assert added.status_code == 200
    assert "new@example.com" in added.text
    removed = admin_http.post(
        "/console/admin/users/remove", data={"csrf_token": token, "email": "new@example.com"}
    )
    assert removed.status_code == 200
    assert "User new@example.com removed." in removed.text


def test_the_companies_page_lists_subscriptions(admin_http: httpx.Client, store: Store) -> None:
    page = admin_http.get("/console/admin/companies")
    assert "1001" in page.text
    assert "order_manager" in page.text


@pytest.mark.parametrize("page", ADMIN_PAGES)
def test_a_viewer_gets_403_on_admin_pages(viewer_http: httpx.Client, page: str) -> None:
    answer = viewer_http.get(page)
    assert answer.status_code == 403
    assert "Admins only" in answer.text


def test_a_viewer_cannot_post_admin_forms(viewer_http: httpx.Client) -> None:
    token = csrf_token(viewer_http.get("/console"))
    answer = viewer_http.post(
        "/console/admin/clients", data={"csrf_token": token, "name": "x", "companies": "1001"}
    )
    assert answer.status_code == 403
    assert 'class="client-secret"' not in answer.text


def _failed_event(engine: Engine, store: Store, event_id: str) -> None:
    moment = datetime(2024, 5, 1, 9, 0, 0)
    with engine.begin() as conn:
        row = conn.execute(
            insert(events)
            .values(
                event_id=event_id,
                order_id=store.acme_order,
                company_id=store.acme,
                kind="status_callback",
                occurred_at=moment,
                status=8,
                url="https://example.com/hook",
                body="{}",
                state="failed",
                attempts=3,
                next_attempt_at=moment,
            )
            .returning(events.c.id)
        ).scalar_one()
        conn.execute(
            insert(event_attempts).values(
                event_id=row, at=moment, status_code=500, error="receiver answered 500"
            )
        )


def _states(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(select(events.c.event_id, events.c.state)).tuples().all())


def test_failed_events_are_listed_and_retried(
    admin_http: httpx.Client, engine: Engine, store: Store
) -> None:
    _failed_event(engine, store, "evt_one")
    _failed_event(engine, store, "evt_two")
    page = admin_http.get("/console/admin/events")
    assert "evt_one" in page.text
    assert "receiver answered 500" in page.text
    token = csrf_token(page)
    one = admin_http.post(
        "/console/admin/events/retry", data={"csrf_token": token, "event_id": "evt_one"}
    )
    assert "1 event(s) queued again." in one.text
    assert _states(engine) == {"evt_one": "pending", "evt_two": "failed"}
    every = admin_http.post("/console/admin/events/retry", data={"csrf_token": token})
    assert "1 event(s) queued again." in every.text
    assert _states(engine) == {"evt_one": "pending", "evt_two": "pending"}
    assert "No failed events." in every.text
