"""The ports: Protocols the services depend on, implemented by PostgreSQL/Redis adapters
(`incidents.store`, `incidents.live`) and by in-memory twins (`incidents.memory`) that pass
the same contract tests."""
