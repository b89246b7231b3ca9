"""Generic lifecycle pipelines, instantiated per use case under its namespace."""
