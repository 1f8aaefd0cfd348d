"""The write side of the store: orders created, moved, shipped and cancelled (API.md §6).

``lifecycle`` holds the rules of §6.3 as data and pure functions, with no I/O, so the API, the
import and the demo apply one set of rules; the service functions that read and write the
database sit beside it and call it.
"""
