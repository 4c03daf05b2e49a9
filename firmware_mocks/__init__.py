"""Simulated gate hardware that speaks the protocols real devices speak."""
