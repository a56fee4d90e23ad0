"""Small talk is recognised from texts written for the purpose, never from the sample."""

import pytest

from themesift.smalltalk import SMALL_TALK_KINDS, is_small_talk, small_talk_reason

SMALL_TALK = {
    "greeting": ["Good morning, everyone, and thanks for coming in on your day off.",
                 "Hiya! Welcome, welcome."],
    "logistics": ["Friday, everyone. Don't forget.",
                  "We've only got the room until two, then the pharmacy team have it.",
                  "The parking's round the back, by the toilets."],
    "food and drink": ["The good biscuits.", "Is there any more tea in that pot? And milk?",
                       "Toast and bacon this morning.",
                       "Somebody's brought doughnuts. Chocolate ones."],
    "weather": ["It's absolutely chucking it down out there.", "Lovely sunshine today."],
    "audio and video": ["Can you hear me? Hello?", "We can hear you. You're a bit quiet though.",
                        "I can hear you fine now. The dog might bark, sorry.",
                        "Sorry, you were on mute, go again.", "I think my camera's frozen."],
    "recording": ["Is it recording? Is the red light on?",
                  "I'm the housing officer, for the recording. [laughs]"],
    "back-channel": ["Mm, yeah, yeah, it is, isn't it.", "Oh, go on then."],
}

CONTENT = [
    # The small-talk words appear, but the unit is about the work.
    "We do nearly all home visits, and the first months with someone it's mostly drinking tea "
    "and not saying very much, just being there.",
    "She'd stopped eating and drinking, and he was back on the vodka by Friday.",
    "He's been very quiet lately, he won't open the door to the team.",
    "The room searches make them feel like criminals, honestly.",
    "She has three kids and she wants them back more than anything.",
    "I trust her key worker completely.",
    "The council wants the tenancy sorted by March or he loses the flat.",
    "We used to have reflective practice on a Wednesday, and that kept us going.",
    "Hearing voices all night, he couldn't sleep, so the meds went up again.",
    "He relapses every weekend when his benefits come in.",
    "She can hear voices all night, so she won't come out of her room.",
]


@pytest.mark.parametrize("kind,text", [(k, t) for k, texts in SMALL_TALK.items() for t in texts])
def test_small_talk_is_flagged_with_its_kind(kind, text):
    reason = small_talk_reason(text)
    assert reason is not None, text
    assert reason.split(":")[0] == kind
    assert kind in SMALL_TALK_KINDS


@pytest.mark.parametrize("text", CONTENT)
def test_talk_about_the_work_is_not_small_talk(text):
    assert small_talk_reason(text) is None
    assert not is_small_talk(text)


def test_long_units_are_never_small_talk():
    text = ("Tea, coffee, biscuits, cake, sandwiches, pizza, milk, sugar, mugs, cups, the "
            "kettle, the weather, the rain, the sunshine, the room on Friday, the parking, the "
            "toilets, the laptop, the slides, the microphone and the recording.")
    assert small_talk_reason(text) is None


def test_the_reason_names_the_words_that_gave_it_away():
    assert small_talk_reason("The good biscuits.") == "food and drink: biscuits"
    assert small_talk_reason("Don't forget, Friday.") == "logistics: don't forget"


def test_a_group_of_short_asides():
    from themesift.smalltalk import content_words, is_aside

    assert content_words("Um, I think the council sets the goals. [laughs]") == [
        "council", "sets", "goals"]
    assert is_aside(["Not yet. Fingers crossed.", "Sorry, carry on.", "Ha, true, that."])
    assert is_aside(["That's fair. That's a fair challenge.", "Oh, lovely."])  # distinct words
    assert not is_aside(["Not yet. Fingers crossed.", *CONTENT[:2]])
    assert not is_aside(["Nobody asks about the staff's own wellbeing.",  # 3 content words
                         "We burn out and nobody notices it."])  # 2: a median of 2.5
    assert not is_aside([])


# --- small talk in context: exchanges written for the purpose -----------------------------------

from themesift.smalltalk import IN_EXCHANGE, small_talk_reasons  # noqa: E402

EXCHANGES = [
    # (the talk in order, which are small talk by context, with their kind)
    (["Can everyone hear me?", "Yes, loud and clear."], {1: "audio and video"}),
    (["Sorry, you're breaking up.", "It's the signal in this building."], {1: "audio and video"}),
    (["Somebody's brought doughnuts. Chocolate ones.", "Save me a pink one."],
     {1: "food and drink"}),
    (["It's absolutely chucking it down out there.", "Typical, isn't it? [laughs]"],
     {1: "weather"}),
    (["It's absolutely chucking it down out there.", "Typical Manchester. [laughs]"],
     {1: "weather"}),
    (["Hang on a second.", "I think my camera's frozen."], {0: "audio and video"}),
    (["Is it recording? Is the red light on?", "Smile, everyone.", "Don't make me famous."],
     {1: "recording"}),
]

