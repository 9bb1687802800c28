"""Social accounts: one location's connection to one platform, with its tokens sealed."""
