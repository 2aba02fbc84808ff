"""Sessions an analyst holds on an onion service: imported cookies (or a form login), stored
encrypted, bound to their own Tor circuit, each use audited."""
