"""The peer self-tests: opt-in, since they install and build real servers (minutes, not seconds)."""


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "peers: runs the suite against a real server installed under .peers/ "
                   "(opt in with CHATCONFORM_PEERS=1, as `tox -e peers` does)")
