"""oms-export: the Order Item Details Export API, its store, admin CLI and client."""

__version__ = "0.1.0"
