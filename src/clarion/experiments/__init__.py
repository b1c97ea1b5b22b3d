"""Experiments: allocation, holdouts and the statistics that measure them."""
