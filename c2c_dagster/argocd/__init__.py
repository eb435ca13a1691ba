"""Argo CD, in one place: reading Applications and which app manages an object, sync events read
from them (the argocd_sync_events asset), and the sensor that records them and snapshots after a sync."""
