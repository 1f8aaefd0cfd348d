from __future__ import annotations

import httpx


def test_health_reports_the_database_reachable(http: httpx.Client) -> None:
    response = http.get("/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "exports": {"running": 0, "limit": 8},
    }


def test_unknown_path_is_a_json_404(http: httpx.Client) -> None:
    response = http.get("/nope")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"] == "not_found"


def test_export_without_a_token_is_401_with_bearer_challenge(http: httpx.Client) -> None:
    response = http.get("/export-api/order-item-details")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["error"] == "invalid_token"
