"""Concurrency inside one run, and xdist workers that never send more than a serial run.

**Within a process.** Every session-shared exchange (the declared ones: ``declare`` in a suite
module, or a ``@prefetchable`` fixture such as suites/conftest.py's, which is a declared exchange
by its fixture name; and the shared error cases) is a *task* in the session memo: made once, by
whoever gets to it first. Before each test, the tasks that the next few tests to run here will
need (WINDOW_PER_THREAD per thread) are handed to a thread pool of ``--concurrency`` threads:
near enough that, under a budget, the tests that run first are the ones whose exchanges are
paid for, as in a serial run. A test that needs a task waits for
it, or makes it itself if no thread has started it. So the requests go out several at a time
while the tests still run one by one, and no request is sent that a serial run would not send:
a task is made at most once, and only for a test that is going to run (selected, its
capabilities declared, its requirements applicable). The client bounds what is on the wire
(``max_in_flight``) and sends a streamed request alone (see chatconform.client).

**Across xdist workers.** Each worker keeps its own memo; the memos meet on disk
(chatconform.plugin.worker_share): the first worker to need a shared exchange sends it, the
others read it. With ``-n`` the default distribution also becomes ``loadgroup``, and every test
is put in the group of the shared exchanges it uses (tests joined through any shared fixture,
shared memo of a module or the error cases end up in one group), so most waiting is avoided.
An explicit ``--dist`` other than ``load`` is left alone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from . import budget
from .worker_share import share_for

# fixtures that send nothing themselves: they do not tie tests together
NEUTRAL = frozenset({"target", "client", "shared", "pytestconfig", "record", "request", "fuzz", "cases",
                     "error_case", "error_response", "tmp_path", "tmp_path_factory", "monkeypatch"})
ERROR_CASE_FIXTURES = ("error_case", "error_response")


# key -> make(client, target, session): the exchanges suite modules name (``declare``). A test
# gets one through ``shared(key)`` and says so with ``@pytest.mark.exchange(key)``, or, for a
# ``@prefetchable`` one, by taking the fixture of that name; either way it is sent ahead of the test.
DECLARED: dict[str, Callable[[Any, Any, Any], Any]] = {}
_ORIGINS: dict[str, tuple[str, int]] = {}
FIXTURES: set[str] = set()  # the declared exchanges that are also session fixtures (``prefetchable``)


def declare(key: str, make: Callable[..., Any]) -> str:
    """Name an exchange ``make(client, target)`` (or ``make(client, target, session)`` for one that
    needs the plugin's session) once per session. Tests say which ones they use with
    ``@pytest.mark.exchange(key, ...)`` (``uses``), so the pool can send each one ahead of the
    first test that will run and needs it, and never one that no selected test needs."""
    import inspect

    where = _where(make)
    if key in _ORIGINS and _ORIGINS[key] != where:  # the same module imported again is fine
        raise ValueError(f"exchange {key!r} is declared twice: {_ORIGINS[key]} and {where}")
    # a third parameter without a default is the session (defaults bind a loop's value in a lambda)
    wants_session = len([p for p in inspect.signature(make).parameters.values()
                         if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]) >= 3

    def bound(client: Any, target: Any, session: Any) -> Any:
        return make(client, target, session) if wants_session else make(client, target)

    DECLARED[key], _ORIGINS[key] = bound, where
    return key


def _where(make: Callable[..., Any]) -> tuple[str, int]:
    code = getattr(make, "__code__", None)
    return (code.co_filename, code.co_firstlineno) if code is not None else (repr(make), 0)


def uses(*keys: str) -> pytest.MarkDecorator:
    """The mark of a test (or a parameter) that judges the declared exchanges ``keys``."""
    return pytest.mark.exchange(*keys)


def each_using(prefix: str, values: Any) -> list[Any]:
    """One pytest param per value, marked with the declared exchange ``{prefix}.{value}`` it judges
    (with an empty prefix, the exchange named ``value``: a ``@prefetchable`` one, by its name)."""
    return [pytest.param(value, marks=uses(f"{prefix}.{value}" if prefix else value)) for value in values]


def declared_key(key: str) -> str:
    return f"exchange:{key}"


def marked_exchanges(item: pytest.Item) -> list[str]:
    """The declared exchanges an item's ``exchange`` marks name (known or not)."""
    return [key for mark in item.iter_markers("exchange") for key in mark.args]


def declared(key: str, client: Any, target: Any, session: Any) -> Callable[[], Any]:
    if key not in DECLARED:
        raise KeyError(f"no exchange is declared as {key!r} (chatconform.plugin.concurrency.declare)")
    make = DECLARED[key]
    return lambda: make(client, target, session)


def prefetchable(make: Callable[..., Any]) -> Any:
    """A declared exchange (``declare``) named after ``make`` that is also a session fixture of
    that name: sent once per session, ahead of the tests that take the fixture (or mark the key)
    when concurrency allows."""
    from .session import state

    name = declare(make.__name__, make)
    FIXTURES.add(name)

    def fixture(pytestconfig: pytest.Config, client: Any, target: Any) -> Any:
        session = state(pytestconfig)
        return session.memo.get(declared_key(name), declared(name, client, target, session))

    fixture.__doc__ = make.__doc__
    fixture.__name__ = name
    return pytest.fixture(scope="session", name=name)(fixture)


class _Task:
    def __init__(self, key: str, make: Callable[[], Any]) -> None:
        self.key = key
        self.make = make
        self.started = False
        self.finished = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None
        self.exchanges: list[Any] = []  # sent by a pool thread: attached to the first test that uses it
        self.handed_over = False


class Memo:
    """The session memo: one value per key, made once, by the first thread that claims it."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self._tasks: dict[str, _Task] = {}
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._local = threading.local()
        # under xdist: the other workers' copy of each shared exchange (chatconform.plugin.worker_share)
        self.share = share_for(session.config)

    # -- the memo -----------------------------------------------------------------------------------
    def get(self, key: str, make: Callable[[], Any]) -> Any:
        task, mine = self._claim(key, make)
        if mine:
            self._run(task, capture=False)
        else:
            task.finished.wait()
        with self._lock:
            hand_over = not task.handed_over
            task.handed_over = True
        if hand_over:
            for exchange in task.exchanges:
                self.session.used(exchange)
        self.session.used(task.value)
        if task.error is not None:
            raise task.error
        return task.value

    def known(self, key: str) -> bool:
        with self._lock:
            return key in self._tasks

    def _claim(self, key: str, make: Callable[[], Any]) -> tuple[_Task, bool]:
        with self._lock:
            task = self._tasks.get(key)
            if task is None:
                task = self._tasks[key] = _Task(key, make)
            if task.started:
                return task, False
            task.started = True
            return task, True

    def _run(self, task: _Task, capture: bool) -> None:
        previous = getattr(self._local, "capture", None)
        self._local.capture = task.exchanges if capture else None
        try:
            share = self.share if self._remote() else None
            task.value = share.get(task.key, task.make) if share is not None else task.make()
        except BaseException as exc:  # noqa: BLE001 - Unsupported, skip, anything: every consumer sees it
            task.error = exc
        finally:
            self._local.capture = previous
            task.finished.set()

    def _remote(self) -> bool:
        """Exchanges are shared across workers only against one remote target: each worker's
        embedded server is its own (a completion stored on one is unknown to the other), and its
        requests cost nothing."""
        target = getattr(self.session, "resolved_target", None)
        return target is not None and not target.embedded

    def capture(self) -> list[Any] | None:
        """Where an exchange sent on this thread belongs: a pool task's list, or None (the test's)."""
        return getattr(self._local, "capture", None)

    # -- ahead of time ------------------------------------------------------------------------------
    def prefetch(self, key: str, make: Callable[[], Any], threads: int) -> None:
        with self._lock:
            if key in self._tasks:
                return
            self._tasks[key] = _Task(key, make)
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="chatconform-prefetch")
        self._pool.submit(self._prefetched, key)

    def _prefetched(self, key: str) -> None:
        with self._lock:
            task = self._tasks[key]
            if task.started:
                return
            task.started = True
        self._run(task, capture=True)

    def close(self) -> None:
        # not waiting: a thread stalled on a hostile target ends when the client closes its
        # connections (Session closes it next), not after a read timeout
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


# -- what the tests still to run here will need -------------------------------------------------------
def will_run(item: pytest.Item, target: Any) -> bool:
    """Whether the test gets as far as its fixtures: not skipped by a mark, its capabilities
    declared, its requirements applicable to the profile (the checks markers.py makes)."""
    from .markers import capabilities, requirement_ids

    if any(True for _ in item.iter_markers("skip")):
        return False
    if not all(target.has(cap) for cap in capabilities(item)):
        return False
    levels = dict(getattr(target.profile, "levels", {}) or {})
    return not any(levels.get(rid) == "not-applicable" for rid in requirement_ids(item))


def needs(item: pytest.Item) -> list[str]:
    """The memo keys an item will ask for that can be made ahead of it."""
    names = getattr(item, "fixturenames", ())
    keys = [declared_key(name) for name in names if name in FIXTURES]
    keys += [declared_key(key) for key in marked_exchanges(item) if key in DECLARED]
    # a parameter ``name`` naming the error case the test resolves by name (chatconform.payloads.errors)
    name = getattr(getattr(item, "callspec", None), "params", {}).get("name")
    if isinstance(name, str) and any(f in names for f in (*ERROR_CASE_FIXTURES, "cases")):
        keys.append(f"error-case:{name}")
    return keys


# How far ahead of the running test the pool may send: far enough to keep ``--concurrency`` requests
# on the wire, near enough that, under a budget, the exchanges of the tests that run first (the
# plugin.order priority) are the ones the budget pays for, not those of tests far down the list.
WINDOW_PER_THREAD = 6


class Prefetcher:
    """Hands the pool the tasks that the tests about to run in this process will need."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        # 1 whatever the target when --concurrency 1 is given; otherwise both defaults are above 1
        self.serial = int(budget.value(config, "concurrency", embedded=True) or 1) <= 1
        self._threads: int | None = None
        self.pending: list[pytest.Item] = []
        self.index: dict[str, int] = {}
        self.scheduled = 0  # items before this position have had their tasks handed over

    def enabled(self) -> bool:
        return not self.serial and not self.config.option.collectonly

    @property
    def threads(self) -> int:
        """The pool's size: the client's in-flight limit (its default depends on the target)."""
        if self._threads is None:
            from .session import state

            self._threads = max(1, int(state(self.config).client().settings.max_in_flight or 1))
        return self._threads

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if not self.enabled():
            return
        self.pending = list(session.items)
        self.index = {item.nodeid: n for n, item in enumerate(self.pending)}

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        if not self.enabled():
            return
        window = self.threads * WINDOW_PER_THREAD
        if hasattr(self.config, "workerinput"):
            # under xdist a worker learns its tests as they are scheduled: what it holds now
            self._schedule([item, *self._queued(item.session)][:window])
            return
        here = self.index.get(item.nodeid, self.scheduled)
        end = min(len(self.pending), here + window)
        if end > self.scheduled:
            self._schedule(self.pending[max(here, self.scheduled):end])
            self.scheduled = end

    def _queued(self, session: pytest.Session) -> list[pytest.Item]:
        interactor = self.config.pluginmanager.getplugin("workerinteractor")
        torun = getattr(interactor, "torun", None)
        if torun is None:
            return []
        try:
            return [session.items[i] for i in list(torun) if isinstance(i, int)]
        except (IndexError, TypeError):
            return []

    def _schedule(self, items: list[pytest.Item]) -> None:
        from .session import state

        wanted = [(item, key) for item in items for key in needs(item)]
        if not wanted:
            return
        session = state(self.config)
        target = session.target()
        client = session.client()
        memo = session.memo
        ctx = None
        for item, key in wanted:
            if memo.known(key) or not will_run(item, target):
                continue
            if key.startswith("exchange:"):
                memo.prefetch(key, declared(key.removeprefix("exchange:"), client, target, session), self.threads)
            else:
                from ..payloads import errors as error_cases

                name = key.removeprefix("error-case:")
                if name not in error_cases.CASES:
                    continue
                if ctx is None:
                    ctx = error_cases.context(self.config, client, target, memo.get)
                memo.prefetch(key, _bind_case(error_cases.CASES[name], ctx), self.threads)


