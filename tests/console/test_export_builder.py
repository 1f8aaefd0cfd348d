"""The export builder over real HTTP: its preview has the API's keys, its download the API's bytes.

The API side is fetched with a real OAuth client of the same companies as the console user (the
viewer: 1001; the admin: every company that may export), with the query string the builder's
download link carries, byte for byte.
"""

from __future__ import annotations

import html
import json
import re
from datetime import datetime

import httpx
import pytest
from sqlalchemy import Engine

from oms_export.auth.clients import create_client
from oms_export.console.users import add_user
from oms_export.settings import Settings
from tests import factories
from tests.console.conftest import PASSWORD, Store, browser, sign_in
from tests.live import LiveServer, bearer

API = "/export-api/order-item-details"
DOWNLOAD = re.compile(r'<a id="download" href="/console/export/download\?([^"]*)"')
HEADER = re.compile(r"<th scope=\"col\">([^<]*)</th>")


@pytest.fixture
def rich(engine: Engine, store: Store) -> None:
    """More orders of 1001 (statuses, completion times, attributes, a product), and one of 1003,
    a company that may not export."""
    factories.product(engine, 77, owner_company_id=store.beta)
    for n, status in enumerate((1, 8, 64, 8)):
        factories.order(
            engine,
            store.acme,
            f"ACME-R{n}",
            status=status,
            completion_datetime=datetime(2024, 5, 1 + n, 12, 0, 0),
            attributes={"channel": f"web{n}"},
            items=[
                {"sku": f"S{n}", "quantity": 2, "product_id": 77, "attributes": {"gift": "y"}},
                {"sku": f"T{n}"},
            ],
        )
    lite = factories.company(engine, 1003, subscription="oms_lite")
    factories.order(engine, lite, "LITE-1")


