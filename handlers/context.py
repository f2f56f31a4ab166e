"""The typed callback context: how handlers reach the services, without globals."""

from __future__ import annotations

from typing import Any, cast

from telegram.ext import CallbackContext, ExtBot

from bot.services import Services


class Context(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[str, Any]]):
    @property
    def services(self) -> Services:
        return cast(Services, self.bot_data["services"])
