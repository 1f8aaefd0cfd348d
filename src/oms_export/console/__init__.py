"""The web console at ``/console`` (API.md §8): server-rendered pages over the same modules as
the API (tenancy, the orders views), for the people who run the store and report on it."""
