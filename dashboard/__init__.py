"""The Dash dashboard: the situation map for wall screens and desks, and its REST API."""
