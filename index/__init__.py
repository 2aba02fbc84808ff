"""The store: documents, backend-neutral queries, backends, the durable spool and its drain."""
