"""Caregivers: invites, access that a security reviewer would sign, audited views, alerts."""

from __future__ import annotations

import re

from sqlalchemy import select, text

from db.models import CaregiverInvite, CaregiverLink, CaregiverView, User
from handlers.caregivers import _send_each
from handlers.context import Context
from tests.botapi import BOT_USERNAME
from tests.harness import Harness, Person
from tests.test_checkin_flow import onboard

INVITE = re.compile(rf"https://t\.me/{BOT_USERNAME}\?start=([A-Za-z0-9_-]+)")


async def invite(bot: Harness, patient: Person) -> str:
    await bot.send(patient, "/caregivers")
    await bot.press(patient, "➕ Invite someone")
    match = INVITE.search(bot.screen(patient).text)
    assert match, bot.screen(patient).text
    return match.group(1)


async def link(bot: Harness, patient: Person, caregiver: Person) -> None:
    token = await invite(bot, patient)
    await bot.send(caregiver, f"/start {token}")
    await bot.press(caregiver, "Accept")


async def red_flag(bot: Harness, patient: Person) -> None:
    await bot.send(patient, "/checkin")
    await bot.press(patient, "8", "Yes")


def alerts_to(bot: Harness, person: Person) -> list[str]:
    return [t for t in bot.api.texts_sent(person.chat_id) if "warning sign" in t]


async def test_invite_accept_view_and_remove(bot: Harness, pat: Person, sam: Person) -> None:
    await onboard(bot, pat)
    token = await invite(bot, pat)
    assert len(token) >= 22  # 16 random bytes, URL-safe
    async with bot.services.sessions() as session:
        stored = (await session.scalars(select(CaregiverInvite.token_hash))).all()
        dump = str((await session.execute(text("SELECT * FROM caregiver_invites"))).all())
    assert token not in dump and len(stored) == 1 and len(stored[0]) == 64

    await bot.send(sam, f"/start {token}")
    preview = bot.screen(sam).text
    assert "Pat invites you" in preview and "pain, where, symptoms" in preview
    await bot.press(sam, "Accept")
    assert "You now follow Pat" in bot.screen(sam).text
    assert "Sam accepted your invite" in bot.screen(pat).text

    await bot.send(pat, "/caregivers")
    assert "• Sam" in bot.screen(pat).text
    assert "Remove Sam" in bot.screen(pat).labels()

    await bot.send(sam, "/patients")
    await bot.press(sam, "Pat")
    history = [m.text for m in bot.api.chat(sam.chat_id) if "Pat: the last 7 days" in m.text]
    assert history
    assert any(m.photo for m in bot.api.chat(sam.chat_id))
    await bot.send(pat, "/caregivers")
    assert "Sam looked at your history" in bot.screen(pat).text
    async with bot.services.sessions() as session:
        views = (await session.scalars(select(CaregiverView))).all()
    assert [(v.kind, v.days) for v in views] == [("history", 7)]

    old_patients_message = bot.message_with(sam, "Pat")
    await bot.press(pat, "Remove Sam")
    assert "• Sam (since" not in bot.screen(pat).text
    assert "Remove Sam" not in bot.screen(pat).labels()
    await bot.send(sam, "/patients")
    assert "don't follow anyone" in bot.screen(sam).text
    # The old button still in Sam's chat gets nothing now.
    photos_before = sum(1 for m in bot.api.chat(sam.chat_id) if m.photo)
    await bot.tap(sam, old_patients_message.buttons()[0]["callback_data"], old_patients_message)
    assert "not shared with you" in bot.api.calls_of("answerCallbackQuery")[-1].params["text"]
    assert sum(1 for m in bot.api.chat(sam.chat_id) if m.photo) == photos_before


async def test_reused_expired_made_up_and_own_tokens_are_refused(
    bot: Harness, pat: Person, sam: Person
) -> None:
    await onboard(bot, pat)
    carol = Person(3003, "Carol")
    token = await invite(bot, pat)
    await bot.send(sam, f"/start {token}")
    await bot.press(sam, "Accept")
    await bot.send(carol, f"/start {token}")
    assert "already been used" in bot.screen(carol).text

    expiring = await invite(bot, pat)
    bot.clock.advance(hours=25)
    await bot.send(carol, f"/start {expiring}")
    assert "expired" in bot.screen(carol).text

    await bot.send(carol, "/start AAAAAAAAAAAAAAAAAAAAAA")
    assert "not valid" in bot.screen(carol).text

    own = await invite(bot, pat)
    await bot.send(pat, f"/start {own}")
    assert "your own invite link" in bot.screen(pat).text
    async with bot.services.sessions() as session:
        links = (await session.scalars(select(CaregiverLink))).all()
    assert len(links) == 1


