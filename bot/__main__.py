"""Command line: ``python -m bot run | migrate | triage-eval | train-safety-net``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import Any

from bot.config import ConfigError, Settings, load_settings
from bot.logging_setup import configure_logging

log = logging.getLogger("bot")


async def _check_bot_api(settings: Settings, token: str) -> None:
    """Ask the Bot API who we are before starting, so a wrong token or an unreachable server is
    one clear line rather than a retry loop's traceback."""
    from telegram import Bot
    from telegram.error import InvalidToken, NetworkError

    from bot.transport import AiohttpRequest

    bot = Bot(
        token,
        base_url=settings.telegram_base_url,
        request=AiohttpRequest(connection_pool_size=1),
    )
    try:
        async with bot:
            await bot.get_me()
    except InvalidToken:
        raise ConfigError(
            "Telegram refused TELEGRAM_BOT_TOKEN. Check the token with @BotFather."
        ) from None
    except NetworkError as exc:
        raise ConfigError(
            f"Could not reach the Bot API at {settings.telegram_base_url} ({type(exc).__name__}). "
            "Check the network, or TELEGRAM_BASE_URL if you use a local Bot API server."
        ) from None


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's event loop where it is installed (not on Windows), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def _run(settings: Settings, webhook: bool = False) -> None:
    from urllib.parse import urlsplit

    from telegram import Update

    from bot.memory import limit_arenas
    from bot.startup import prepare_database
    from handlers.app import build_application

    token = settings.token()  # fail before touching the database when it is missing
    if webhook and not settings.webhook_url:
        raise ConfigError(
            "--webhook needs WEBHOOK_URL, the public https:// URL Telegram should call "
            "(e.g. https://bot.example.org/telegram)."
        )
    configure_logging(settings.log_level, token, settings.log_format)
    # Before any thread starts: few malloc arenas, so memory stays flat (bot/memory.py).
    limit_arenas()
    # One event loop for the whole run: uvloop (a third of the CPU an update costs goes to the
    # event loop itself, docs/benchmarks.md), or asyncio's own where uvloop is not installed.
    loop = new_event_loop()
    prepare_database(settings)  # Alembic runs a loop of its own, and unsets the current one
    asyncio.set_event_loop(loop)
    loop.run_until_complete(_check_bot_api(settings, token))
    app = build_application(settings, serve_health=True)
    if settings.webhook_url:
        log.info("starting with a webhook on port %s", settings.webhook_port)
        app.run_webhook(
            listen=settings.webhook_listen,
            port=settings.webhook_port,
            url_path=urlsplit(settings.webhook_url).path.lstrip("/"),
            webhook_url=settings.webhook_url,
            secret_token=settings.webhook_secret(),
            allowed_updates=Update.ALL_TYPES,
        )
    else:
        log.info("starting with long polling")
        app.run_polling(allowed_updates=Update.ALL_TYPES)  # on the loop set above; closes it
    log.info("stopped")


def _migrate(settings: Settings) -> None:
    from bot.startup import prepare_database

    configure_logging(settings.log_level, None, settings.log_format)
    prepare_database(settings)
    log.info("database is up to date")


def _healthcheck(settings: Settings) -> int:
    """For container health checks: 0 if this machine's bot answers /healthz, else 1."""
    import urllib.request

    if not settings.health_port:
        print("error: HEALTH_PORT is 0, so there is nothing to check", file=sys.stderr)
        return 2
    host = "127.0.0.1" if settings.health_host in ("0.0.0.0", "") else settings.health_host  # noqa: S104
    url = f"http://{host}:{settings.health_port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=4) as response:
            return 0 if response.status == 200 else 1
    except OSError as exc:
        print(f"unhealthy: {url}: {type(exc).__name__}", file=sys.stderr)
        return 1


DEFAULT_CORPUS = "tests/corpus/free_text_en.yaml"


def _triage_eval(corpus: str, verbose: bool, language: str = "en") -> int:
    from pathlib import Path

    from bot.free_text import reader
    from bot.triage_eval import evaluate, format_report, load_corpus

    path = Path(corpus)
    if not path.is_file():
        print(f"error: no corpus at {corpus}", file=sys.stderr)
        return 2
    try:
        if language == "all":
            # As the bot reads: with every language's terms at once, and the safety net.
            from bot.free_text import Readers
            from bot.safety_net import with_safety_net
            from content.loader import default_catalog

            read: Any = with_safety_net(Readers(default_catalog().red_flag_sources))
        else:
            read = reader(language)
    except FileNotFoundError:
        print(f"error: no content/{language}/red_flag_terms.yaml", file=sys.stderr)
        return 2
    report = evaluate(read, load_corpus(path))
    print(format_report(report, verbose))
    return 0 if report.meets_targets else 1


def _train_safety_net() -> int:
    """Train the classifier under the reader on the labelled sets and write it to content/."""
    from pathlib import Path

    from bot import safety_net

    root = Path(__file__).parents[1]
    if not (root / "tests" / "corpus").is_dir():
        print("error: no tests/corpus here: run it in a checkout", file=sys.stderr)
        return 2
    items = safety_net.training_items(root / "tests" / "corpus")
    nlp = safety_net.train(items)
    safety_net.save(nlp, safety_net.digest(items), root / "content" / safety_net.MODEL_FILE)
    print(f"trained on {len(items)} messages; written to content/{safety_net.MODEL_FILE}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="A Telegram bot that helps people with MS keep track of their back pain.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = commands.add_parser(
        "run",
        help="apply migrations, then run the bot (long polling; a webhook if WEBHOOK_URL is set)",
    )
    run.add_argument(
        "--webhook", action="store_true", help="run with a webhook (needs WEBHOOK_URL)"
    )
    commands.add_parser("migrate", help="apply database migrations and exit")
    commands.add_parser(
        "demo", help="try the bot in this terminal: no token, no network, a temporary database"
    )
    commands.add_parser(
        "healthcheck", help="exit 0 if the bot on this machine answers /healthz (for containers)"
    )
    evaluation = commands.add_parser(
        "triage-eval",
        help="print sensitivity and false alarms of the free-text reader on a labelled corpus",
    )
    evaluation.add_argument("corpus", nargs="?", default=DEFAULT_CORPUS)
    evaluation.add_argument("-v", "--verbose", action="store_true", help="list every miss")
    evaluation.add_argument(
        "--language",
        default="en",
        help="the terms to read with: content/LANGUAGE (default en), or all (as the bot reads)",
    )
    commands.add_parser(
        "train-safety-net",
        help="train the classifier under the free-text reader on tests/corpus (a checkout only)",
    )
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if args.command == "triage-eval":
        return _triage_eval(args.corpus, args.verbose, args.language)
    if args.command == "train-safety-net":
        return _train_safety_net()
    if args.command == "demo":
        from bot import demo

        configure_logging("WARNING")
        return demo.main()
    try:
        settings = load_settings()
        if args.command == "healthcheck":
            return _healthcheck(settings)
        if args.command == "run":
            _run(settings, webhook=args.webhook)
        else:
            _migrate(settings)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
