"""The lab world: a private Tor network with onion sites, a loopback swarm, a mail sink."""
