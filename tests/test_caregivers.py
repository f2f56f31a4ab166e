"""Caregivers: invites, access that a security reviewer would sign, audited views, alerts."""

from __future__ import annotations

import re

from sqlalchemy import select, text

from bot.findings import Code
from bot.triage import Facts, assess
from db.models import (
    CaregiverAlert,
    CaregiverInvite,
    CaregiverLink,
    CaregiverView,
    Escalation,
    User,
)
from handlers.context import Context
from handlers.escalations import alert_caregivers, outbox_job
from tests.botapi import BOT_USERNAME
from tests.harness import Harness, Person, find_button
from tests.test_checkin_flow import (
    BLADDER,
    CHEST,
    DONE,
    FALL,
    FEVER,
    advice_messages,
    checkins,
    escalations,
    onboard,
    up_to_warnings,
)

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


async def emergency(bot: Harness, patient: Person) -> None:
    """A check-in that ends in emergency advice: trouble with the bladder, ticked as new."""
    await up_to_warnings(bot, patient)
    await bot.press(patient, BLADDER, DONE)


def alerts_to(bot: Harness, person: Person) -> list[str]:
    """Alerts a caregiver received about someone they follow, of any tier."""
    return [
        t
        for t in bot.api.texts_sent(person.chat_id)
        if t.startswith(("🚨", "⚠️", "ℹ️")) and (" reported" in t or "'s check-in:" in t)
    ]


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

    await bot.send(pat, "/checkin")
    await bot.press(pat, "0", "None of these", "None of these")
    await bot.send(sam, "/patients")
    await bot.press(sam, "Pat")
    history = [m.text for m in bot.api.chat(sam.chat_id) if "Pat: the last 7 days" in m.text]
    assert history
    [chart] = [m for m in bot.api.chat(sam.chat_id) if m.photo]
    assert chart.text.startswith("Pat's chart")  # whose it is, on the chart itself too
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


async def test_emergency_reaches_every_caregiver_even_if_one_blocked_the_bot(
    bot: Harness, pat: Person, sam: Person
) -> None:
    await onboard(bot, pat)  # Berlin: 112
    carol = Person(3003, "Carol")
    await link(bot, pat, sam)
    await link(bot, pat, carol)
    bot.api.blocked_chats.add(sam.chat_id)
    await emergency(bot, pat)
    [alert] = alerts_to(bot, carol)
    assert alert == (
        "🚨 Pat reported a warning sign: new trouble holding or passing urine or stool.\n"
        "The bot told them to call 112 or go to the emergency department now. "
        "Please check on them now.\n"
        "Reported Mon 2 Mar, 10:00 (Pat's time)."  # Carol never gave a time zone
    )
    assert bot.screen(carol).labels() == ["📈 See Pat's last 7 days"]
    await bot.press(carol, "📈 See Pat's last 7 days")
    assert "Pat: the last 7 days" in bot.recent(carol, 3)
    assert alerts_to(bot, sam) == []
    # The patient got their advice; after an emergency nothing else is asked.
    [advice] = advice_messages(bot, pat)
    assert advice.startswith("<b>🚨 Please call 112 now")
    assert bot.api.texts_sent(pat.chat_id)[-1] == advice
    async with bot.services.sessions() as session:
        alerts = {a.link_id: a for a in (await session.scalars(select(CaregiverAlert))).all()}
        links = {
            link.caregiver_id: link.id
            for link in (await session.scalars(select(CaregiverLink))).all()
        }
        ids = dict((await session.execute(select(User.telegram_id, User.id))).all())
    sams, carols = alerts[links[ids[sam.user_id]]], alerts[links[ids[carol.user_id]]]
    assert carols.sent_at is not None
    assert sams.sent_at is None and sams.failed == "blocked" and sams.next_attempt_at is None
    # Carol can see it in the history, marked.
    await bot.send(carol, "/patients")
    await bot.press(carol, "Pat")
    from_alert, from_patients = [
        m.text for m in bot.api.chat(carol.chat_id) if "Pat: the last 7 days" in m.text
    ]
    assert from_alert == from_patients
    assert "Mon 2 Mar: pain 3 · Lower back · Tiredness (fatigue) 🚨" in from_patients


