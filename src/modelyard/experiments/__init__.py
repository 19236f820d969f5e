"""Experiments: runs with params, metrics, tags, artifacts and lineage; the run executor."""
