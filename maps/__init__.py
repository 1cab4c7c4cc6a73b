"""Maps: coordinate systems, the offline Xingtai basemap and GeoJSON for the dashboard."""
