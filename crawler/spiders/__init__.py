"""Spiders of the crawler."""