async def test_urgent_advice_mid_check_in_alerts_and_shows_in_history_unfinished(
    bot: Harness, pat: Person, sam: Person
) -> None:
    await onboard(bot, pat)
    await link(bot, pat, sam)
    await up_to_warnings(bot, pat, pain="4")
    await bot.press(pat, FEVER, CHEST, DONE)
    # Urgent advice for the fever, then the chest question; the patient goes no further.
    assert "tight band you know from MS" in bot.screen(pat).text
    [alert] = alerts_to(bot, sam)
    assert alert == (
        "⚠️ Pat reported: a fever, or feeling hot and shivery. The bot told them to get medical "
        "advice today. You may want to check on them.\nReported Mon 2 Mar, 10:00 (Pat's time)."
    )
    [checkin] = await checkins(bot)
    assert checkin.status == "open"
    # A warning is never hidden: the unfinished check-in is shown, marked.
    await bot.send(sam, "/patients")
    await bot.press(sam, "Pat")
    [history] = [m.text for m in bot.api.chat(sam.chat_id) if "Pat: the last 7 days" in m.text]
    assert "Mon 2 Mar: pain 4 · Lower back · Tiredness (fatigue) · not finished 🚨" in history


async def test_removed_caregiver_gets_no_alert_even_one_already_queued(
    bot: Harness, pat: Person, sam: Person
) -> None:
    await onboard(bot, pat)
    await link(bot, pat, sam)
    # An escalation stored in the outbox, its alert to Sam queued but not yet sent.
    async with bot.services.sessions.begin() as session:
        patient = await session.scalar(select(User).where(User.telegram_id == pat.user_id))
        assert patient is not None
        findings = frozenset({Code.BLADDER_BOWEL})
        advice = await bot.services.outbox.record(
            session, patient, None, assess(Facts(findings)), findings, 3
        )
    async with bot.services.sessions() as session:
        [queued] = (await session.scalars(select(CaregiverAlert))).all()
    assert queued.escalation_id == advice.escalation_id and queued.sent_at is None
    await bot.send(pat, "/caregivers")
    await bot.press(pat, "Remove Sam")
    assert await alert_caregivers(Context(bot.app), advice.escalation_id) == 0  # type: ignore[arg-type]
    bot.clock.advance(minutes=5)
    await outbox_job(Context(bot.app))  # type: ignore[arg-type]
    async with bot.services.sessions() as session:
        [queued] = (await session.scalars(select(CaregiverAlert))).all()
    assert queued.sent_at is None and queued.failed == "removed"
    assert queued.next_attempt_at is None
    # And a new emergency after the removal queues nothing for Sam.
    await emergency(bot, pat)
    assert alerts_to(bot, sam) == []
    async with bot.services.sessions() as session:
        assert len((await session.scalars(select(CaregiverAlert))).all()) == 1


async def test_other_advice_reaches_caregivers_only_when_the_patient_chose_it(
    bot: Harness, pat: Person, sam: Person
) -> None:
    await onboard(bot, pat)  # no bone risk: a fall with mild pain is "soon" advice
    await link(bot, pat, sam)

    async def soon_checkin() -> None:
        await up_to_warnings(bot, pat, pain="2")
        await bot.press(pat, FALL, DONE)
        assert advice_messages(bot, pat)[-1].startswith("<b>ℹ️")

    await soon_checkin()
    assert alerts_to(bot, sam) == []
    await bot.send(pat, "/caregivers")
    await bot.press(pat, "ℹ️ Other advice: off")
    assert "ℹ️ Other advice: on" in bot.screen(pat).labels()
    bot.clock.advance(days=1)
    await soon_checkin()
    [alert] = alerts_to(bot, sam)
    assert alert == (
        "ℹ️ Pat's check-in: a fall or an injury. The bot advised them to contact their MS team "
        "in the next day or two.\nReported Tue 3 Mar, 10:00 (Pat's time)."
    )
    assert [e.tier for e in await escalations(bot)] == ["soon", "soon"]


async def test_urgent_alerts_can_be_turned_off(bot: Harness, pat: Person, sam: Person) -> None:
    await onboard(bot, pat)
    await link(bot, pat, sam)
    await bot.send(pat, "/caregivers")
    await bot.press(pat, "🚨 Urgent alerts: on")
    assert "🚨 Urgent alerts: off" in bot.screen(pat).labels()
    await emergency(bot, pat)  # emergency advice
    bot.clock.advance(days=1)
    await up_to_warnings(bot, pat)
    await bot.press(pat, FEVER, DONE)  # urgent advice
    assert [e.tier for e in await escalations(bot)] == ["emergency", "urgent"]
    assert alerts_to(bot, sam) == []
    async with bot.services.sessions() as session:
        assert (await session.scalars(select(CaregiverAlert))).all() == []


