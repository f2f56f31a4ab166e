"""/start, consent, time zone, /help and group chats, through the real Application."""

from __future__ import annotations

from sqlalchemy import func, select

from db.models import CheckIn, User
from tests.harness import Harness, Person, text_update

NOBODY_READS = (
    "No doctor or nurse reads this chat, and your MS team is not told what you write here."
)
PROFILE_QUESTIONS = (
    "MS treatment that lowers your defences against infection",
    "Could your bones be thinner than usual",
    "Have you ever had cancer",
)


async def count(bot: Harness, model: type) -> int:
    async with bot.services.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_start_explains_and_asks_for_consent(bot: Harness, pat: Person) -> None:
    await bot.send(pat, "/start")
    screen = bot.screen(pat)
    assert "not a doctor" in screen.text
    assert "emergency number" in screen.text
    assert NOBODY_READS in screen.text
    assert screen.labels() == ["Yes, that's OK", "Not now"]


async def test_nothing_is_stored_before_consent(bot: Harness, pat: Person) -> None:
    await bot.send(pat, "/start")
    await bot.send(pat, "/checkin")
    assert "need your OK" in bot.screen(pat).text
    assert await count(bot, CheckIn) == 0


async def test_declining_keeps_nothing(bot: Harness, pat: Person) -> None:
    await bot.send(pat, "/start")
    await bot.press(pat, "Not now")
    assert "not stored" in bot.screen(pat).text
    assert await count(bot, User) == 0


async def test_consent_then_time_zone_from_the_list(bot: Harness, pat: Person) -> None:
    await bot.send(pat, "/start")
    await bot.press(pat, "Yes, that's OK")
    assert "where do you live?" in bot.screen(pat).text
    await bot.press(pat, "Berlin")
    # 09:00 UTC on 2 March is 10:00 in Berlin.
    assert "Europe/Berlin" in bot.recent(pat)
    assert "10:00" in bot.recent(pat)
    # Then three profile questions, one at a time, each with Yes / No / Not sure.
    for question, answer in zip(PROFILE_QUESTIONS, ("Yes", "No", "Not sure"), strict=True):
        screen = bot.screen(pat)
        assert question in screen.text
        assert screen.labels() == ["Yes", "No", "Not sure"]
        await bot.press(pat, answer)
    assert "reminder each day" in bot.screen(pat).text
    async with bot.services.sessions() as session:
        user = await session.scalar(select(User).where(User.telegram_id == pat.user_id))
    assert user is not None and user.consent_at is not None
    assert user.timezone == "Europe/Berlin"
    assert user.language == "en"
    assert (user.immunosuppressed, user.bone_risk, user.cancer_history) == (True, False, None)
    assert user.profile_at is not None


async def test_the_profile_is_asked_only_once(bot: Harness, pat: Person) -> None:
    await bot.send(pat, "/start")
    await bot.press(pat, "Yes, that's OK", "Berlin", "No", "No", "No", "Not now")
    await bot.send(pat, "/timezone")
    await bot.press(pat, "London")
    assert "Europe/London" in bot.recent(pat)
    texts = bot.api.texts_sent(pat.chat_id)
    for question in PROFILE_QUESTIONS:
        assert sum(question in t for t in texts) == 1, question
    assert "reminder each day" in bot.screen(pat).text  # still no reminder: offered again


async def test_time_zone_typed_and_a_wrong_one_gets_a_clear_reply(
    bot: Harness, pat: Person
) -> None:
    await bot.send(pat, "/start")
    await bot.press(pat, "Yes, that's OK", "Other (type it)")
    await bot.send(pat, "Mars/Olympus")
    assert "don't know the place" in bot.screen(pat).text
    await bot.send(pat, "america/new_york")
    assert "America/New_York" in bot.recent(pat)
    assert "04:00" in bot.recent(pat)


async def test_help_lists_the_commands_that_fit(bot: Harness, pat: Person) -> None:
    await bot.send(pat, "/help")  # before /start: how to begin, nothing that needs consent
    text = bot.screen(pat).text
    assert "/start" in text and "/privacy" in text and "/checkin" not in text
    assert "No doctor or nurse reads this chat" in text and "emergency number" in text
    from tests.test_checkin_flow import onboard

    await onboard(bot, pat)
    await bot.send(pat, "/help")
    text = bot.screen(pat).text
    for command in ("/checkin", "/history", "/settings", "/caregivers", "/patients", "/help"):
        assert command in text
    assert NOBODY_READS in text and "emergency number" in text


async def test_group_chat_gets_a_private_only_notice_and_nothing_is_stored(
    bot: Harness, pat: Person
) -> None:
    group = {"id": -100500, "type": "group", "title": "Family"}
    await bot.process(text_update(pat, "/start", chat=group))
    await bot.process(text_update(pat, "/checkin", chat=group))
    texts = bot.api.texts_sent(-100500)
    assert len(texts) == 2 and all("private chat" in t for t in texts)
    assert await count(bot, User) == 0


async def test_command_menu_is_set_at_start_and_a_failure_does_not_stop_the_bot(
    bot: Harness,
) -> None:
    assert bot.app.post_init is not None
    await bot.app.post_init(bot.app)
    menus = {c.params.get("language_code"): c.params for c in bot.api.calls_of("setMyCommands")}
    assert set(menus) == {None, "de"}  # English is the default for every other language
    for params in menus.values():
        assert params["scope"] == {"type": "all_private_chats"}
        assert [c["command"] for c in params["commands"]] == [
            "checkin", "history", "settings", "caregivers", "patients", "export", "delete",
            "privacy", "timezone", "cancel", "help",
        ]  # fmt: skip
    assert menus["de"]["commands"][0]["description"] != menus[None]["commands"][0]["description"]
    bot.api.fail("setMyCommands", 400, "Bad Request: something is off")
    await bot.app.post_init(bot.app)  # logs a warning, raises nothing
