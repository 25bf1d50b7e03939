"""Getting planned operations into SFMC: the HTTP client, the durable outbox, sync and async senders."""
