"""The test suite's own knobs, read from the environment here (as onemap's are in
``onemap.core.settings``); child processes get ``onemap.core.settings.child_env``."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class SuiteSettings(BaseSettings):
    """``ONEMAP_TEST_DB`` lets two suites share the cluster; ``ONEMAP_CHROMIUM`` names the
    browser; ``ONEMAP_DEMO_SEED`` checks the demo generator with another seed;
    ``ONEMAP_REPORTS_LOAD_SECONDS`` sets how long the intake load test runs;
    ``ONEMAP_ACCESS_LOG`` (default on in the suite): the test server's request log;
    ``ONEMAP_CLUSTER_PORT``: where the cluster rehearsal's ports start (default: the first
    free block below Linux's ephemeral port range)."""

    model_config = SettingsConfigDict(env_prefix="ONEMAP_", env_ignore_empty=True)

    test_db: str = "onemap_test"
    chromium: str | None = None
    demo_seed: int | None = None
    reports_load_seconds: float = 20.0
    access_log: str = "1"
    # first of the 8 loopback ports the cluster rehearsal takes (tests/test_cluster.py)
    cluster_port: int | None = None


SUITE = SuiteSettings()
