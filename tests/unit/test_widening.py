"""How wide ``auto`` runs parts: as wide as each added part adds throughput."""

from __future__ import annotations

from nrpfiles._widening import Widening


def widths(rates_by_width: dict[int, float], maximum: int = 4) -> list[int]:
    """The widths a transfer runs its waves at, given the throughput each width gives."""
    widening = Widening(maximum)
    seen = []
    while not widening.settled:
        seen.append(widening.width)
        widening.measured(int(rates_by_width[widening.width]), 1.0)
    return [*seen, widening.width]


def test_a_link_that_one_stream_fills_stays_at_one_part() -> None:
    assert widths({1: 100.0, 2: 95.0}) == [1, 2, 1]


def test_parts_are_added_while_each_adds_a_tenth() -> None:
    assert widths({1: 100.0, 2: 180.0, 3: 190.0}) == [1, 2, 3, 2]


def test_no_more_parts_than_the_maximum() -> None:
    assert widths({1: 100.0, 2: 200.0, 3: 300.0, 4: 400.0}) == [1, 2, 3, 4, 4]


def test_a_maximum_of_one_is_settled_from_the_start() -> None:
    widening = Widening(1)
    assert widening.settled and widening.width == 1


def test_short_waves_are_judged_together_not_one_by_one() -> None:
    widening = Widening(4)
    # A fast link: 10 ms waves at one part, then at two parts a first wave that looks
    # twice as fast by chance and slower ones after it.
    for _ in range(20):
        widening.measured(16 << 20, 0.01)
    assert widening.width == 2 and not widening.settled
    widening.measured(32 << 20, 0.01)
    waves = 1
    while not widening.settled:
        widening.measured(32 << 20, 0.021)
        waves += 1
    assert waves == 11  # a fifth of a second at two parts (0.01 + 10 * 0.021)
    assert widening.width == 1


def test_once_settled_at_one_part_the_jobs_left_are_replaced_in_turn(monkeypatch) -> None:
    import nrpfiles._widening
    from nrpfiles._sync.waves import in_waves

    monkeypatch.setattr(nrpfiles._widening, "MIN_MEASURED_SECONDS", 0.0)
    monkeypatch.setattr(nrpfiles._widening, "GAIN", 1e9)  # a second part never pays
    ran: list[str] = []
    jobs = [lambda name=f"part {i}": ran.append(name) for i in range(10)]
    asked: list[int] = []

    def in_turn(done: int) -> list:
        asked.append(done)
        return [lambda: ran.append(f"parts {done}-9 as one")]

    in_waves(jobs, lambda wave: 1, Widening(4), in_turn=in_turn)
    # a wave of two at one part, one of four at two parts, then the rest as one
    assert asked == [6]
    assert sorted(ran[:6]) == [f"part {i}" for i in range(6)]
    assert ran[6:] == ["parts 6-9 as one"]


def test_a_transfer_settled_from_the_start_runs_its_jobs_as_given() -> None:
    from nrpfiles._sync.waves import in_waves

    ran: list[int] = []
    jobs = [lambda i=i: ran.append(i) for i in range(5)]
    in_waves(jobs, lambda wave: 1, Widening(1), in_turn=lambda done: [])
    assert ran == [0, 1, 2, 3, 4]  # the first may go on with a response already open
