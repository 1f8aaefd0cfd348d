"""``/metrics`` tells operators how many events wait, went and failed, and how long delivery
took from the change to the receiver's 2xx."""

from __future__ import annotations

from datetime import timedelta

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, update

from oms_export.db.schema import events
from oms_export.events.worker import Worker
from oms_export.settings import Settings
from tests.events.receivers import Receiver
from tests.events.support import T0, FakeClock, fast, insert_event, receiving_order
from tests.live import LiveServer


def samples(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(url + "/metrics").text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_count_events_by_state_from_the_table(
    engine: Engine, settings: Settings, live_server: LiveServer
) -> None:
    company_id, order_id = receiving_order(engine)
    ids = [
        insert_event(engine, company_id, order_id, "https://hooks.example.com/") for _ in "abcdef"
    ]
    with engine.begin() as conn:
        conn.execute(update(events).where(events.c.event_id.in_(ids[:2])).values(state="failed"))
        conn.execute(update(events).where(events.c.event_id == ids[2]).values(state="delivered"))

    found = samples(live_server.url)

    assert found[("oms_export_events", (("state", "pending"),))] == 3
    assert found[("oms_export_events", (("state", "failed"),))] == 2
    assert found[("oms_export_events", (("state", "delivered"),))] == 1


def test_metrics_show_the_latency_from_change_to_2xx_of_this_processs_deliveries(
    engine: Engine, settings: Settings, live_server: LiveServer, receiver: Receiver
) -> None:
    company_id, order_id = receiving_order(engine)
    insert_event(engine, company_id, order_id, receiver.url + "/ok")
    insert_event(engine, company_id, receiving_order(engine)[1], receiver.url + "/500")
    clock = FakeClock(T0 + timedelta(seconds=1.5))
    delivery = live_server.app.state.service.metrics.delivery
    with Worker(engine, fast(settings), now=clock.now, metrics=delivery) as worker:
        worker.run_once()

    found = samples(live_server.url)

    latency = "oms_export_event_delivery_latency_seconds"
    assert found[(f"{latency}_count", ())] == 1
    assert found[(f"{latency}_sum", ())] == 1.5
    assert found[(f"{latency}_bucket", (("le", "1.0"),))] == 0
    assert found[(f"{latency}_bucket", (("le", "2.0"),))] == 1
    attempts = "oms_export_event_attempts_total"
    assert found[(attempts, (("outcome", "delivered"),))] == 1
    assert found[(attempts, (("outcome", "retry"),))] == 1
