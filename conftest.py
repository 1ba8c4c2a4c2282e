# Activates chatconform for every pytest run from the repository root. The plugin does nothing
# costly until a test asks for the target, so the self-tests under tests/ start no server; the
# report plugin writes reports/<run>/run.json only for runs that judged requirements.
pytest_plugins = ["chatconform.plugin", "chatconform.report.pytest_plugin"]
