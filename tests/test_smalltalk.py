"""Small talk is recognised from texts written for the purpose, never from the sample."""

import pytest

from themesift.smalltalk import SMALL_TALK_KINDS, is_small_talk, small_talk_reason

SMALL_TALK = {
    "greeting": ["Good morning, everyone, and thanks for coming in on your day off.",
                 "Hiya! Welcome, welcome.", "See you all next week.",
                 "Thanks for joining us this evening, everyone.", "Have a lovely weekend, all.",
                 "Same time next week?", "Hiya, sorry, how are you all?"],
    "logistics": ["Friday, everyone. Don't forget.",
                  "We've only got the room until two, then the pharmacy team have it.",
                  "The parking's round the back, by the toilets.",
                  # the meeting's own business: breaks, starting, joining, the chat, being late
                  "Let's take a five-minute break.", "Shall we get started?",
                  "I'll put the link in the chat.", "Sorry I'm late, the traffic was awful.",
                  "Could you repeat the question?", "Let's wait another minute for people to join.",
                  "Right, shall we make a start?", "We'll have a quick break after this one.",
                  "Is everyone back from the break?",
                  "I've popped the link in the chat for anyone who needs it.",
                  "Sorry we're late, the bus was cancelled.",
                  "We're nearly out of time, so one last question.", "Let's wrap up there.",
                  "We've got ten minutes left.",
                  "Let's give it two more minutes, a few people are still joining.",
                  "Sorry, what was the question?", "Sorry, say that again?",
                  "There's a fire drill at eleven, just so you know.",
                  "We've got it till half past, tell him half past.", "Half past, mate!",
                  # consent, given as the moderator reads the form out
                  "Yes, I consent.", "I consent, yeah.", "Happy to take part.",
                  "Yes, happy to be recorded.", "We all consent.", "I agree to take part, yes."],
    "food and drink": ["The good biscuits.", "Is there any more tea in that pot? And milk?",
                       "Toast and bacon this morning.",
                       "Somebody's brought doughnuts. Chocolate ones.",
                       "Lovely, I'll grab a coffee.", "Anyone want a tea before we start?",
                       "I'll put the kettle on.", "Help yourselves to sandwiches, there's loads."],
    "weather": ["It's absolutely chucking it down out there.", "Lovely sunshine today.",
                "It's been raining all morning.", "Absolutely tipping it down out there."],
    "audio and video": ["Can you hear me? Hello?", "We can hear you. You're a bit quiet though.",
                        "I can hear you fine now. The dog might bark, sorry.",
                        "Sorry, you were on mute, go again.", "I think my camera's frozen.",
                        "Sorry, you froze for a second.", "Your connection is unstable.",
                        "I didn't catch that.", "You've frozen again, I think.",
                        "Sorry, I was on mute the whole time.",
                        "Could you speak up a bit? It's very faint.",
                        "My internet connection keeps dropping, sorry.",
                        "Can everyone see my screen?",
                        "Sorry, can you hear me now? My mic was playing up."],
    "recording": ["Is it recording? Is the red light on?",
                  "I'm the housing officer, for the recording. [laughs]",
                  "I'll stop the recording now.", "Can you stop the recording for a sec?",
                  "Are we still recording?", "Is that the red light? Are we recording?"],
    "back-channel": ["Mm, yeah, yeah, it is, isn't it.", "Oh, go on then."],
}

