"""Gymnasium wrappers for the ProactiveSales envs."""
