"""Alert rules, the alert engine drain stage, the durable outbox and SMTP delivery.

Modules: ``rules`` (pure verdicts), ``evaluate`` (query on one document), ``state``
(alerts and what rules have seen), ``outbox`` (messages), ``render`` (bodies), ``engine``
(the drain stage), ``mailer`` (one SMTP conversation), ``sender`` (the delivery role:
``run_sender(settings, stop_event)`` for any long-lived command).
"""