CONTENTFUL_SHORT = ["Trust takes months.", "The council sets the goals.",
                    "Urine tests every week, no trust.", "Paranoia makes the visits hard."]


@pytest.mark.parametrize("talk,expected", EXCHANGES)
def test_a_short_reply_in_a_small_talk_exchange_is_small_talk(talk, expected):
    reasons = small_talk_reasons(talk)
    for i, kind in expected.items():
        assert small_talk_reason(talk[i]) is None  # not on its own
        assert reasons[i] == f"{IN_EXCHANGE}: {kind}", talk[i]
    for i, text in enumerate(talk):
        if i not in expected:
            assert reasons[i] == small_talk_reason(text)


@pytest.mark.parametrize("text", CONTENTFUL_SHORT)
def test_a_contentful_short_unit_next_to_small_talk_stays_content(text):
    for talk in (["Can you hear me? Hello?", text], [text, "The good biscuits."],
                 ["Hiya! Welcome, welcome.", text, "Lovely sunshine today."]):
        assert small_talk_reasons(talk)[talk.index(text)] is None


def test_a_long_unit_next_to_small_talk_stays_content():
    long_reply = ("Yes, and honestly that is what it is like for him every single time we go "
                  "round there.")  # few content words, but 17 words
    assert small_talk_reason(long_reply) is None
    assert small_talk_reasons(["Can everyone hear me?", long_reply])[1] is None


def test_the_context_does_not_spread_along_a_chain():
    talk = ["Can everyone hear me?", "Yes, loud and clear.", "Crystal clear, yes.",
            "Housing, mainly."]
    reasons = small_talk_reasons(talk)
    assert reasons[1] == f"{IN_EXCHANGE}: audio and video"
    assert reasons[2] is None and reasons[3] is None  # their neighbour is small talk by context


def test_the_first_and_the_last_unit_have_one_neighbour():
    assert small_talk_reasons(["Loud and clear.", "Can you hear me?"])[0] == (
        f"{IN_EXCHANGE}: audio and video")
    assert small_talk_reasons(["Can you hear me?", "Loud and clear."])[1] == (
        f"{IN_EXCHANGE}: audio and video")
    assert small_talk_reasons(["Loud and clear."]) == [None]
    assert small_talk_reasons([]) == []


def test_the_one_before_names_the_kind_where_both_neighbours_are_small_talk():
    talk = ["Can you hear me?", "Loud and clear.", "The good biscuits."]
    assert small_talk_reasons(talk)[1] == f"{IN_EXCHANGE}: audio and video"


def test_units_of_different_documents_are_not_neighbours():
    talk = ["Can you hear me?", "Loud and clear.", "Typical Manchester.", "Lovely sunshine today."]
    reasons = small_talk_reasons(talk, ["fg1", "fg2", "fg2", "fg3"])
    assert reasons[1] is None and reasons[2] is None
    assert small_talk_reasons(talk[:2], ["fg1", "fg1"])[1] == f"{IN_EXCHANGE}: audio and video"


def test_back_channels_neither_start_nor_break_an_exchange():
    assert small_talk_reason("Mm, yeah, yeah.") == "back-channel"
    assert small_talk_reasons(["Mm, yeah, yeah.", "Loud and clear."])[1] is None
    talk = ["Can you hear me?", "Mm, yeah, yeah.", "Oh, go on then.", "Loud and clear."]
    assert small_talk_reasons(talk)[3] == f"{IN_EXCHANGE}: audio and video"


def test_context_only_talk_is_read_but_never_flagged_by_its_context():
    talk = ["Can you hear me?", "Loud and clear."]
    assert small_talk_reasons(talk, units=[True, False]) == [
        "audio and video: can you hear", None]


def test_the_talk_and_its_documents_must_line_up():
    with pytest.raises(ValueError, match="got 2 texts, 1 documents"):
        small_talk_reasons(["Hello.", "Hi."], ["fg1"])


def test_the_reason_shown_for_a_flagged_unit():
    import pandas as pd

    from themesift.smalltalk import flagged_reasons

    units = pd.DataFrame({"doc_id": ["fg1"] * 4, "text": [
        "Can you hear me?", "Loud and clear.", "Typical Manchester.",
        "Trust takes months, you can't rush it with anyone on the team."]})
    assert flagged_reasons(units, [True, True, True, True]) == [
        "audio and video: can you hear", f"{IN_EXCHANGE}: audio and video",
        # next to small talk the table leaves out (a moderator's turn, read by segment)
        f"{IN_EXCHANGE}: next to small talk in the transcript",
        "flagged in the units table"]
    assert flagged_reasons(units, [False] * 4) == [""] * 4
