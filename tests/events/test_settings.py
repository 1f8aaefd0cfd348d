"""The events' settings: read from the environment as the docs write them, refused when they
cannot work."""

from __future__ import annotations

import re

import pytest

from oms_export.settings import Settings


def test_the_defaults_are_the_specs() -> None:
    settings = Settings()
    assert settings.event_retry_waits == (30, 120, 600, 3600, 7200)
    assert (settings.event_give_up_seconds, settings.event_timeout_seconds) == (86400, 10)
    assert settings.callback_allow_private is False
    assert settings.event_worker_in_serve is True


def test_the_environment_sets_them() -> None:
    settings = Settings.from_env(
        {
            "OMS_EXPORT_EVENT_RETRY_SECONDS": " 5, 10 ,60",
            "OMS_EXPORT_EVENT_GIVE_UP_SECONDS": "3600",
            "OMS_EXPORT_EVENT_TIMEOUT_SECONDS": "3",
            "OMS_EXPORT_CALLBACK_ALLOW_PRIVATE": "1",
            "OMS_EXPORT_EVENT_WORKER_IN_SERVE": "0",
            "OMS_EXPORT_EVENT_POLL_SECONDS": "0.25",
        }
    )
    assert settings.event_retry_waits == (5, 10, 60)
    assert (settings.event_give_up_seconds, settings.event_timeout_seconds) == (3600, 3)
    assert settings.callback_allow_private is True
    assert settings.event_worker_in_serve is False
    assert settings.event_poll_seconds == 0.25


@pytest.mark.parametrize(
    ("text", "value"), [("1", True), ("true", True), ("Yes", True), ("0", False), ("false", False)]
)
def test_flags_read_as_people_write_them(text: str, value: bool) -> None:
    assert (
        Settings.from_env({"OMS_EXPORT_CALLBACK_ALLOW_PRIVATE": text}).callback_allow_private
        is value
    )


def test_flags_survive_the_trip_serve_makes_to_its_worker_processes() -> None:
    """``serve --workers N`` hands each worker ``str(value)`` of every setting."""
    settings = Settings(callback_allow_private=True, event_worker_in_serve=False)
    environ = {"OMS_EXPORT_" + name.upper(): str(value) for name, value in vars(settings).items()}
    assert Settings.from_env(environ) == settings


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"OMS_EXPORT_EVENT_RETRY_SECONDS": "30,,60"},
            "OMS_EXPORT_EVENT_RETRY_SECONDS must be whole numbers",
        ),
        (
            {"OMS_EXPORT_EVENT_RETRY_SECONDS": "30,0"},
            "OMS_EXPORT_EVENT_RETRY_SECONDS must be whole numbers of seconds ≥ 1",
        ),
        ({"OMS_EXPORT_EVENT_RETRY_SECONDS": "1.5"}, "not '1.5'"),
        (
            {"OMS_EXPORT_CALLBACK_ALLOW_PRIVATE": "maybe"},
            "OMS_EXPORT_CALLBACK_ALLOW_PRIVATE must be 1 or 0",
        ),
        (
            {"OMS_EXPORT_EVENT_TIMEOUT_SECONDS": "0"},
            "OMS_EXPORT_EVENT_TIMEOUT_SECONDS must be at least 1",
        ),
        (
            {"OMS_EXPORT_EVENT_LEASE_SECONDS": "15"},
            "OMS_EXPORT_EVENT_LEASE_SECONDS (15) must be at least 2 times",
        ),
        ({"OMS_EXPORT_EVENT_BATCH_SIZE": "0"}, "OMS_EXPORT_EVENT_BATCH_SIZE must be at least 1"),
        (
            {"OMS_EXPORT_EVENT_POLL_SECONDS": "soon"},
            "OMS_EXPORT_EVENT_POLL_SECONDS must be a number",
        ),
        ({"OMS_EXPORT_EVENT_POLL_SECONDS": "0"}, "OMS_EXPORT_EVENT_POLL_SECONDS must be above 0"),
    ],
)
def test_settings_that_cannot_work_are_refused_with_the_reason(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Settings.from_env(environ)