async def test_other_advice_turned_on_does_not_cover_emergencies(
    bot: Harness, pat: Person, sam: Person
) -> None:
    await onboard(bot, pat)
    await link(bot, pat, sam)
    await bot.send(pat, "/caregivers")
    await bot.press(pat, "🚨 Urgent alerts: on", "ℹ️ Other advice: off")
    await emergency(bot, pat)
    assert alerts_to(bot, sam) == []
    async with bot.services.sessions() as session:
        tiers = (await session.scalars(select(Escalation.tier))).all()
    assert tiers == ["emergency"]


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
    await bot.press(pat, "0", "None of these", "None of these")
    assert "your check-in is saved" in bot.screen(pat).text
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
    await bot.press(pat, "3", "Lower back", DONE, "Burning", DONE, "None of these")
    await bot.press(pat, "None of these")  # the warning signs
    assert "your check-in is saved" in bot.screen(pat).text
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
    assert bot.screen(pat).labels() == ["Sam", "Stop following Sam"]
    await bot.send(sam, "/patients")
    assert bot.screen(sam).labels() == ["Pat", "Stop following Pat"]


async def test_the_patient_sees_the_next_question_before_caregivers_are_alerted(
    bot: Harness, pat: Person, sam: Person
) -> None:
    await onboard(bot, pat)
    await link(bot, pat, sam)
    await up_to_warnings(bot, pat)
    await bot.press(pat, FEVER, CHEST, DONE)  # urgent advice, then the chest question
    sent = [c for c in bot.api.calls if c.method == "sendMessage" and c.ok]
    order = [
        "advice" if c.params["text"].startswith("<b>⚠️ Please get medical advice today")
        else "question" if "tight band you know from MS" in c.params["text"]
        else "alert" if c.params["text"].startswith("⚠️ Pat reported")
        else "other"
        for c in sent
    ]  # fmt: skip
    relevant = [o for o in order if o != "other"]
    assert relevant == ["advice", "question", "alert"]


async def test_after_an_emergency_the_advice_comes_before_the_caregivers_alert(
    bot: Harness, pat: Person, sam: Person
) -> None:
    await onboard(bot, pat)
    await link(bot, pat, sam)
    await emergency(bot, pat)
    sent = [c.params["text"] for c in bot.api.calls if c.method == "sendMessage" and c.ok]
    advice = next(i for i, t in enumerate(sent) if t.startswith("<b>🚨"))
    alert = next(i for i, t in enumerate(sent) if t.startswith("🚨 Pat reported"))
    assert advice < alert
    assert all(not t.startswith(("<b>", "Where is", "What does")) for t in sent[advice + 1 :])


async def test_an_old_remove_button_does_not_remove_a_link_made_again_since(
    bot: Harness, pat: Person, sam: Person
) -> None:
    """Pat removes Sam, then invites Sam again. The Remove button on the older list was drawn
    for the first link: tapping it now removes no one and says so."""
    await onboard(bot, pat)
    await link(bot, pat, sam)
    await bot.send(pat, "/caregivers")
    old_list = bot.message_with(pat, "Remove Sam")
    old_remove = find_button(old_list, "Remove Sam")
    await bot.press(pat, "Remove Sam")
    bot.clock.advance(minutes=5)
    await link(bot, pat, sam)
    assert "You now follow Pat" in bot.screen(sam).text

    await bot.tap(pat, old_remove, old_list)
    answer = bot.api.calls_of("answerCallbackQuery")[-1].params
    assert "older list" in answer["text"] and "removed no one" in answer["text"]
    async with bot.services.sessions() as session:
        links = (await session.scalars(select(CaregiverLink))).all()
    assert [link_.revoked_at for link_ in links] == [None]
    await bot.send(sam, "/patients")
    assert "Pat" in bot.screen(sam).labels()

    # The button on the fresh list works.
    await bot.send(pat, "/caregivers")
    await bot.press(pat, "Remove Sam")
    async with bot.services.sessions() as session:
        links = (await session.scalars(select(CaregiverLink))).all()
    assert all(link_.revoked_at is not None for link_ in links)


