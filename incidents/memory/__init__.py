"""In-memory implementations of the ports, for unit tests and simulations; each passes the
contract tests its PostgreSQL/Redis twin passes."""
