"""Fixtures of the events' tests: a receiver on loopback."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from oms_export.events.urls import Resolver
from oms_export.events.worker import Worker
from oms_export.settings import Settings
from tests.events.receivers import Receiver
from tests.events.support import FakeClock


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


class Workers:
    """Makes workers for a test and closes them after it, before its receiver stops."""

    def __init__(self) -> None:
        self.made: list[Worker] = []

    def __call__(
        self,
        engine: Engine,
        settings: Settings,
        clock: FakeClock | None = None,
        *,
        seed: int = 1,
        resolve: Resolver | None = None,
    ) -> Worker:
        rng = random.Random(seed)
        if clock is None:
            worker = Worker(engine, settings, random=rng.random, resolve=resolve)
        else:
            worker = Worker(
                engine,
                settings,
                now=clock.now,
                sleep=clock.sleep,
                random=rng.random,
                resolve=resolve,
            )
        self.made.append(worker)
        return worker


@pytest.fixture
def make_worker(receiver: Receiver) -> Iterator[Workers]:
    workers = Workers()
    yield workers
    for worker in workers.made:
        worker.stop()
        worker.close()
