"""Approvals: queues of posts waiting for a decision, decisions, signed links, deadlines."""
