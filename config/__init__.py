"""Settings and the shipped configuration files."""
