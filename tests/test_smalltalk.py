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
