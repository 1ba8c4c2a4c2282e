# Activates chatconform for every pytest run from the repository root. The plugin does nothing
# costly until a test asks for the target, so the self-tests under tests/ start no server.
pytest_plugins = ["chatconform.plugin"]
