"""Ingest: MQTT topics, codecs, the consumer service, the field client and the simulator."""