def _bind_case(case: Any, ctx: Any) -> Callable[[], Any]:
    return lambda: case.send(ctx)


# -- xdist: each shared exchange on one worker ---------------------------------------------------------
def groups(items: list[pytest.Item]) -> dict[str, str]:
    """nodeid -> group, joining tests that share any session or module resource."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    resources: dict[str, list[str]] = {}
    for item in items:
        found = []
        info = getattr(item, "_fixtureinfo", None)
        defs = getattr(info, "name2fixturedefs", {}) if info is not None else {}
        module = item.nodeid.split("::", 1)[0]
        for name in getattr(item, "fixturenames", ()):
            if name in NEUTRAL:
                continue
            if name in FIXTURES:  # the same resource as a mark naming the key
                found.append(declared_key(name))
                continue
            chain = defs.get(name)
            scope = getattr(chain[-1], "scope", "function") if chain else "function"
            if scope == "session":
                found.append(f"fixture:{name}")
            elif scope in ("module", "package", "class"):
                found.append(f"fixture:{name}@{module}")
        found += [declared_key(key) for key in marked_exchanges(item)]
        names = getattr(item, "fixturenames", ())
        if "shared" in names:
            found.append(f"shared@{module}")
        if "cases" in names:
            found.append("error-cases")
        if found:
            resources[item.nodeid] = found
            for r in found[1:]:
                parent[find(r)] = find(found[0])
    out = {}
    for nodeid, found in resources.items():
        out[nodeid] = "shared-" + find(found[0]).replace(":", "-").replace("/", "-")
    return out


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "exchange(key, ...): the test judges these declared exchanges "
                                       "(chatconform.plugin.concurrency.declare), sent ahead of it")
    prefetcher = Prefetcher(config)
    config.pluginmanager.register(prefetcher, "chatconform-prefetcher")
    if getattr(config.option, "numprocesses", None) and getattr(config.option, "dist", "no") == "load":
        config.option.dist = "loadgroup"


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook appends the group to the node id
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unknown = sorted({key for item in items for key in marked_exchanges(item) if key not in DECLARED})
    if unknown:
        raise pytest.UsageError(f"@pytest.mark.exchange names undeclared exchanges: {', '.join(unknown)}")
    if not getattr(config.option, "loadgroup", False) and getattr(config.option, "dist", "no") != "loadgroup":
        return
    found = groups(items)
    for item in items:
        if any(True for _ in item.iter_markers("xdist_group")):
            continue
        group = found.get(item.nodeid)
        if group:
            item.add_marker(pytest.mark.xdist_group(group))
