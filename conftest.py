# Activates chatconform for every pytest run from the repository root. The plugin does nothing
# costly until a test asks for the target, so the self-tests under tests/ start no server; the
# report plugin writes reports/<run>/run.json only for runs that judged requirements.
# chatconform.fuzz adds the property-test options (--fuzz-examples, --fuzz-seed); it imports
# schemathesis only when a property-test module loads the spec.
pytest_plugins = ["chatconform.plugin", "chatconform.report.pytest_plugin", "chatconform.fuzz"]
