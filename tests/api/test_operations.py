"""Operations: Prometheus metrics per app, request ids, one JSON access line per request, no
secret in any log line, and a middleware that never holds back a streamed body."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import httpx
import orjson
import pytest
from sqlalchemy import Engine
from starlette.responses import StreamingResponse

from oms_export.api.app import create_app
from oms_export.api.logs import JsonFormatter, log_config
from oms_export.api.metrics import Metrics
from oms_export.api.middleware import incoming_request_id, loggable_query
from oms_export.api.state import ServiceState
from oms_export.settings import Settings
from tests.api.nodes import app_of
from tests.live import LiveServer

PATH = "/export-api/order-item-details"
SCOPE = "export-api.order-item-details"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def token_body(client: dict[str, Any], secret: str | None = None) -> str:
    return (
        f"client_id={client['client_id']}&client_secret={secret or client['client_secret']}"
        f"&grant_type=client_credentials&scope={SCOPE}"
    )


def metrics_of(live_server: LiveServer) -> ServiceState:
    state: ServiceState = app_of(live_server).state.service
    return state


def access_lines(caplog: pytest.LogCaptureFixture, count: int) -> list[logging.LogRecord]:
    """The access lines once ``count`` are there: each is written after its response has gone
    out, in the server's thread, so the client may see the response first."""
    deadline = time.monotonic() + 10
    while True:
        lines = [r for r in caplog.records if r.name == "oms_export.access"]
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.01)


