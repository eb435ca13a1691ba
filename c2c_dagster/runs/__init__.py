"""Runs whose process died: found and marked failed so a cluster's queue moves again."""
