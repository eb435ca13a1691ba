"""Argo CD: sync events read from Application objects, and the sensor that snapshots after a sync."""
