"""Per-client protection (spec §3.6): rate limits and a cap on concurrent exports.

Each limit has one small interface and two flavours: kept in this process, right for one node,
or kept in Redis when ``OMS_EXPORT_REDIS_URL`` is set, so every node and worker counts against
the same limit. One module per job, imports pointing one way (``tests/unit/test_import_graph.py``
holds the whole package to that):

- ``contracts``: the ``Limiter`` and ``ExportSlots`` Protocols, ``Lease``, ``LEASE_SECONDS``;
  everything else here, and ``api/admission.py``, depends on these alone;
- ``local``: the in-process flavours, and this process's own cap on running exports;
- ``redis_backed``: the Redis flavours;
- ``factory``: ``make_limits``, which picks the flavour from the settings;
- ``keys``: the key a source address is limited under.

Nothing is imported here, so importing one module loads only what it needs (the contracts load
neither Redis nor Starlette).
"""
