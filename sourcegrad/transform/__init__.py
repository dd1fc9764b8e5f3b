"""Transformations of the normal form into derivative code."""
