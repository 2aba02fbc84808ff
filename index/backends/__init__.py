"""Search backends: one interface (``base``) beside its implementations."""