def _form(**choices: str | list[str]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for name, value in choices.items():
        for one in [value] if isinstance(value, str) else value:
            pairs.append((name, one))
    return pairs


def _build(http: httpx.Client, pairs: list[tuple[str, str]]) -> tuple[httpx.Response, str]:
    page = http.get("/console/export", params=tuple(pairs))
    found = DOWNLOAD.search(page.text)
    return page, html.unescape(found.group(1)) if found else ""


def _api(
    server: LiveServer, engine: Engine, settings: Settings, refs: list[int], query: str
) -> httpx.Response:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        client = create_client(engine, settings, name="same", company_ref_ids=refs)
        token = bearer(http, client)
        return http.get(f"{API}?{query}", headers={"Authorization": f"Bearer {token}"})


CASES = [
    _form(format="json", shape="rows"),
    _form(
        format="csv",
        shape="rows",
        status=["8", "64"],
        option=["includeAttributes", "includeProductOwner"],
    ),
    _form(
        format="ndjson",
        shape="rows",
        completed_from="2024-05-02",
        completed_before="2024-05-04 00:00:00",
        option="includeProductPrice",
    ),
    _form(format="json", shape="orders", company="1001", option="includeAttributes"),
]


@pytest.mark.parametrize("pairs", CASES, ids=["json", "csv-options", "ndjson-range", "orders"])
def test_the_viewers_preview_and_download_equal_the_api(
    viewer_http: httpx.Client,
    live_server: LiveServer,
    engine: Engine,
    settings: Settings,
    rich: None,
    pairs: list[tuple[str, str]],
) -> None:
    page, query = _build(viewer_http, pairs)
    assert page.status_code == 200, page.text
    api = _api(live_server, engine, settings, [1001], query)
    assert api.status_code == 200, api.text

    download = viewer_http.get(f"/console/export/download?{query}")
    assert download.status_code == 200
    assert download.content == api.content
    assert download.headers["content-type"] == api.headers["content-type"]
    assert download.headers["content-disposition"].startswith("attachment; filename=")
    assert "BETA-1" not in download.text

    rows = api.json() if "format=json" in query else None
    if rows is None and "format=ndjson" in query:
        rows = [json.loads(line) for line in api.text.splitlines()]
    if rows is not None:
        assert HEADER.findall(page.text) == list(rows[0])
        assert page.text.count("<tr>") == min(len(rows), 20) + 1
    else:
        assert HEADER.findall(page.text) == api.text.splitlines()[0].split(",")


def test_the_admin_exports_every_company_that_may_export(
    admin_http: httpx.Client,
    live_server: LiveServer,
    engine: Engine,
    settings: Settings,
    rich: None,
) -> None:
    page, query = _build(admin_http, _form(format="csv", shape="rows", option="includeAttributes"))
    assert page.status_code == 200
    assert "1003" not in page.text.split("<select")[1].split("</select>")[0]
    api = _api(live_server, engine, settings, [1001, 1002], query)
    download = admin_http.get(f"/console/export/download?{query}")
    assert download.content == api.content
    assert b"BETA-1" in download.content
    assert b"LITE-1" not in download.content


def test_the_page_shows_the_curl_of_the_download(viewer_http: httpx.Client, rich: None) -> None:
    page, query = _build(viewer_http, _form(format="csv", shape="rows", status=["8"]))
    text = html.unescape(page.text)
    assert query == "filter%5Bstatus%3Ain%5D=8&format=csv&shape=rows"
    assert f'/export-api/order-item-details?{query}" -o export.csv' in text
    assert "grant_type=client_credentials&scope=export-api.order-item-details" in text


def test_a_viewer_cannot_name_another_company(viewer_http: httpx.Client, rich: None) -> None:
    page, query = _build(viewer_http, _form(format="json", shape="rows", company="1002"))
    assert page.status_code == 403
    assert "filter[company_ref_id]" in page.text
    assert "may not export company 1002" in page.text
    assert "BETA-1" not in page.text
    assert query == ""
    download = viewer_http.get("/console/export/download?filter%5Bcompany_ref_id%5D=1002")
    assert download.status_code == 403
    assert "BETA-1" not in download.text
    # Without a company filter the viewer's export holds its own company's orders alone.
    everything = viewer_http.get("/console/export/download?format=ndjson")
    assert "ACME-1" in everything.text
    assert "BETA-1" not in everything.text


@pytest.mark.parametrize(
    ("pairs", "parameter", "field"),
    [
        (_form(completed_from="yesterday"), "filter[completion_datetime:gte]", "completed_from"),
        (_form(updated_before="2024-13-01"), "filter[updated_datetime:lt]", "updated_before"),
        (_form(status="3"), "filter[status:in]", None),
        (_form(format="xml"), "format", None),
        (_form(format="csv", shape="orders"), "shape", None),
        (_form(option="includeEverything"), "options[includeEverything]", None),
    ],
)
def test_bad_values_show_the_parsers_error_naming_the_parameter(
    viewer_http: httpx.Client, pairs: list[tuple[str, str]], parameter: str, field: str | None
) -> None:
    page, query = _build(viewer_http, pairs)
    assert page.status_code == 400
    assert query == ""
    problem = re.search(
        r'<p id="builder-problem" class="error" role="alert">([^<]*)</p>', page.text
    )
    assert problem, page.text
    assert parameter in html.unescape(problem.group(1)) or "shape=orders" in html.unescape(
        problem.group(1)
    )
    if field is not None:
        assert re.search(f'id="{field}"[^>]*aria-invalid="true"', page.text)


def test_the_download_refuses_bad_queries_with_a_page(
    viewer_http: httpx.Client, rich: None
) -> None:
    bad = viewer_http.get("/console/export/download?filter%5Bstatus%5D=3")
    assert bad.status_code == 400
    assert "filter[status]" in html.unescape(bad.text)
    paged = viewer_http.get("/console/export/download?page%5Bsize%5D=1")
    assert paged.status_code == 400
    assert "page[size]" in html.unescape(paged.text)


def test_the_builder_needs_a_signed_in_user(live_server: LiveServer, store: Store) -> None:
    with httpx.Client(base_url=live_server.url) as http:
        for url in ("/console/export", "/console/export/download?format=csv"):
            answer = http.get(url)
            assert answer.status_code == 303
            assert answer.headers["location"] == "/console/sign-in"


def test_a_viewers_company_that_may_not_export_is_named_as_the_api_names_it(
    live_server: LiveServer, engine: Engine, settings: Settings, rich: None
) -> None:
    add_user(engine, "two@example.com", PASSWORD, role="viewer", company_ref_ids=[1001, 1003])
    with browser(live_server) as http:
        sign_in(http, "two@example.com")
        page, query = _build(http, _form(format="csv", shape="rows"))
        assert "1003" not in page.text.split("<select")[1].split("</select>")[0]
        download = http.get(f"/console/export/download?{query}")
    api = _api(live_server, engine, settings, [1001, 1003], query)
    assert download.headers["export-excluded-companies"] == "1003"
    assert api.headers["export-excluded-companies"] == "1003"
    assert download.content == api.content
    assert b"LITE-1" not in download.content
