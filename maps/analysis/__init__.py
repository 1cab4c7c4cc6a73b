"""Spatial analysis over the layers: districts, nearby facilities, units, fences, hotspots, plumes.

Everything here is pure: domain objects and GeoJSON in, structs and GeoJSON out. Shapely and
numpy are used inside; no GeoDataFrame leaves ``maps/``.
"""
