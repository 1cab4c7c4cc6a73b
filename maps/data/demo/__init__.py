"""SYNTHETIC demo layers of Xingtai, built by scripts/build_demo_layers.py (ATTRIBUTION.md)."""
