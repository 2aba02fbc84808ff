"""The service surface of long-running roles: Prometheus metrics, health endpoints, JSON logs.

``telemetry.metrics`` holds the process's one registry, which the crawler, the monitors,
the index and alerting count into; ``telemetry.service`` serves it with ``/healthz`` and
``/readyz``; ``telemetry.logs`` formats the log. Imports only ``config`` (and the
prometheus-client and aiohttp libraries), so every package may report without importing
the application.
"""
