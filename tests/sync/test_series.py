"""Which room answers go once on their series and which go one by one (`by_series`);
the writes themselves are proven on Google's emulator
(tests/providers/google/test_series_answers.py)."""

from __future__ import annotations

from dataclasses import dataclass

from calsync.providers.base import Capabilities
from calsync.sync.series import by_series


@dataclass(frozen=True)
class _Answer:
    provider_id: str
    partstat: str
    version: str = '"1"'
    decided: bytes = b""


class _Instances:
    """A service listing each instance as an object of its own; an answer's payload here
    is the id of its series (empty: not an instance)."""

    capabilities = Capabilities(expands_instances=True, answers_series=True)

    def series_of(self, data: bytes) -> str | None:
        return data.decode() or None


class _Whole(_Instances):
    capabilities = Capabilities()


def _of(series: str, day: int, partstat: str = "ACCEPTED") -> _Answer:
    return _Answer(f"{series}_{day}", partstat, decided=series.encode())


def test_the_answers_to_instances_of_one_series_go_on_it_together():
    answers = [_of("s", 1), _of("t", 1), _of("s", 2), _of("s", 3)]
    [series], alone = by_series(_Instances(), answers)
    assert (series.series_id, series.partstat) == ("s", "ACCEPTED")
    assert [a.provider_id for a in series.answers] == ["s_1", "s_2", "s_3"]
    assert alone == [_of("t", 1)]


def test_an_instance_given_another_answer_than_most_is_answered_alone():
    answers = [_of("s", 1), _of("s", 2, "DECLINED"), _of("s", 3)]
    [series], alone = by_series(_Instances(), answers)
    assert [a.provider_id for a in series.answers] == ["s_1", "s_3"]
    assert alone == [_of("s", 2, "DECLINED")]


def test_most_declined_go_on_the_series_declined():
    answers = [_of("s", 1, "DECLINED"), _of("s", 2), _of("s", 3, "DECLINED")]
    [series], alone = by_series(_Instances(), answers)
    assert (series.partstat, len(series.answers)) == ("DECLINED", 2)
    assert alone == [_of("s", 2)]


def test_between_as_many_accepted_as_declined_the_series_is_accepted():
    answers = [_of("s", 1, "DECLINED"), _of("s", 2, "DECLINED"), _of("s", 3), _of("s", 4)]
    [series], alone = by_series(_Instances(), answers)
    assert series.partstat == "ACCEPTED"
    assert [a.partstat for a in alone] == ["DECLINED", "DECLINED"]


def test_a_series_of_one_answer_and_an_object_of_its_own_are_answered_alone():
    answers = [_of("s", 1), _of("t", 1, "DECLINED"), _of("t", 2), _of("", 1)]
    series, alone = by_series(_Instances(), answers)
    assert series == []
    assert sorted(alone, key=answers.index) == answers


def test_where_a_series_is_one_object_every_answer_is_its_own():
    answers = [_of("s", 1), _of("s", 2)]
    assert by_series(_Whole(), answers) == ([], answers)
