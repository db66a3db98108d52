"""Widgets that render: they receive data as attributes and post messages up, nothing more."""
