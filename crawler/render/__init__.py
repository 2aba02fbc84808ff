"""Rendering JavaScript-only onion pages in headless Chromium through Tor."""