async def test_a_caregiver_can_stop_following_and_the_patient_is_told_once(
    bot: Harness, pat: Person, sam: Person
) -> None:
    await onboard(bot, pat)
    await link(bot, pat, sam)
    await bot.send(sam, "/patients")
    assert bot.screen(sam).labels() == ["Pat", "Stop following Pat"]
    await bot.press(sam, "Stop following Pat")
    assert "Stop following Pat? You will no longer see their check-ins" in bot.screen(sam).text
    await bot.press(sam, "Keep following")  # changes nothing: the list again
    assert bot.screen(sam).labels() == ["Pat", "Stop following Pat"]
    await bot.press(sam, "Stop following Pat")
    confirm = bot.message_with(sam, "Yes, stop following")
    again = find_button(confirm, "Yes, stop following")
    await bot.press(sam, "Yes, stop following")
    assert bot.screen(sam).text == "You no longer follow Pat. You will not get their alerts."
    told = [t for t in bot.api.texts_sent(pat.chat_id) if "Sam stopped following" in t]
    assert len(told) == 1
    # The same tap again (a double tap, or Telegram delivering it twice): the same answer.
    await bot.tap(sam, again, confirm)
    assert bot.screen(sam).text == "You no longer follow Pat. You will not get their alerts."
    assert len([t for t in bot.api.texts_sent(pat.chat_id) if "Sam stopped following" in t]) == 1
    await emergency(bot, pat)
    assert alerts_to(bot, sam) == []
    await bot.send(sam, "/patients")
    assert "don't follow anyone" in bot.screen(sam).text


async def test_a_removed_caregiver_is_told_once(bot: Harness, pat: Person, sam: Person) -> None:
    await onboard(bot, pat)
    await link(bot, pat, sam)
    await bot.send(pat, "/caregivers")
    old = bot.message_with(pat, "Remove Sam")
    again = find_button(old, "Remove Sam")
    await bot.press(pat, "Remove Sam")
    told = "Pat stopped sharing their check-ins with you. You will not get their alerts any more."
    assert bot.api.texts_sent(sam.chat_id).count(told) == 1
    await bot.tap(pat, again, old)  # the same button again
    toast = bot.api.calls_of("answerCallbackQuery")[-1].params["text"]
    assert toast == "Sam can no longer see your check-ins."
    assert bot.api.texts_sent(sam.chat_id).count(told) == 1


async def test_a_deletion_is_told_to_the_other_side_and_a_second_tap_says_the_same(
    bot: Harness, pat: Person, sam: Person
) -> None:
    carol = Person(3003, "Carol")
    await onboard(bot, pat)
    await onboard(bot, carol)
    await link(bot, pat, sam)  # Sam follows Pat
    await link(bot, carol, pat)  # Pat follows Carol
    await bot.send(pat, "/delete")
    confirm = bot.message_with(pat, "Delete everything")
    again = find_button(confirm, "Delete everything")
    await bot.press(pat, "Delete everything")
    done = bot.screen(pat).text
    assert "Everything I kept about you is deleted" in done
    assert (
        "Pat deleted their data from this bot. You no longer follow them and will not get their "
        "alerts." in bot.api.texts_sent(sam.chat_id)
    )
    assert (
        "Pat deleted their data from this bot, so they no longer follow your check-ins."
        in bot.api.texts_sent(carol.chat_id)
    )
    await bot.tap(pat, again, confirm)
    assert bot.screen(pat).text == done
    await bot.send(sam, "/patients")
    assert "don't follow anyone" in bot.screen(sam).text


async def test_a_second_tap_on_accept_shows_the_same_result(
    bot: Harness, pat: Person, sam: Person
) -> None:
    await onboard(bot, pat)
    token = await invite(bot, pat)
    await bot.send(sam, f"/start {token}")
    preview = bot.message_with(sam, "Accept")
    again = find_button(preview, "Accept")
    await bot.press(sam, "Accept")
    assert "You now follow Pat" in bot.screen(sam).text
    await bot.tap(sam, again, preview)
    assert "You now follow Pat" in bot.screen(sam).text
    told = [t for t in bot.api.texts_sent(pat.chat_id) if "Sam accepted your invite" in t]
    assert len(told) == 1
