"""The singer-sdk standard tap tests, against a small sandbox workspace."""

from __future__ import annotations

import pytest
from singer_sdk.testing import SuiteConfig, get_tap_test_class
from tap_intercom.tap import TapIntercom

from testbed.intercom import SandboxOptions, run_sandbox

# Filled in by the fixture below once the sandbox listens (the test class keeps a
# reference to this dict).
CONFIG = {"access_token": "set-by-fixture", "api_url": "http://127.0.0.1:9"}

# Every stream selected, the opt-in ones too.
CATALOG = TapIntercom(config=CONFIG, validate_config=False).catalog_dict
for entry in CATALOG["streams"]:
    for metadata in entry["metadata"]:
        if metadata["breadcrumb"] == []:
            metadata["metadata"]["selected"] = True

StandardTests = get_tap_test_class(
    TapIntercom,
    config=CONFIG,
    catalog=CATALOG,
    # The spool is empty: no webhook has been received in this test.
    suite_config=SuiteConfig(ignore_no_records_for_streams=["webhook_notifications"]),
)


class TestTapIntercom(StandardTests):
    """singer-sdk's tap, stream and attribute tests."""

    @pytest.fixture(scope="class", autouse=True)
    def sandbox(self, tmp_path_factory):
        options = SandboxOptions(seed=5, contacts=60, companies=30, conversations=15, tickets=6)
        # The connection test stops each stream after one record, leaving the companies
        # scroll open: let it expire quickly.
        options.faults.scroll_idle_seconds = 2
        with run_sandbox(options) as sandbox:
            CONFIG.update(
                access_token=sandbox.token,
                api_url=sandbox.url,
                webhook_spool_dir=str(tmp_path_factory.mktemp("spool")),
            )
            yield sandbox
