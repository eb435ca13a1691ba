"""Tests of c2c as deployed: the image, the k8s/ manifests, Dagster on PostgreSQL with Kubernetes Jobs."""
