"""Kubernetes: what runs where (cluster snapshots for deployment_snapshots)."""
