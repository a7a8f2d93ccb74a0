"""Root pytest configuration: the real-infrastructure fixtures every suite may use."""

pytest_plugins = [
    "tests.fixtures.kafka",
    "tests.fixtures.postgres",
    "tests.fixtures.system",
    "tests.fixtures.browser",
    "tests.fixtures.oidc",
    "tests.fixtures.console",
]
