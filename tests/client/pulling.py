"""Running ``oms-export pull`` as its own process against a live service, and what to compare."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import httpx
import orjson

ALL_OPTIONS = {
    "options[includeProductOwner]": "1",
    "options[includeProductPrice]": "1",
    "options[includeProductEcommerceInfo]": "1",
    "options[includeAttributes]": "1",
}


def pull_command(url: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "oms_export", "pull", "--url", url, *args]


def pull_env(credentials: dict[str, Any], **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "OMS_EXPORT_CLIENT_ID": credentials["client_id"],
        "OMS_EXPORT_CLIENT_SECRET": credentials["client_secret"],
        **extra,
    }


def pull(
    url: str, credentials: dict[str, Any], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[bytes]:
    """``oms-export pull`` with the client's credentials in the environment, as a user runs it."""
    return subprocess.run(
        pull_command(url, *args),
        env=pull_env(credentials),
        capture_output=True,
        timeout=timeout,
        check=False,
    )


def service_export(
    url: str, credentials: dict[str, Any], params: dict[str, str] | None = None
) -> httpx.Response:
    """The service's own answer, unpaged, fetched with nothing but httpx."""
    with httpx.Client(base_url=url, timeout=60) as http:
        token = http.post(
            "/token",
            data={
                "grant_type": "client_credentials",
                "client_id": credentials["client_id"],
                "client_secret": credentials["client_secret"],
            },
        ).json()["access_token"]
        response = http.get(
            "/export-api/order-item-details",
            params=params or {},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 200, response.text
    return response


def service_rows(
    url: str, credentials: dict[str, Any], params: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = orjson.loads(service_export(url, credentials, params).content)
    return rows
