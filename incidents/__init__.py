"""The domain: typed messages and incidents, the PostgreSQL store and the Redis live state."""
