"""What a delivering process counts: attempts by outcome, and the latency from change to 2xx.

Kept by the process that delivers, in the registry it is given: the service's own ``/metrics``
registry for the worker inside ``serve``, or one that ``oms-export worker --metrics-port``
serves. How many events are pending, delivered or failed is the table's to say, counted when
``/metrics`` is scraped (``operations.counts``), so every node reports the same figures.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 3600, 7200, 21600, 86400)
"""Seconds: the first attempt's range (under a second, 2 s the target) up to a day of retries."""


class DeliveryMetrics:
    """Example::

    metrics = DeliveryMetrics(registry)
    metrics.attempted("retry")
    metrics.delivered(latency=0.4)
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.attempts = Counter(
            "oms_export_event_attempts",
            "Event delivery attempts made by this process, by outcome: delivered, retry "
            "(failed, to be tried again), failed (given up), lost (the lease had passed to "
            "another worker).",
            ["outcome"],
            registry=registry,
        )
        self.latency = Histogram(
            "oms_export_event_delivery_latency_seconds",
            "Time from an order's change (the event's occurred_at) to the receiver's 2xx, for "
            "events this process delivered; retries included.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

    def attempted(self, outcome: str) -> None:
        self.attempts.labels(outcome).inc()

    def delivered(self, latency: float) -> None:
        self.latency.observe(max(0.0, latency))
