"""Observability: c2c's Prometheus exporter (``c2c metrics serve``) and the metric families it serves.

The dashboards (``dashboards/``) and the Prometheus rules (``k8s/base/metrics/prometheus/``) read them.
"""
