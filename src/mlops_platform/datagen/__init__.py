"""Deterministic synthetic data generators, one per use case."""
