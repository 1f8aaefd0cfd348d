"""The write side of the store: companies, imports of products and orders, the demo data set.

The export only reads; everything that creates or changes business rows goes through here, so
the rules (ids, refs, whole-record writes, idempotent re-imports) live in one place.
"""