CONTENT = [
    # Consent as a topic of the care, not the study's procedure.
    "They never asked for my consent before the injection.",
    "Nobody gave me a consent form when they sectioned me.",
    "I wasn't happy to carry on with the depot, but nobody listened.",
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
    # A cue (the weather, a time, "froze", "on mute") next to an account: the rest of the unit
    # carries content, or it tells someone's own experience ("I felt", "for years").
    "The weather makes my depression worse.",
    "We had a cup of tea and she just listened.",
    "Good morning, how are you, that's all they ever ask.",
    "I just froze.",
    "I learned to speak up in ward rounds.",
    "Nobody ever asked me how are you, not once in two years.",
    "They wake you at 7am for meds, no choice.",
    "When I rang at 2am, somebody picked up and stayed on with me for an hour.",
    "By 3 o'clock on a Friday there is simply nobody to refer to.",
    "Don't forget he had been sectioned twice.",
    "He set off the fire alarm on the ward.",
    "Nobody listened to me, I felt on mute for years.",
    "I felt on mute.",
    "I rang the surgery at 9am like they said, and the GP had no letter, so I went home and "
    "waited another month.",  # 25 words
    "The rain and the cold make the rough sleepers' winter a nightmare.",
    "In the winter the dark mornings are when I struggle most.",
    "She froze when the police came through the door.",
    "I couldn't hear what the psychiatrist was saying, the meds made me so slow.",
    "Nobody can hear you scream in seclusion.",
    "You're very quiet in the groups, they write that in your notes.",
    "You're on mute in there, nobody listens to you.",
    "We have to wrap up his discharge plan before Friday.",
    "When I was breaking up with my partner I stopped taking my meds.",
    "They started recording everything I said in the assessment.",
    "The chat with my care coordinator on a Monday keeps me going.",
    "My sister is always late for visits, and I sit there waiting.",
    "I was late for my depot once and they threatened to recall me.",
    "The tea trolley is the only time anyone talks to you on that ward.",
    "Half past nine every night the meds come round, no matter what.",
    "He never got a letter, so the appointment on Tuesday was missed.",
    "The snow meant the crisis team couldn't get out to her for three days.",
    "Can you see how that would make a young mum give up?",
    "I can hear them talking about me through the wall.",
    "Don't forget to ask about their sleep, it's the first thing to go.",
    "By the afternoon she's exhausted from the voices.",
    "We used to get a coffee together after groups, that's how we got close.",
    "On a Sunday there's no staff, so I sit in my room all day.",
    "The weather was the least of it; I had nowhere to sleep.",
    "I didn't hear that he had died until a week later.",
    "Let's just say the link between the drugs and the voices was obvious.",
    "She needs a break from caring, she's exhausted.",
    "They said let's start you on clozapine and see.",
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
    assert small_talk_reason("Don't forget, Friday.") == "logistics: don't forget, friday"
    assert small_talk_reason("Shall we get started?") == "logistics: shall we get started"


def test_a_cue_counts_only_when_the_rest_of_the_unit_is_an_aside():
    # a cue that accounts use too needs to outnumber the content words beyond it
    assert small_talk_reason("The weather today!") == "weather: the weather"  # ties: first
    assert small_talk_reason("The weather gets to me in winter.") is None  # 1 cue, 2 beyond
    # a phrase said only to the meeting takes a unit with an aside beyond it, not more
    assert small_talk_reason("Sorry, can you hear me? The baby's asleep.") == (
        "audio and video: can you hear")
    assert small_talk_reason("Sorry, can you hear me? The baby's asleep and my partner's on "
                             "nights, so the house is quiet.") is None
    # negations that make a claim count as content; an account of one's own experience is
    # never small talk
    assert small_talk_reason("Friday, no choice.") is None
    assert small_talk_reason("I felt on mute.") is None and small_talk_reason("On mute.")


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
    # "yep" is a filler, as "yes" is: it made the reply one content word too many
    (["Can everyone hear me?", "Yep, loud and clear."], {1: "audio and video"}),
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
    # the same words are an account on their own ("I just froze." - at the panel) and a reply
    # in an audio check
    (["Can everyone hear me?", "I just froze."], {1: "audio and video"}),
    (["Shall we get started?", "Yep, ready."], {1: "logistics"}),
]

CONTENTFUL_SHORT = ["Trust takes months.", "The council sets the goals.",
                    "Urine tests every week, no trust.", "Paranoia makes the visits hard.",
                    "I felt so alone.", "Nobody ever came, never."]


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


def test_the_end_of_a_point_is_no_reply_to_the_small_talk_after_it():
    talk = ["They were telling you something really important.",
            "So I'd just want people to listen. That's it, really.",  # the same turn goes on
            "Lovely, thanks everyone, we'll stop the recording there."]
    assert small_talk_reasons(talk, turns=[7, 7, 8])[1] is None
    assert small_talk_reasons(talk)[1] == f"{IN_EXCHANGE}: recording"  # each its own turn
    # Going on from small talk in the same turn, it is small talk still.
    talk = ["Sorry, my camera's frozen again.", "Typical Manchester.", "Anyway."]
    assert small_talk_reasons(talk, turns=[1, 1, 2])[1] == f"{IN_EXCHANGE}: audio and video"


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


@pytest.mark.parametrize("text", [
    "Я работаю медсестрой уже десять лет, и это очень тяжело.",
    "我等了四个小时才看到医生，太久了。",
    "لم يستمع إلي أحد في المستشفى.",
])
def test_words_in_another_script_are_not_read_as_a_back_channel(text):
    assert small_talk_reason(text) is None


# --- the study's own words ---------------------------------------------------------------------


def test_words_the_framework_uses_name_the_work_and_are_no_cues():
    from themesift.model import Framework, Theme
    from themesift.smalltalk import topic_words

    diabetes = Framework("diabetes", "1", "Living with diabetes.", (
        Theme("access", "Access", "Getting to the clinic: buses, parking and booking.",
              indicators=("no parking near the clinic",)),
        Theme("diet", "Diet", "Food and blood sugar.",
              examples=("Toast for breakfast spikes my sugar.",)),
    ))
    topic = topic_words(diabetes)
    assert {"parking", "booking", "sugar", "toast", "breakfast"} <= topic
    assert "food" not in topic  # not a small-talk word: nothing to take back
    for text in ("Oh, the parking.", "My sugar was fourteen this morning."):
        assert is_small_talk(text)  # in a study that does not name them
        assert not is_small_talk(text, topic)
    assert is_small_talk("Can everyone hear me? You're a bit quiet.", topic)
    assert small_talk_reasons(["Oh, the parking.", "Nightmare, yeah."], topic=topic) == [None, None]
    assert topic_words(None) == frozenset()


def test_segment_reads_the_frameworks_words_as_the_works(tmp_path):
    import themesift as ts
    from themesift.model import Framework, Theme

    path = tmp_path / "fg.txt"
    path.write_text("Moderator: What gets in the way of coming to clinic?\n\n"
                    "P1: Oh, the parking.\n\nP2: The buses only come every hour, and the "
                    "clinic moves your appointment without telling you.\n", encoding="utf-8")
    access = Framework("access", "1", "Access to care.", (
        Theme("access", "Access", "Getting to the clinic: buses and parking."),
        Theme("staff", "Staff", "How staff treat patients."),
    ))
    corpus = ts.read_corpus(path)
    assert ts.segment(corpus)["small_talk"].tolist() == [True, False]
    assert ts.segment(corpus, framework=access)["small_talk"].tolist() == [False, False]
