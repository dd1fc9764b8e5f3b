"""Analyses of the normal form: static shape facts and activity."""
