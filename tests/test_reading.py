"""Typed text is read in a worker process (bot/reading.py): the bot itself never loads spaCy, a
warning sign typed while the worker is still loading is read all the same, and a worker that
dies or fails is replaced, or the text is read in the bot's own process."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
from pathlib import Path

import pytest

from bot.config import Settings
from bot.findings import Code, Finding, present
from bot.free_text import Readers
from bot.reading import ReaderWorker
from bot.safety_net import SafetyNet
from content.loader import default_catalog
from handlers.app import build_application
from tests.botapi import BotApiStandIn
from tests.conftest import TOKEN
from tests.harness import Harness, ManualClock, Person, text_update
from tests.processes import alive, children_of, has_loaded
from tests.test_checkin_flow import onboard
from tests.test_operations import start_webhook_bot, stop

BLADDER = "Since this morning I can't pee at all"
CATALOG = default_catalog()


async def test_a_sign_typed_at_start_up_is_read_in_the_worker_and_the_bot_never_loads_spacy(
    api: BotApiStandIn, tmp_path: Path, sqlite_template: Path, clock: ManualClock
) -> None:
    db_file = tmp_path / "bot.db"
    shutil.copy(sqlite_template, db_file)
    url = f"sqlite+aiosqlite:///{db_file}"
    pat = Person(6161, "Pat")
    settings = Settings(
        telegram_bot_token=TOKEN,
        telegram_base_url=api.base_url,
        telegram_base_file_url=api.base_file_url,
        database_url=url,
        flood_max_updates=0,
    )
    app = build_application(settings, clock=clock)
    async with app:
        await onboard(Harness(api, app, clock), pat)
    await app.bot_data["services"].db_engine.dispose()

    process, port, _ = await start_webhook_bot(api, tmp_path, url)
    try:
        # Typed as soon as the bot answers: the worker is most likely still loading.
        status = await api.deliver(f"http://127.0.0.1:{port}/telegram", text_update(pat, BLADDER))
        assert status == 200
        await api.wait_for(
            lambda: any("Please call 112 now" in t for t in api.texts_sent(pat.chat_id)),
            timeout=120,
        )
        assert api.texts_sent(pat.chat_id)[-1].startswith("<b>🚨 Please call 112 now")
        # spaCy's compiled modules are mapped in the worker, never in the bot's own process.
        assert not has_loaded(process.pid, "spacy")
        workers = [pid for pid in children_of(process.pid) if has_loaded(pid, "spacy")]
        assert len(workers) == 1
    finally:
        assert await stop(process) == 0
    log = (tmp_path / "bot.log").read_text()
    assert BLADDER not in log and "pee" not in log  # the worker logs nothing anyone typed
    # The worker went with the bot.
    for _ in range(50):
        if not alive(workers[0]):
            break
        await asyncio.sleep(0.1)
    assert not alive(workers[0])


async def test_a_worker_killed_by_the_system_is_replaced_and_nothing_is_skipped() -> None:
    worker = ReaderWorker(["en"])
    try:
        assert Code.BLADDER_BOWEL in present(await worker.read(BLADDER))
        assert worker.state == "ready"
        first = worker.pid()
        assert first is not None
        os.kill(first, signal.SIGKILL)
        # The message in hand is read at once in the bot's own process, and read right; a new
        # worker loads for the next ones.
        assert Code.BLADDER_BOWEL in present(await worker.read(BLADDER))
        assert (worker.restarts, worker.read_here) == (1, 1)
        assert worker.pid() not in (None, first)
        assert not present(await worker.read("a calm day, a little stiff"))
        assert worker.read_here == 1 and worker.state == "ready"  # read by the new worker
    finally:
        worker.close()


async def test_after_its_share_of_messages_a_fresh_worker_takes_over_and_none_is_skipped() -> None:
    """Words a worker reads stay in its memory, so after ``recycle_after`` messages a fresh
    worker loads beside it; the old one reads on meanwhile, and once the fresh one is ready it
    takes over and the old one stops, even if nobody types again."""
    worker = ReaderWorker(["en"], recycle_after=2)
    try:
        assert Code.BLADDER_BOWEL in present(await worker.read(BLADDER))
        first = worker.pid()
        assert first is not None
        assert not present(await worker.read("a calm day, a little stiff"))
        # The fresh worker takes seconds to load: the old one reads this one.
        assert Code.BLADDER_BOWEL in present(await worker.read(BLADDER))
        assert worker.recycled == 0 and worker.pid() == first
        for _ in range(600):  # nobody types: it takes over all the same
            if worker.recycled:
                break
            await asyncio.sleep(0.2)
        assert worker.recycled == 1
        second = worker.pid()
        assert second not in (None, first)
        for _ in range(50):
            if not alive(first):
                break
            await asyncio.sleep(0.1)
        assert not alive(first)
        assert Code.BLADDER_BOWEL in present(await worker.read(BLADDER))
        assert (worker.restarts, worker.read_here) == (0, 0)  # a hand-over, not a failure
    finally:
        worker.close()


async def test_closing_while_a_fresh_worker_loads_leaves_no_process_behind() -> None:
    before = set(children_of(os.getpid()))
    worker = ReaderWorker(["en"], recycle_after=1)
    try:
        assert Code.BLADDER_BOWEL in present(await worker.read(BLADDER))
        for _ in range(1200):  # until the fresh worker is loading spaCy
            new = set(children_of(os.getpid())) - before
            if sum(has_loaded(pid, "spacy") for pid in new) >= 2:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("no fresh worker started loading")
        assert worker.recycled == 0  # still loading: the old one is in charge
    finally:
        worker.close()
    # Both workers are gone (multiprocessing's own helper process may stay: it has no spaCy).
    for _ in range(100):
        new = set(children_of(os.getpid())) - before
        left = [pid for pid in new if alive(pid) and has_loaded(pid, "spacy")]
        if not left:
            break
        await asyncio.sleep(0.1)
    assert not left


async def test_a_worker_that_hangs_is_replaced_and_the_message_is_read_at_once() -> None:
    worker = ReaderWorker(["en"], timeout=0.000_001)  # no read can finish in time
    try:
        assert Code.BLADDER_BOWEL in present(await worker.read(BLADDER))
        assert (worker.restarts, worker.read_here) == (1, 1)
    finally:
        worker.close()


def _fail_to_start(languages: tuple[str, ...]) -> None:
    os._exit(3)


class _BrokenWorker(ReaderWorker):
    """A worker that cannot start (as if its memory limit killed it while loading)."""

    def _spawn(self):  # type: ignore[no-untyped-def]
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_fail_to_start,
            initargs=(self.languages,),
        )
        self._pool = pool
        return pool


async def test_when_the_worker_keeps_failing_the_bot_reads_in_its_own_process(
    caplog: pytest.LogCaptureFixture,
) -> None:
    worker = _BrokenWorker(["en"], max_failures=2)
    try:
        for _ in range(2):  # each message is read here at once, never skipped
            assert Code.BLADDER_BOWEL in present(await worker.read(BLADDER))
        assert (worker.restarts, worker.read_here) == (2, 2)
        assert worker.state == "in process" and worker.ready
        assert "reading in the bot's own process" in caplog.text
        assert BLADDER not in caplog.text  # what was typed is never logged
        # From then on, read here without trying a worker again.
        assert Code.BLADDER_BOWEL in present(await worker.read(BLADDER))
        assert (worker.restarts, worker.read_here) == (2, 3)
    finally:
        worker.close()


async def test_once_read_in_the_bots_own_process_the_reader_is_rebuilt_after_its_share() -> None:
    """Words read stay in the reader's memory there too, so after ``recycle_after`` messages a
    fresh reader is built in a thread and takes over; every message is read meanwhile."""
    worker = _BrokenWorker(["en"], max_failures=1, recycle_after=2)
    try:
        for _ in range(2):
            assert Code.BLADDER_BOWEL in present(await worker.read(BLADDER))
        assert worker.state == "in process" and worker.recycled == 0
        first = worker._inline
        read = 2
        async with asyncio.timeout(120):  # building takes seconds; reading goes on meanwhile
            while worker.recycled == 0:
                assert Code.BLADDER_BOWEL in present(await worker.read(BLADDER))
                assert not present(await worker.read("my back is stiff today"))
                read += 2
                await asyncio.sleep(0.2)
        assert worker.read_here == read  # none skipped, none read twice
        assert Code.BLADDER_BOWEL in present(await worker.read(BLADDER))
        assert worker.restarts == 1 and worker.recycled >= 1
        # Built anew, with a vocabulary of its own (not the process's cached reader and model).
        rebuilt = worker._inline
        assert isinstance(first, SafetyNet) and isinstance(rebuilt, SafetyNet)
        assert isinstance(first.reader, Readers) and isinstance(rebuilt.reader, Readers)
        assert rebuilt.reader.readers[0] is not first.reader.readers[0]
        assert rebuilt.reader.readers[0].nlp.vocab is not first.reader.readers[0].nlp.vocab
        assert rebuilt.model is not first.model
    finally:
        worker.close()


async def test_messages_typed_at_once_are_read_one_at_a_time_in_order() -> None:
    worker = ReaderWorker(["en"])
    try:
        texts = [BLADDER if i % 3 == 0 else "a calm day, a little stiff " * 150 for i in range(30)]
        results = await asyncio.gather(*(worker.read(t) for t in texts))
        for typed, found in zip(texts, results, strict=True):
            assert (Code.BLADDER_BOWEL in present(found)) == (typed == BLADDER)
        assert (worker.restarts, worker.read_here) == (0, 0)  # queueing is not a failure
    finally:
        worker.close()


async def test_a_fault_in_the_reader_itself_gets_a_clear_reply_never_silence(
    bot: Harness, pat: Person, caplog: pytest.LogCaptureFixture
) -> None:
    await onboard(bot, pat)

    async def broken(text: str) -> tuple[Finding, ...]:
        raise RuntimeError("a bug in the reader")

    bot.services.text.read_findings = broken
    await bot.send(pat, BLADDER)
    said = bot.api.texts_sent(pat.chat_id)
    failed = CATALOG.text("text.read_failed", "en")
    assert failed in said and "/checkin" in failed and "emergency number" in failed
    assert not any("Sorry, something went wrong" in t for t in said)
    assert "could not be read for warning signs (RuntimeError)" in caplog.text
    assert BLADDER not in caplog.text


async def test_a_bot_killed_outright_leaves_no_worker_behind(
    api: BotApiStandIn, tmp_path: Path, sqlite_template: Path
) -> None:
    db_file = tmp_path / "bot.db"
    shutil.copy(sqlite_template, db_file)
    process, _, _ = await start_webhook_bot(api, tmp_path, f"sqlite+aiosqlite:///{db_file}")
    try:
        workers: list[int] = []
        for _ in range(600):  # the reader's worker starts with the bot
            workers = [pid for pid in children_of(process.pid) if has_loaded(pid, "spacy")]
            if workers:
                break
            await asyncio.sleep(0.1)
        assert workers
    finally:
        process.kill()  # SIGKILL: no shutdown of any kind
        await process.wait()
    for _ in range(100):
        if not alive(workers[0]):
            break
        await asyncio.sleep(0.1)
    assert not alive(workers[0])
