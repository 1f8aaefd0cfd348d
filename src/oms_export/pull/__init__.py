"""``oms-export pull``: exports written to files or tables, once, and kept in sync incrementally."""
