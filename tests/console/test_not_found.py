"""Unknown paths under ``/console`` answer the console's own HTML 404 page, signed in or not;
the API's paths keep their JSON 404."""

from __future__ import annotations

import httpx

from tests.console.conftest import browser
from tests.live import LiveServer


def test_an_unknown_console_path_is_an_html_404_page(admin_http: httpx.Client) -> None:
    for path in ("/console/nope", "/console/orders/1/nope", "/console/admin/nope/deeper"):
        page = admin_http.get(path)
        assert page.status_code == 404, path
        assert page.headers["content-type"].startswith("text/html")
        assert "<h1>Page not found</h1>" in page.text
        assert '<link rel="stylesheet" href="/console/static/console.css">' in page.text
        assert "Sign out" in page.text  # the console's header, as on every page
    assert admin_http.post("/console/nope").status_code == 404


def test_a_signed_out_visitor_gets_the_same_404_page(live_server: LiveServer) -> None:
    with browser(live_server) as http:
        page = http.get("/console/nope")
    assert page.status_code == 404
    assert "<h1>Page not found</h1>" in page.text


def test_known_console_pages_and_the_apis_404_are_unchanged(
    admin_http: httpx.Client, live_server: LiveServer
) -> None:
    assert admin_http.get("/console").status_code == 200
    assert admin_http.get("/console/static/console.css").status_code == 200
    with browser(live_server) as http:
        api = http.get("/nope")
    assert api.status_code == 404
    assert api.headers["content-type"].startswith("application/json")
