"""Telegram adapters: decode an update, call one service, render the reply."""
