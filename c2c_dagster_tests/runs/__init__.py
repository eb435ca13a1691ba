"""Tests of c2c_dagster/runs/."""
