"""chatconform's pytest plugin, found through the ``pytest11`` entry point (pyproject.toml).

Registered before pytest reads the command line, so ``--model /an/existing/path`` is an option
value, not a test path. Each concern is a module of its own, each a pytest plugin:

- ``options``: the command-line options, ini keys and environment fallbacks, checked at start-up;
- ``markers``: ``requirement`` / ``capability`` markers, unknown IDs, ``-k`` by requirement ID;
- ``session``: the target, the client and the exchanges each test relied on;
- ``budget``: ``--concurrency`` and the run's limits (requests, billed completions, tokens, deadline);
- ``order``: under a budget, the core suites first, the parameter sweeps and generated tests last;
- ``concurrency``: the session memo, shared exchanges sent ahead of their tests, xdist groups;
- ``preflight``: one cheap exchange before the first test; an outage ends the run in one line;
- ``embedded``: the reference server started for a run without ``--base-url``;
- ``grading``: checks' observations and a test's exceptions turned into verdict records;
- ``results``: the controller's collection of every test's verdicts, ``--results-json``;
- ``output``: a conformance failure's report is the check's message, not a traceback;
- ``summary``: the terminal summary, by requirement;
- ``runs``: a run's directory (no silent overwrite, pruning), SIGTERM as an interruption;
- ``reporting``: hands the records to chatconform.report (run record, JUnit, Allure);
- ``fixtures``: ``target``, ``client``, ``shared``, ``record``;
- ``fuzz``: the property-test options and the ``fuzz`` fixture.

Nothing costly happens until a test asks for the target, so ``pytest tests`` starts no server.
"""

pytest_plugins = [
    "chatconform.plugin.options",
    "chatconform.plugin.markers",
    "chatconform.plugin.session",
    "chatconform.plugin.budget",
    "chatconform.plugin.order",
    "chatconform.plugin.concurrency",
    "chatconform.plugin.worker_share",
    "chatconform.plugin.preflight",
    "chatconform.plugin.grading",
    "chatconform.plugin.results",
    "chatconform.plugin.output",
    "chatconform.plugin.summary",
    "chatconform.plugin.runs",
    "chatconform.plugin.reporting",
    "chatconform.plugin.fixtures",
    "chatconform.plugin.fuzz",
]
