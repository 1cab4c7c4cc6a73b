"""Offline basemap data of Xingtai, shipped as package data (see ATTRIBUTION.md)."""
