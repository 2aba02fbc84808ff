"""The lab world: a private Tor network with generated onion sites, a loopback swarm, a mail sink."""
