"""siting: plan where to build EV charging stations in a city."""

__version__ = "0.1.0"
