"""Delivering the events of API.md §7: status callbacks and order pushes.

``orders.outbox`` writes each event in the transaction of its change; everything after the row
exists lives here, one job a module:

- ``signing``: the ``OMS-Signature`` header and each company's callback secret;
- ``urls``: which callback and push URLs may be called (public ``https://`` only);
- ``delivery``: one HTTP attempt, bounded in time and in what it reads;
- ``schedule``: when a failed event is tried again, and when it is given up (pure);
- ``outbox``: the SQL of claiming events and writing what came of an attempt;
- ``worker``: the loop that claims, delivers and records, in threads or its own process;
- ``operations``: what operators see and do (list, retry, counts for ``/metrics``).
"""
