"""Domain events, written to an outbox table in the transaction that caused them."""
