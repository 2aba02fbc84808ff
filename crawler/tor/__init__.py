"""Tor clients for the crawler: launched with stem or attached by control port, one or several,
each onion pinned to one client and given its own SOCKS username (its own circuits)."""