def sample(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_metrics_are_prometheus_text_counting_requests_by_route_template_and_status(
    http: httpx.Client, live_server: LiveServer, reporting_client: dict[str, Any]
) -> None:
    http.get("/health")
    token = http.post("/token", content=token_body(reporting_client), headers=FORM).json()
    http.get(
        PATH + "?filter[status:in]=8", headers={"Authorization": f"Bearer {token['access_token']}"}
    )
    http.get("/no-such-page-abc123")
    response = http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    assert 'oms_export_http_requests_total{method="GET",route="/health",status="200"} 1.0' in text
    assert f'route="{PATH}",status="200"' in text
    assert 'oms_export_http_requests_total{method="POST",route="/token",status="200"} 1.0' in text
    assert 'route="unmatched",status="404"' in text
    assert "no-such-page-abc123" not in text, "a path nobody routes must not become a label"
    assert "filter" not in text
    for declared in (
        "oms_export_http_request_duration_seconds histogram",
        "oms_export_export_rows_total counter",
        "oms_export_export_duration_seconds histogram",
        "oms_export_exports_in_progress gauge",
        "oms_export_export_refusals_total counter",
    ):
        assert f"# TYPE {declared}\n" in text


def test_an_export_over_http_reports_its_rows_and_duration(
    http: httpx.Client, live_server: LiveServer, reporting_client: dict[str, Any]
) -> None:
    token = http.post("/token", content=token_body(reporting_client), headers=FORM).json()
    auth = {"Authorization": f"Bearer {token['access_token']}"}
    assert len(http.get(PATH, headers=auth).json()) == 1
    assert http.get(PATH + "?format=csv", headers=auth).status_code == 200
    metrics = metrics_of(live_server).metrics  # recorded before the body's last chunk is sent
    assert sample(metrics, "oms_export_export_rows_total", format="json") == 1
    assert sample(metrics, "oms_export_export_rows_total", format="csv") == 1
    assert sample(metrics, "oms_export_export_duration_seconds_count", format="json") == 1
    assert sample(metrics, "oms_export_exports_in_progress") == 0


def test_export_finished_counts_rows_and_observes_the_duration_by_format() -> None:
    metrics = Metrics()
    metrics.export_finished(rows=1200, seconds=0.8, format="csv")
    metrics.export_finished(rows=300, seconds=12.0, format="csv")
    metrics.export_finished(rows=5, seconds=0.01, format="json")
    assert sample(metrics, "oms_export_export_rows_total", format="csv") == 1500
    assert sample(metrics, "oms_export_export_rows_total", format="json") == 5
    assert sample(metrics, "oms_export_export_duration_seconds_count", format="csv") == 2
    assert sample(metrics, "oms_export_export_duration_seconds_bucket", format="csv", le="1.0") == 1
    assert b'oms_export_export_rows_total{format="csv"} 1500.0' in metrics.render()[0]


def test_two_apps_in_one_process_keep_separate_counters(settings: Settings, engine: Engine) -> None:
    with LiveServer(settings, engine) as first, LiveServer(settings, engine) as second:
        for _ in range(3):
            httpx.get(first.url + "/health")
        httpx.get(second.url + "/health")
        counts = [
            sample(metrics_of(s).metrics, "oms_export_http_requests_total",
                   method="GET", route="/health", status="200")
            for s in (first, second)
        ]  # fmt: skip
    assert counts == [3, 1]


def test_each_response_carries_a_request_id_new_unless_a_sane_one_came_in(
    http: httpx.Client,
) -> None:
    generated = [http.get("/health").headers["x-request-id"] for _ in range(2)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", rid) for rid in generated)
    assert generated[0] != generated[1]
    kept = http.get("/health", headers={"X-Request-ID": "edge-7f3a:01"})
    assert kept.headers["x-request-id"] == "edge-7f3a:01"
    for insane in ("has space", "x" * 200, "<script>", ""):
        replaced = http.get("/health", headers={"X-Request-ID": insane}).headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{32}", replaced)
    assert http.get("/nope").headers["x-request-id"], "errors carry one too"


def test_incoming_request_ids_are_checked_before_use() -> None:
    def scope(value: bytes) -> dict[str, Any]:
        return {"headers": [(b"x-request-id", value)]}

    assert incoming_request_id(scope(b"abc-123")) == "abc-123"
    assert incoming_request_id(scope(b"abc\x00")) is None
    assert incoming_request_id(scope(b"-leading-dash")) is None
    assert incoming_request_id({"headers": []}) is None


def test_one_access_line_per_request_with_id_route_status_duration_and_client(
    http: httpx.Client, reporting_client: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="oms_export.access"):
        token = http.post("/token", content=token_body(reporting_client), headers=FORM).json()
        response = http.get(
            PATH + "?filter[status:in]=8&format=csv",
            headers={"Authorization": f"Bearer {token['access_token']}", "X-Request-ID": "r-1"},
        )
        assert response.status_code == 200
        lines = [orjson.loads(JsonFormatter().format(r)) for r in access_lines(caplog, 2)]
    assert len(lines) == 2
    [line] = [line for line in lines if line["request_id"] == "r-1"]
    assert {
        k: line[k] for k in ("request_id", "method", "path", "route", "status", "client_id")
    } == {
        "request_id": "r-1",
        "method": "GET",
        "path": PATH,
        "route": PATH,
        "status": 200,
        "client_id": reporting_client["client_id"],
    }
    assert line["query"] == "filter[status:in]=8&format=csv"
    assert isinstance(line["duration_ms"], float)
    assert line["level"] == "info"
    assert line["logger"] == "oms_export.access"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])


def test_query_values_are_logged_only_for_known_harmless_parameters() -> None:
    raw = b"filter[status:in]=8,516&options[includeAttributes]=1&page[size]=10&page[after]=c1"
    assert loggable_query(raw) == (
        "filter[status:in]=8,516&options[includeAttributes]=1&page[size]=10&page[after]=-"
    )
    assert loggable_query(b"access_token=abc&client_secret=s3&format=csv") == (
        "access_token=-&client_secret=-&format=csv"
    )


