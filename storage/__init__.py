"""The installation's small durable stores: the SQLite opener."""
