"""The delivery tests share the traceability tests' whole pipeline on the real services."""

from c2c_dagster_tests.traceability.conftest import pipeline  # noqa: F401  (a fixture)
