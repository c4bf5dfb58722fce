"""Rendering for people and machines: located errors, plan tables, progress, JSON Lines events."""
