"""Tollgate on one machine: the embedded engine and the `tollgate` CLI."""
