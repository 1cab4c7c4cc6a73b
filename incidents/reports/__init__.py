"""Incident reports: situation reports (续报 / 终报) as HTML and PDF, the daily summary, and
CAP alerts issued from an incident. Pure renderers: the caller gathers the data."""
