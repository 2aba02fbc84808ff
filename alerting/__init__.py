"""Alert rules, the alert engine drain stage, the durable outboxes, email and webhook delivery.

Modules: ``rules`` (pure verdicts), ``evaluate`` (query on one document), ``state``
(alerts and what rules have seen), ``outbox`` (the local messages), ``render`` (bodies),
``engine`` (the drain stage), ``delivery`` (the outbox-store interface and channels),
``mailer`` (one SMTP conversation), ``webhook`` (one signed POST), ``sender`` (the delivery
role: ``Sender``, one loop over every outbox store, run by any long-lived command),
``cluster_store`` (the cluster's documents), ``cluster_state`` (alerts, their messages and
delivery leases shared by every machine on an Elasticsearch cluster) and ``cluster_digest``
(digests collected from every machine).
"""