def test_no_secret_or_token_reaches_any_log_line(
    http: httpx.Client, reporting_client: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    secret = reporting_client["client_secret"]
    with caplog.at_level(logging.DEBUG):
        token = http.post("/token", content=token_body(reporting_client), headers=FORM).json()[
            "access_token"
        ]
        http.post("/token", content=token_body(reporting_client, "wrong-guess-xyz"), headers=FORM)
        auth = {"Authorization": f"Bearer {token}"}
        assert http.get(PATH, headers=auth).status_code == 200
        http.get(PATH + f"?access_token={token}", headers=auth)  # a client's mistake, 400
        http.get("/health", params={"client_secret": secret})
        http.post(
            "/token",
            content=b"grant_type=client_credentials",
            auth=(reporting_client["client_id"], secret),
            headers=FORM,
        )
        access_lines(caplog, 6)
    # The service runs in this process; the test's own HTTP client (httpx) logs the URLs it
    # was given, which is the client's business, so its lines are left out.
    service = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    lines = [JsonFormatter().format(record) for record in service]
    assert sum('"logger":"oms_export.access"' in line for line in lines) == 6
    everything = "\n".join(lines + [logging.Formatter().format(record) for record in service])
    for leaked in (secret, token, "wrong-guess-xyz", "Bearer", "Basic "):
        assert leaked not in everything


def test_unhandled_errors_are_logged_and_answered_with_the_request_id(
    settings: Settings, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    server = LiveServer(settings, engine)

    async def broken() -> None:
        raise RuntimeError("boom")

    app_of(server).add_api_route("/broken", broken)
    with server, caplog.at_level(logging.INFO):
        response = httpx.get(server.url + "/broken", headers={"X-Request-ID": "trace-42"})
        access_lines(caplog, 1)
    assert response.status_code == 500
    assert response.json()["error"] == "server_error"
    assert response.headers.get_list("X-Request-ID") == ["trace-42"]
    [error] = [r for r in caplog.records if r.getMessage() == "unhandled error"]
    assert getattr(error, "request_id", None) == "trace-42"
    [access] = [r for r in caplog.records if r.name == "oms_export.access"]
    assert (getattr(access, "status", None), getattr(access, "error", None)) == (
        500,
        "RuntimeError",
    )


def test_the_middleware_passes_a_streamed_body_through_without_buffering(
    settings: Settings, engine: Engine
) -> None:
    server = LiveServer(settings, engine)
    first_chunk_read = threading.Event()

    async def stream() -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            yield b"first"
            await anyio.to_thread.run_sync(first_chunk_read.wait, 10)
            yield b"second"

        return StreamingResponse(body())

    app_of(server).add_api_route("/stream", stream)
    with server, httpx.stream("GET", server.url + "/stream") as response:
        started = time.monotonic()
        chunks = response.iter_raw()
        assert next(chunks) == b"first"
        assert time.monotonic() - started < 5, "the first chunk came only with the last"
        assert response.headers["x-request-id"]
        first_chunk_read.set()
        assert b"".join(chunks) == b"second"


def test_json_formatter_writes_one_parsable_line_with_extras_and_exception() -> None:
    try:
        raise ValueError("bad")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed %s", ("a",), None)
        import sys

        record.exc_info = sys.exc_info()
    record.request_id = "r-9"
    line = JsonFormatter().format(record)
    assert "\n" not in line
    parsed = orjson.loads(line)
    assert (parsed["message"], parsed["level"], parsed["request_id"]) == (
        "failed a",
        "error",
        "r-9",
    )
    assert "ValueError: bad" in parsed["exception"]


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_serve_log_config_sends_every_logger_through_one_format(restore_logging: None) -> None:
    import logging.config

    for fmt in ("json", "text"):
        config = log_config(fmt)
        assert config["handlers"]["stderr"]["formatter"] == fmt
        assert {"uvicorn", "uvicorn.error", "oms_export"} <= set(config["loggers"])
        logging.config.dictConfig(config)
        assert logging.getLogger("oms_export.access").getEffectiveLevel() == logging.INFO
    # create_app itself configures nothing: the service's output is chosen by `serve`.
    create_app(Settings())