async def test_accept_only_works_for_the_person_who_opened_the_link(
    bot: Harness, pat: Person, sam: Person
) -> None:
    await onboard(bot, pat)
    carol = Person(3003, "Carol")
    token = await invite(bot, pat)
    await bot.send(sam, f"/start {token}")
    sams_preview = bot.screen(sam)
    # Carol forges Sam's Accept button without having opened the link.
    await bot.tap(carol, sams_preview.buttons()[0]["callback_data"], sams_preview)
    assert "not valid" in bot.api.calls_of("editMessageText")[-1].params["text"]
    async with bot.services.sessions() as session:
        assert (await session.scalars(select(CaregiverLink))).all() == []


async def test_forged_callbacks_get_nothing(bot: Harness, pat: Person, sam: Person) -> None:
    await onboard(bot, pat)
    await onboard(bot, sam)
    carol = Person(3003, "Carol")
    await link(bot, pat, carol)
    async with bot.services.sessions() as session:
        sam_id = await session.scalar(select(User.id).where(User.telegram_id == sam.user_id))
        link_id = await session.scalar(select(CaregiverLink.id))
    # Carol asks for Sam's history, whom she does not follow.
    message = bot.screen(carol)
    await bot.tap(carol, f"h:{sam_id}:7", message)
    assert "not shared with you" in bot.api.calls_of("answerCallbackQuery")[-1].params["text"]
    # Sam tries to remove the link between Pat and Carol.
    await bot.send(sam, "/caregivers")
    await bot.tap(sam, f"g:rm:{link_id}", bot.screen(sam))
    async with bot.services.sessions() as session:
        still = await session.get(CaregiverLink, link_id)
    assert still is not None and still.revoked_at is None
    async with bot.services.sessions() as session:
        views = (await session.scalars(select(CaregiverView))).all()
    assert views == []


async def test_red_flag_reaches_every_caregiver_even_if_one_blocked_the_bot(
    bot: Harness, pat: Person, sam: Person
) -> None:
    await onboard(bot, pat)
    carol = Person(3003, "Carol")
    await link(bot, pat, sam)
    await link(bot, pat, carol)
    bot.api.blocked_chats.add(sam.chat_id)
    await red_flag(bot, pat)
    [alert] = alerts_to(bot, carol)
    assert "Pat reported a warning sign: severe back pain after a fall or injury" in alert
    assert "urgent medical care now (call 112)" in alert
    assert alerts_to(bot, sam) == []
    # The patient got their advice first, and the check-in went on.
    assert "Where is the pain?" in bot.screen(pat).text
    # Carol can see it in the history, though the check-in is not finished.
    await bot.send(carol, "/patients")
    await bot.press(carol, "Pat")
    [history] = [m.text for m in bot.api.chat(carol.chat_id) if "Pat: the last 7 days" in m.text]
    assert "Mon 2 Mar: pain 8 · not finished 🚨" in history


async def test_removed_caregiver_gets_no_alert_even_one_already_queued(
    bot: Harness, pat: Person, sam: Person
) -> None:
    await onboard(bot, pat)
    await link(bot, pat, sam)
    name, queued = await bot.services.caregivers.recipients(pat.user_id, "red")
    assert name == "Pat" and len(queued) == 1
    await bot.send(pat, "/caregivers")
    await bot.press(pat, "Remove Sam")
    sent = await _send_each(Context(bot.app), queued, {"en": "alert"})  # type: ignore[arg-type]
    assert sent == 0
    await red_flag(bot, pat)
    assert alerts_to(bot, sam) == []


async def test_amber_alerts_only_when_the_patient_chose_them(
    bot: Harness, pat: Person, sam: Person
) -> None:
    await onboard(bot, pat)
    await link(bot, pat, sam)

    async def amber_checkin() -> None:
        await bot.send(pat, "/checkin")
        await bot.press(pat, "2", "Lower back", "Done ▶", "Burning", "Done ▶")
        await bot.press(pat, "Bladder or bowel changes", "Done ▶", "Not sure", "No")

    await amber_checkin()
    assert not [t for t in bot.api.texts_sent(sam.chat_id) if "ℹ️ Pat" in t]
    await bot.send(pat, "/caregivers")
    await bot.press(pat, "ℹ️ Other advice: off")
    assert "ℹ️ Other advice: on" in bot.screen(pat).labels()
    await amber_checkin()
    [alert] = [t for t in bot.api.texts_sent(sam.chat_id) if "ℹ️ Pat" in t]
    assert "unsure about a warning-sign question" in alert and "MS team" in alert


