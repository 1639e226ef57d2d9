"""Review: a room's answer on an event read with `attendeesOmitted` (writer.answer_fields):
the room absent from the list shown, attendees that are not a list, the room's address in
another case, an event read whole."""

from __future__ import annotations

from calsync.providers.google.writer import answer_fields

ROOM = "room-1@resource.calendar.google.com"


def test_review10_the_room_absent_from_the_list_shown_is_sent_alone():
    event = {"attendeesOmitted": True, "attendees": [{"email": "a@example.com"}]}
    assert answer_fields(event, ROOM, "ACCEPTED") == {
        "attendeesOmitted": True,
        "attendees": [{"email": ROOM, "resource": True, "responseStatus": "accepted"}],
    }


def test_review10_attendees_that_are_not_a_list_send_the_room_alone():
    for given in (None, "x", {"email": ROOM}, 3):
        event = {"attendeesOmitted": True, "attendees": given}
        fields = answer_fields(event, ROOM, "DECLINED")
        assert fields["attendeesOmitted"] is True
        assert [a["email"] for a in fields["attendees"]] == [ROOM]
        assert fields["attendees"][0]["responseStatus"] == "declined"


def test_review10_the_room_shown_in_another_case_keeps_its_entry():
    shown = {"email": ROOM.upper(), "resource": True, "responseStatus": "needsAction",
             "self": True}  # fmt: skip
    event = {"attendeesOmitted": True, "attendees": [{"email": "a@example.com"}, shown]}
    fields = answer_fields(event, ROOM, "TENTATIVE")
    assert fields["attendees"] == [{**shown, "responseStatus": "tentative"}]
    assert event["attendees"][1]["responseStatus"] == "needsAction"  # not changed in place


def test_review10_an_event_read_whole_sends_every_guest():
    event = {"attendees": [{"email": "a@example.com"}, {"email": ROOM}]}
    fields = answer_fields(event, ROOM, "ACCEPTED")
    assert "attendeesOmitted" not in fields
    assert [a["email"] for a in fields["attendees"]] == ["a@example.com", ROOM]


def test_review10_attendees_omitted_as_a_string_is_not_taken_for_true():
    """Only JSON true says the list was cut short; anything else is a whole list."""
    event = {"attendeesOmitted": "true", "attendees": [{"email": "a@example.com"}]}
    assert "attendeesOmitted" not in answer_fields(event, ROOM, "ACCEPTED")
