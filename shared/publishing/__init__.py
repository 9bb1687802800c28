"""Getting posts out: the dispatcher leases due posts and hands them to jobs in batches; the
publisher takes each through the account's limits and the connector, exactly once."""
