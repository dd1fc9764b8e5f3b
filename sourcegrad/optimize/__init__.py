"""Simplification passes over the backward code."""