async def test_red_alerts_can_be_turned_off(bot: Harness, pat: Person, sam: Person) -> None:
    await onboard(bot, pat)
    await link(bot, pat, sam)
    await bot.send(pat, "/caregivers")
    await bot.press(pat, "🚨 Urgent alerts: on")
    await red_flag(bot, pat)
    assert alerts_to(bot, sam) == []


async def test_missed_checkin_alert_after_n_days_once(
    bot: Harness, pat: Person, sam: Person
) -> None:
    await onboard(bot, pat)
    await link(bot, pat, sam)
    await bot.send(pat, "/caregivers")
    await bot.press(pat, "⏰ Missed check-in alert: off")
    assert "⏰ Alert after 2 days without a check-in" in bot.screen(pat).labels()
    from handlers.caregivers import digests

    bot.clock.advance(days=1)
    await bot.send(pat, "/checkin")  # the quiet spell counts from the last check-in
    await bot.press(pat, "0", "None of these")
    bot.clock.advance(days=1)
    await digests(Context(bot.app))  # type: ignore[arg-type]
    assert not [t for t in bot.api.texts_sent(sam.chat_id) if "has not done" in t]
    bot.clock.advance(days=1, minutes=1)
    await digests(Context(bot.app))  # type: ignore[arg-type]
    await digests(Context(bot.app))  # type: ignore[arg-type]
    missed = [t for t in bot.api.texts_sent(sam.chat_id) if "has not done a check-in" in t]
    assert missed == [
        "⏰ Pat has not done a check-in for 2 days. You may want to check in with them."
    ]


async def test_weekly_summary_is_sent_and_recorded(bot: Harness, pat: Person, sam: Person) -> None:
    await onboard(bot, pat)
    await link(bot, pat, sam)
    await bot.send(pat, "/caregivers")
    await bot.press(pat, "🗓 Weekly summary: off")
    from handlers.caregivers import digests

    bot.clock.advance(days=2)
    await bot.send(pat, "/checkin")
    await bot.press(pat, "3", "Lower back", "Done ▶", "Burning", "Done ▶", "None of these")
    bot.clock.advance(days=4)
    await digests(Context(bot.app))  # type: ignore[arg-type]
    assert not [t for t in bot.api.texts_sent(sam.chat_id) if "the last 7 days" in t]
    bot.clock.advance(days=1)
    await digests(Context(bot.app))  # type: ignore[arg-type]
    await digests(Context(bot.app))  # type: ignore[arg-type]
    summaries = [t for t in bot.api.texts_sent(sam.chat_id) if "Pat: the last 7 days" in t]
    assert len(summaries) == 1 and "pain 3" in summaries[0]
    await bot.send(pat, "/caregivers")
    assert "Sam got the weekly summary" in bot.screen(pat).text


async def test_one_person_can_be_patient_and_caregiver(
    bot: Harness, pat: Person, sam: Person
) -> None:
    await onboard(bot, pat)
    await onboard(bot, sam)
    await link(bot, pat, sam)
    await link(bot, sam, pat)
    await bot.send(pat, "/patients")
    assert bot.screen(pat).labels() == ["Sam"]
    await bot.send(sam, "/patients")
    assert bot.screen(sam).labels() == ["Pat"]


async def test_the_patient_sees_the_next_question_before_caregivers_are_alerted(
    bot: Harness, pat: Person, sam: Person
) -> None:
    await onboard(bot, pat)
    await link(bot, pat, sam)
    await red_flag(bot, pat)
    sent = [c for c in bot.api.calls if c.method == "sendMessage" and c.ok]
    order = [
        "advice" if "🚨 Please get urgent" in c.params["text"]
        else "question" if "Where is the pain?" in c.params["text"]
        else "alert" if "warning sign" in c.params["text"]
        else "other"
        for c in sent
    ]  # fmt: skip
    relevant = [o for o in order if o != "other"]
    assert relevant == ["advice", "question", "alert"]
