"""Renderers: results (models) to text, JSON, CSV. Pure functions returning strings."""
